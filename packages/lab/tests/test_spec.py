"""The spec model: defaults, YAML round trip, and one-line errors naming file and key path."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tessera_lab.errors import SpecError
from tessera_lab.spec import Spec, load_spec, parse_spec

LICENSE = {"id": "MIT", "url": "https://opensource.org/licenses/MIT"}


def write(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def minimal(**fields: object) -> dict[str, object]:
    return {"dataset": "data/ds", "feature_families": ["knn"], "license": LICENSE, **fields}


def error_of(tmp_path: Path, data: object) -> str:
    path = write(tmp_path, yaml.safe_dump(data))
    with pytest.raises(SpecError) as info:
        load_spec(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message.removeprefix(f"{path}: ")


def test_defaults_and_relative_dataset(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, yaml.safe_dump(minimal())))
    assert spec.dataset == (tmp_path / "data" / "ds").resolve()
    assert spec.objective == "lambdarank"
    assert spec.num_threads == 1
    assert spec.protocol.cells == "pooled" and spec.protocol.snapshots == "all"
    assert spec.early_stopping is not None and spec.early_stopping.metric == "ndcg@10"
    assert spec.gate.metric == "ndcg@10" and spec.search is None


def test_yaml_round_trip_is_fully_resolved(tmp_path: Path) -> None:
    data = minimal(
        protocol={"cells": "per_category", "snapshots": ["a..b"]},
        search={
            "space": {
                "num_leaves": {"type": "int", "low": 4, "high": 64, "log": True},
                "learning_rate": {"type": "float", "low": 0.01, "high": 0.3},
                "boosting": {"type": "categorical", "choices": ["gbdt", "dart"]},
            },
            "n_trials": 3,
        },
    )
    spec = load_spec(write(tmp_path, yaml.safe_dump(data)))
    text = spec.to_yaml()
    again = load_spec(write(tmp_path, text, "again.yaml"))
    assert again == spec
    resolved = yaml.safe_load(text)
    assert set(resolved) == set(Spec.model_fields)  # every key written, defaults included
    assert resolved["dataset"] == str(spec.dataset)  # absolute once resolved


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (minimal(bogus=1), "bogus: unknown key 'bogus'"),
        (minimal(protocol={"cells": "pooled", "extra": 1}), "protocol.extra: unknown key 'extra'"),
        (
            minimal(early_stopping={"rounds": 0}),
            "early_stopping.rounds: Input should be greater than 0 (found 0)",
        ),
        (minimal(objective="regression"), "objective: Input should be 'binary' or 'lambdarank'"),
        ({"dataset": "x", "feature_families": ["knn"]}, "license: required key is missing"),
        (minimal(feature_families=["Bad-Name"]), "feature_families[0]: String should match"),
        (minimal(params={"seed": 3}), "params: parameter 'seed' is set by the lab"),
        (minimal(params={"num_iterations": 3}), "params: parameter 'num_iterations' is set by"),
        (minimal(license={"id": "MIT", "url": "ftp://x"}), "license.url: String should match"),
        (minimal(gate={"metric": "accuracy"}), "gate.metric: unknown gate metric 'accuracy'"),
        (
            minimal(search={"space": {"num_leaves": {"type": "int", "low": 9, "high": 2}}}),
            "search.space.num_leaves: low 9 must not exceed high 2",
        ),
        (
            minimal(
                search={
                    "space": {"learning_rate": {"type": "float", "low": 0, "high": 1, "log": True}}
                }
            ),
            "search.space.learning_rate: a log-scaled range needs low > 0",
        ),
        (
            minimal(
                early_stopping=None,
                search={"space": {"num_leaves": {"type": "int", "low": 2, "high": 9}}},
            ),
            "(top level): search needs early_stopping",
        ),
        (minimal(protocol={"snapshots": ["a", "a"]}), "protocol.snapshots: snapshot pairs must"),
        (["not", "a", "mapping"], "expected a YAML mapping at the top level"),
    ],
)
def test_errors_name_the_key_path(tmp_path: Path, data: object, expected: str) -> None:
    assert error_of(tmp_path, data).startswith(expected)


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "dataset: x\nfeature_families: [knn\nlicense: {}\n")
    with pytest.raises(SpecError, match=r"spec\.yaml: malformed YAML: line 3, column \d+: "):
        load_spec(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="cannot read spec"):
        load_spec(tmp_path / "absent.yaml")


def test_parse_spec_keeps_absolute_dataset(tmp_path: Path) -> None:
    spec = parse_spec(minimal(dataset=str(tmp_path / "abs")), "inline", Path("/elsewhere"))
    assert spec.dataset == tmp_path / "abs"


def test_the_documented_example_is_a_valid_spec() -> None:
    import tessera_lab.spec as module

    example = (module.__doc__ or "").split("Example::", 1)[1]
    text = "\n".join(line[4:] for line in example.splitlines())
    spec = parse_spec(yaml.safe_load(text), "example", Path("/data/specs"))
    assert spec.dataset == Path("/data/datasets/synth")
    assert spec.search is not None and spec.search.n_trials == 20


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            minimal(params={"bogus_param": 1}),
            "params: unknown LightGBM parameter 'bogus_param' (not a parameter or alias",
        ),
        (
            minimal(params={"num_leave": 8}),
            "params: unknown LightGBM parameter 'num_leave' (not a parameter or alias of "
            "LightGBM; did you mean 'num_leaves'",
        ),
        (
            minimal(params={"query_id": "q"}),  # an alias LightGBM knows, but the lab sets it
            "params: parameter 'query_id' is set by the lab",
        ),
        (
            minimal(
                search={"space": {"bogus_param": {"type": "int", "low": 1, "high": 2}}},
            ),
            "search.space: unknown LightGBM parameter 'bogus_param'",
        ),
    ],
)
def test_params_must_be_lightgbm_parameters(tmp_path: Path, data: object, expected: str) -> None:
    assert error_of(tmp_path, data).startswith(expected)


def test_aliases_and_canonical_names_are_accepted(tmp_path: Path) -> None:
    params = {"eta": 0.1, "min_child_samples": 5, "lambdarank_truncation_level": 10, "alpha": 0.9}
    spec = load_spec(write(tmp_path, yaml.safe_dump(minimal(params=params))))
    assert spec.params == params


def test_every_problem_is_listed(tmp_path: Path) -> None:
    data = minimal(
        bogus=1,
        seed="seven",
        params={"bogus_param": 1, "other_bogus": 2},
        early_stopping={"rounds": 0},
    )
    message = error_of(tmp_path, data)
    assert "more)" not in message
    problems = message.split("; ")
    assert problems[0] == "bogus: unknown key 'bogus'"
    for needle in (
        "seed: Input should be a valid integer",
        "'bogus_param'",
        "'other_bogus'",
        "early_stopping.rounds: Input should be greater than 0",
    ):
        assert any(needle in problem for problem in problems), (needle, problems)


def test_a_duplicated_key_is_an_error_naming_it_and_its_lines(tmp_path: Path) -> None:
    text = yaml.safe_dump(minimal()) + "seed: 7\nparams: {num_leaves: 8}\nseed: 8\n"
    path = write(tmp_path, text)
    lines = text.splitlines()
    first, again = lines.index("seed: 7") + 1, lines.index("seed: 8") + 1
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert str(info.value) == (
        f"{path}: malformed YAML: line {again}, column 1: duplicated key 'seed' "
        f"(first on line {first}, again on line {again})"
    )


def test_a_duplicated_nested_key_is_an_error(tmp_path: Path) -> None:
    text = yaml.safe_dump(minimal()) + "params:\n  num_leaves: 8\n  num_leaves: 9\n"
    with pytest.raises(SpecError, match=r"duplicated key 'num_leaves' \(first on line \d+"):
        load_spec(write(tmp_path, text))


def test_the_lightgbm_parameter_table_is_the_installed_lightgbms() -> None:
    from tessera_lab import _lightgbm_params as lightgbm_params

    version, table = lightgbm_params.live_table()
    assert (version, table) == (lightgbm_params.LIGHTGBM_VERSION, lightgbm_params.PARAM_ALIASES), (
        "regenerate: python -m tessera_lab._lightgbm_params --write"
    )
