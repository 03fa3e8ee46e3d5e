"""``RunRecord`` (run.json): round trips and every inconsistency DESIGN.md section 5 rules out."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tessera_contracts import (
    CategoryMetrics,
    ContractError,
    Gate,
    Metrics,
    ModelEntry,
    RunRecord,
    TuningSummary,
    load_run_record,
    parse_json,
    to_json_text,
    validate_plain,
)

Doc = dict[str, Any]


def reject(doc: object, *fragments: str) -> str:
    """Validation fails with a one-line ContractError containing every fragment."""
    with pytest.raises(ContractError) as exc:
        validate_plain(RunRecord, doc, "runs/r1/run.json")
    message = str(exc.value)
    assert "\n" not in message, message
    assert message.startswith("runs/r1/run.json: "), message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in: {message}"
    return message


TUNING: Doc = {
    "study_name": "bp-pooled",
    "storage": "sqlite:///optuna.db",
    "metric": "ndcg@10",
    "direction": "maximize",
    "n_trials": 20,
    "n_complete": 11,
    "n_pruned": 9,
    "best_trial": 4,
    "best_value": 0.61,
    "best_params": {"num_leaves": 31, "learning_rate": 0.05, "boosting": "gbdt", "extra": True},
}


def test_a_valid_run_record_loads(run_record_data: Doc) -> None:
    record = validate_plain(RunRecord, run_record_data)
    assert record.run_format == 1
    assert record.cell is None
    assert record.created_at == datetime(2024, 7, 2, 8, 30, tzinfo=UTC)
    assert record.feature_names == ["len_ratio", "query_len", "knn_votes", "knn_score"]
    assert isinstance(record.model, ModelEntry)
    assert isinstance(record.metrics, Metrics)
    assert isinstance(record.metrics.per_category["BPO"], CategoryMetrics)
    assert isinstance(record.gate, Gate)
    assert record.gate.verdict == "PROMOTE"


def test_a_tuned_per_category_run_loads(run_record_data: Doc) -> None:
    run_record_data.update(cell="BPO", tuning=TUNING, name="bp--BPO", smoke=True)
    record = validate_plain(RunRecord, run_record_data)
    assert isinstance(record.tuning, TuningSummary)
    assert record.tuning.best_params["num_leaves"] == 31
    assert record.cell == "BPO"


# --- JSON round trip -------------------------------------------------------------------------


def test_round_trip_is_byte_for_byte(run_record_data: Doc) -> None:
    run_record_data["tuning"] = TUNING
    text = to_json_text(validate_plain(RunRecord, run_record_data))
    assert to_json_text(parse_json(RunRecord, text)) == text
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2) + "\n"


finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6)


@given(
    data=st.data(),
    model_value=finite,
    baseline_value=finite,
    min_lift=finite,
    seed=st.integers(-(2**63), 2**63 - 1),
    duration=st.floats(min_value=0, max_value=1e7),
)
def test_generated_run_records_round_trip(
    kit: Any,
    data: st.DataObject,
    model_value: float,
    baseline_value: float,
    min_lift: float,
    seed: int,
    duration: float,
) -> None:
    schema = data.draw(kit.feature_schemas())
    doc = kit.run_record_doc(schema)
    doc["feature_names"] = data.draw(st.permutations(doc["feature_names"]))
    lift = model_value - baseline_value
    doc["gate"] = {
        "metric": "ndcg@10",
        "min_lift": min_lift,
        "model_value": model_value,
        "baseline_value": baseline_value,
        "lift": lift,
        "verdict": "PROMOTE" if lift >= min_lift else "HOLD",
    }
    doc["metrics"]["eval"] = {"ndcg@10": model_value}
    doc["metrics"]["baseline"] = {"ndcg@10": baseline_value}
    doc.update(seed=seed, duration_s=duration)
    record = validate_plain(RunRecord, doc)
    text = to_json_text(record)
    assert to_json_text(parse_json(RunRecord, text)) == text
    assert parse_json(RunRecord, text) == record
    assert record.feature_names == doc["feature_names"]  # the booster's own order is kept


# --- rejections -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ([], "extra"),
        (["producer"], "producer.extra"),
        (["dataset"], "dataset.extra"),
        (["model"], "model.extra"),
        (["metrics"], "metrics.extra"),
        (["metrics", "per_category", "BPO"], "metrics.per_category.BPO.extra"),
        (["gate"], "gate.extra"),
        (["license"], "license.extra"),
    ],
)
def test_rejects_unknown_fields_at_any_depth(
    run_record_data: Doc, path: list[str], field: str
) -> None:
    target = run_record_data
    for key in path:
        target = target[key]
    target["extra"] = 1
    reject(run_record_data, f"field {field!r}", "unknown field")


def test_rejects_an_unknown_tuning_field(run_record_data: Doc) -> None:
    run_record_data["tuning"] = {**TUNING, "sampler": "tpe"}
    reject(run_record_data, "field 'tuning.sampler'", "unknown field")


OPTIONAL_FIELDS = ("engine", "validation", "evaluation")
"""Added after run_format 1 shipped: run.json files written before them still load."""


@pytest.mark.parametrize(
    "field", sorted(f for f in RunRecord.model_fields if f not in OPTIONAL_FIELDS)
)
def test_every_field_is_required(run_record_data: Doc, field: str) -> None:
    del run_record_data[field]
    reject(run_record_data, f"field {field!r}", "required")


def test_a_record_from_before_the_engine_field_still_loads(run_record_data: Doc) -> None:
    run_record_data.pop("engine", None)
    assert validate_plain(RunRecord, run_record_data).engine is None


@pytest.mark.parametrize(
    "engine",
    [
        {"kind": "local", "scheduler": None, "workers": 1},
        {"kind": "dask", "scheduler": "local", "workers": 2},
        {"kind": "dask", "scheduler": "tcp://10.0.0.5:8786", "workers": 16},
    ],
)
def test_engine_round_trips(run_record_data: Doc, engine: Doc) -> None:
    run_record_data["engine"] = engine
    record = validate_plain(RunRecord, run_record_data)
    assert record.engine is not None and record.engine.to_plain() == engine


def test_a_record_from_before_the_optional_fields_still_loads(run_record_data: Doc) -> None:
    for field in OPTIONAL_FIELDS:
        run_record_data.pop(field, None)
    run_record_data["model"].pop("rounds", None)
    record = validate_plain(RunRecord, run_record_data)
    assert record.validation is None and record.evaluation is None
    assert record.model.rounds is None


VALIDATION: Doc = {
    "method": "snapshot_pairs",
    "snapshot_pairs": ["valid"],
    "rows": 40,
    "queries": 4,
}
EVALUATION: Doc = {
    "ndcg_no_relevant": "zero",
    "ndcg_gain": "linear",
    "ndcg_short_queries": "exclude",
    "splits": {"eval": {"queries": 7, "no_relevant": 2, "fewer_than_k": {"ndcg@10": 3}}},
}


def test_validation_and_evaluation_round_trip(run_record_data: Doc) -> None:
    run_record_data.update(validation=VALIDATION, evaluation=EVALUATION)
    run_record_data["model"]["rounds"] = run_record_data["model"]["num_trees"] + 20
    record = validate_plain(RunRecord, run_record_data)
    assert record.validation is not None and record.validation.rows == 40
    assert record.evaluation is not None
    assert record.evaluation.splits["eval"].fewer_than_k == {"ndcg@10": 3}
    assert parse_json(RunRecord, to_json_text(record)) == record


@pytest.mark.parametrize(
    ("engine", "fragment"),
    [
        ({"kind": "spark", "scheduler": None, "workers": 1}, "engine.kind"),
        ({"kind": "local", "scheduler": "local", "workers": 1}, "no scheduler"),
        ({"kind": "local", "scheduler": None, "workers": 2}, "exactly 1 worker"),
        ({"kind": "dask", "scheduler": None, "workers": 2}, "names its scheduler"),
        ({"kind": "dask", "scheduler": "local", "workers": 0}, "engine.workers"),
        ({"kind": "dask", "scheduler": "local"}, "engine.workers"),
    ],
)
def test_rejects_a_bad_engine(run_record_data: Doc, engine: Doc, fragment: str) -> None:
    run_record_data["engine"] = engine
    reject(run_record_data, fragment)


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("validation", {**VALIDATION, "method": "vali"}, "validation.method"),
        ("validation", {**VALIDATION, "carve": 1.0}, "validation.carve"),
        ("evaluation", {**EVALUATION, "ndcg_gain": "2^label"}, "evaluation.ndcg_gain"),
        ("evaluation", {**EVALUATION, "splits": {"eval": {"queries": 1}}}, "no_relevant"),
    ],
)
def test_rejects_bad_validation_or_evaluation(
    run_record_data: Doc, field: str, value: Doc, fragment: str
) -> None:
    run_record_data[field] = value
    reject(run_record_data, fragment)


def test_rejects_fewer_rounds_than_trees(run_record_data: Doc) -> None:
    run_record_data["model"]["rounds"] = run_record_data["model"]["num_trees"] - 1
    reject(run_record_data, "model.num_trees", "exceeds model.rounds")


@pytest.mark.parametrize("value", [0, 2, "1", None], ids=repr)
def test_rejects_a_wrong_run_format(run_record_data: Doc, value: object) -> None:
    run_record_data["run_format"] = value
    reject(run_record_data, "field 'run_format'")


def test_rejects_feature_names_missing_a_schema_column(run_record_data: Doc) -> None:
    run_record_data["feature_names"].remove("knn_votes")
    reject(run_record_data, "feature_names", "missing ['knn_votes']")


def test_rejects_feature_names_with_a_column_outside_the_schema(run_record_data: Doc) -> None:
    run_record_data["feature_names"].append("knn_rank")
    reject(run_record_data, "feature_names", "extra ['knn_rank']")


def test_rejects_duplicate_feature_names(run_record_data: Doc) -> None:
    run_record_data["feature_names"].append("query_len")
    reject(run_record_data, "feature_names", "duplicates", "'query_len'")


@pytest.mark.parametrize(
    "families", [["knn"], ["length", "knn"], ["knn", "length", "align"], []], ids=repr
)
def test_rejects_feature_families_other_than_the_schema_keys(
    run_record_data: Doc, families: list[str]
) -> None:
    run_record_data["feature_families"] = families
    reject(run_record_data, "feature_families", repr(families))


def test_rejects_wrong_fingerprints(run_record_data: Doc) -> None:
    good = dict(run_record_data)
    run_record_data["feature_schema_sha"] = "0" * 12
    reject(run_record_data, "feature_schema_sha", "does not match")
    run_record_data.update(feature_schema_sha=good["feature_schema_sha"], schema_sha="0" * 12)
    reject(run_record_data, "schema_sha", "does not match")


def test_rejects_an_invalid_feature_schema(run_record_data: Doc) -> None:
    run_record_data["feature_schema"] = {"knn": ["knn_score"], "length": ["knn_score"]}
    reject(run_record_data, "field 'feature_schema'", "duplicate column 'knn_score'")


@pytest.mark.parametrize(
    ("lift", "min_lift", "verdict"),
    [(0.06, 0.01, "HOLD"), (0.06, 0.1, "PROMOTE"), (-0.01, 0.0, "PROMOTE")],
)
def test_rejects_a_verdict_that_contradicts_the_lift(
    run_record_data: Doc, lift: float, min_lift: float, verdict: str
) -> None:
    run_record_data["gate"].update(
        model_value=0.5 + lift, baseline_value=0.5, lift=lift, min_lift=min_lift, verdict=verdict
    )
    reject(run_record_data, "verdict", repr(verdict))


def test_a_lift_exactly_at_the_minimum_promotes(run_record_data: Doc) -> None:
    run_record_data["gate"].update(
        model_value=0.75, baseline_value=0.5, lift=0.25, min_lift=0.25, verdict="PROMOTE"
    )
    assert validate_plain(RunRecord, run_record_data).gate.verdict == "PROMOTE"
    run_record_data["gate"]["verdict"] = "HOLD"
    reject(run_record_data, "verdict")


def test_rejects_a_lift_that_is_not_model_minus_baseline(run_record_data: Doc) -> None:
    run_record_data["gate"]["lift"] = 0.5
    reject(run_record_data, "lift 0.5")


@given(model_value=finite, baseline_value=finite, min_lift=finite)
def test_gate_verdict_is_exactly_lift_against_min_lift(
    model_value: float, baseline_value: float, min_lift: float
) -> None:
    lift = model_value - baseline_value
    right = "PROMOTE" if lift >= min_lift else "HOLD"
    wrong = "HOLD" if right == "PROMOTE" else "PROMOTE"
    fields: Doc = {"metric": "map", "min_lift": min_lift, "lift": lift}
    fields.update(model_value=model_value, baseline_value=baseline_value)
    assert Gate.model_validate({**fields, "verdict": right}).verdict == right
    with pytest.raises(ValueError, match="contradicts"):
        Gate.model_validate({**fields, "verdict": wrong})


@pytest.mark.parametrize("verdict", ["promote", "PASS", None])
def test_rejects_an_unknown_verdict(run_record_data: Doc, verdict: object) -> None:
    run_record_data["gate"]["verdict"] = verdict
    reject(run_record_data, "field 'gate.verdict'")


@pytest.mark.parametrize("file", ["model.json", "../model.txt", "report/model.txt", ""])
def test_rejects_a_model_file_other_than_model_txt(run_record_data: Doc, file: str) -> None:
    run_record_data["model"]["file"] = file
    reject(run_record_data, "field 'model.file'", repr(file))


@pytest.mark.parametrize(("num_trees", "best_iteration"), [(40, 41), (0, 1), (1, 1000)])
def test_rejects_best_iteration_beyond_num_trees(
    run_record_data: Doc, num_trees: int, best_iteration: int
) -> None:
    run_record_data["model"].update(num_trees=num_trees, best_iteration=best_iteration)
    reject(run_record_data, "best_iteration", str(best_iteration), str(num_trees))


@pytest.mark.parametrize(("num_trees", "best_iteration"), [(40, 40), (40, 0), (0, 0)])
def test_accepts_best_iteration_up_to_num_trees(
    run_record_data: Doc, num_trees: int, best_iteration: int
) -> None:
    run_record_data["model"].update(num_trees=num_trees, best_iteration=best_iteration)
    assert validate_plain(RunRecord, run_record_data).model.best_iteration == best_iteration


@pytest.mark.parametrize(
    ("key", "value"), [("sha256", "abc"), ("num_trees", -1), ("lightgbm_version", "")]
)
def test_rejects_a_bad_model_entry(run_record_data: Doc, key: str, value: object) -> None:
    run_record_data["model"][key] = value
    reject(run_record_data, f"field 'model.{key}'")


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize(
    "path",
    [
        ["metrics", "eval", "ndcg@10"],
        ["metrics", "baseline", "map"],
        ["metrics", "per_category", "BPO", "eval", "ndcg@10"],
        ["gate", "model_value"],
        ["gate", "min_lift"],
        ["duration_s"],
    ],
)
def test_rejects_non_finite_numbers(run_record_data: Doc, path: list[str], bad: float) -> None:
    target = run_record_data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = bad
    reject(run_record_data, f"field {'.'.join(path)!r}")


def test_rejects_nan_written_into_a_json_file(tmp_path: Path, run_record_data: Doc) -> None:
    run_record_data["metrics"]["eval"]["map"] = math.nan
    path = tmp_path / "run.json"
    path.write_text(json.dumps(run_record_data), encoding="utf-8")  # writes a bare NaN
    assert "NaN" in path.read_text(encoding="utf-8")
    with pytest.raises(ContractError, match=r"field 'metrics\.eval\.map'.*finite"):
        load_run_record(path)


def test_rejects_eval_and_baseline_with_different_metrics(run_record_data: Doc) -> None:
    run_record_data["metrics"]["baseline"] = {"ndcg@10": 0.55}
    reject(run_record_data, "field 'metrics'", "eval and baseline metrics differ")


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (["dataset", "snapshot_pairs"], [], "dataset.snapshot_pairs"),
        (["dataset", "snapshot_pairs"], ["a", "a"], "dataset.snapshot_pairs"),
        (["dataset", "manifest_sha256"], "abc", "dataset.manifest_sha256"),
        (["dataset", "schema_sha"], "abc", "dataset.schema_sha"),
        (["dataset", "train_rows"], -1, "dataset.train_rows"),
        (["objective"], "regression", "objective"),
        (["cell"], "", "cell"),
        (["name"], "runs/escape", "name"),
        (["license"], {"id": "", "url": "https://x"}, "license.id"),
        (["license"], {"id": "MIT", "url": "ftp://x"}, "license.url"),
        (["duration_s"], -1.0, "duration_s"),
        (["smoke"], [], "smoke"),
        (["created_at"], "2024-07-02T08:30:00", "created_at"),
    ],
)
def test_rejects_other_bad_values(
    run_record_data: Doc, path: list[str], value: object, field: str
) -> None:
    target = run_record_data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    reject(run_record_data, f"field {field!r}")


def test_non_utc_offsets_are_normalised_to_utc(run_record_data: Doc) -> None:
    run_record_data["created_at"] = "2024-07-02T01:30:00-07:00"
    record = validate_plain(RunRecord, run_record_data)
    assert record.created_at == datetime(2024, 7, 2, 8, 30, tzinfo=UTC)
    assert json.loads(to_json_text(record))["created_at"] == "2024-07-02T08:30:00Z"


# --- loading a file -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda d: d["model"].update(file="model.bin"), "'model.file'"),
        (lambda d: d["gate"].update(verdict="HOLD"), "verdict"),
        (lambda d: d["feature_names"].pop(), "feature_names"),
        (lambda d: d.update(run_format=2), "'run_format'"),
        (lambda d: d["license"].pop("url"), "'license.url'"),
    ],
)
def test_a_bad_file_gives_one_line_naming_file_and_field(
    tmp_path: Path, run_record_data: Doc, edit: Any, field: str
) -> None:
    edit(run_record_data)
    path = tmp_path / "runs" / "bp" / "run.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(run_record_data, indent=2), encoding="utf-8")
    with pytest.raises(ContractError) as exc:
        load_run_record(path)
    message = str(exc.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert field in message


def test_load_run_record_reads_a_file(tmp_path: Path, run_record_data: Doc) -> None:
    path = tmp_path / "run.json"
    path.write_text(json.dumps(run_record_data), encoding="utf-8")
    assert load_run_record(path) == validate_plain(RunRecord, run_record_data)
