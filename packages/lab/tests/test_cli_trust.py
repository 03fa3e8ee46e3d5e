"""``tessera-lab`` fails safe and says what happened: each case through the real CLI process.

Spec mistakes (duplicated keys, unknown LightGBM parameters, several problems at once), one
label rule for ``dataset validate``, ``train`` and the receipt, unique (query, candidate)
pairs, duplicated columns, a closed stdout, progress off a terminal, ``--json`` output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml
from cli_checks import assert_failed_cleanly, rewrite_split

from tessera_contracts import load_run_record
from tessera_contracts.receipts import load_receipts

CLI = Path(sys.executable).parent / "tessera-lab"

SpecFactory = Callable[..., Path]
CliRunner = Callable[..., subprocess.CompletedProcess[str]]
LICENSE = {"id": "Apache-2.0", "url": "https://www.apache.org/licenses/LICENSE-2.0"}
SEARCH: dict[str, Any] = {
    "space": {
        "num_leaves": {"type": "int", "low": 4, "high": 16},
        "learning_rate": {"type": "float", "low": 0.05, "high": 0.3, "log": True},
    },
    "n_trials": 3,
    "sampler": {"n_startup_trials": 2},
    "pruner": {"type": "none"},
}


def test_a_duplicated_spec_key_is_an_error_naming_key_and_lines(
    graded_dataset: Path, run_cli: CliRunner, tmp_path: Path
) -> None:
    data = {"dataset": str(graded_dataset), "feature_families": ["knn"], "license": LICENSE}
    body = yaml.safe_dump(data)
    spec = tmp_path / "spec.yaml"
    spec.write_text(body + "seed: 7\nseed: 8\n", "utf-8")
    first = len(body.splitlines()) + 1
    result = run_cli("train", spec, "--runs-dir", tmp_path / "runs")
    line = assert_failed_cleanly(result, tmp_path / "runs", f"{spec}: malformed YAML")
    assert f"duplicated key 'seed' (first on line {first}, again on line {first + 1})" in line


def test_an_unknown_lightgbm_parameter_is_an_error_naming_it(
    graded_dataset: Path, make_spec: SpecFactory, run_cli: CliRunner, tmp_path: Path
) -> None:
    spec = make_spec(graded_dataset, params={"learning_rate": 0.1, "bogus_param": 3})
    result = run_cli("train", spec, "--runs-dir", tmp_path / "runs")
    assert_failed_cleanly(
        result, tmp_path / "runs", "params: unknown LightGBM parameter 'bogus_param'"
    )


def test_a_spec_error_lists_every_problem(
    graded_dataset: Path, make_spec: SpecFactory, run_cli: CliRunner, tmp_path: Path
) -> None:
    spec = make_spec(
        graded_dataset, seed="seven", num_boost_round=0, params={"bogus_param": 1}, extra=1
    )
    result = run_cli("train", spec, "--runs-dir", tmp_path / "runs")
    line = assert_failed_cleanly(result, tmp_path / "runs")
    assert "more)" not in line
    for needle in (
        "extra: unknown key 'extra'",
        "seed: Input should be a valid integer",
        "num_boost_round: Input should be greater than 0",
        "params: unknown LightGBM parameter 'bogus_param'",
    ):
        assert needle in line, (needle, line)


def _with_grade(dataset: Path, split: str, row: int, grade: int) -> None:
    table = pq.read_table(dataset / f"{split}.parquet")
    labels = table.column("label").to_pylist()
    labels[row] = grade
    index = table.schema.get_field_index("label")
    table = table.set_column(index, table.schema.field("label"), pa.array(labels, pa.int64()))
    rewrite_split(dataset, split, table)


def test_validate_train_and_the_receipt_share_one_label_rule(
    graded_dataset: Path, copy_dataset: Callable[[Path], Path], make_spec: SpecFactory,
    run_cli: CliRunner, tmp_path: Path,
) -> None:  # fmt: skip
    dataset = copy_dataset(graded_dataset)
    _with_grade(dataset, "train", 5, 31)
    validate = run_cli("dataset", "validate", dataset)
    assert validate.returncode == 1
    assert "train.parquet, column 'label', row 5: expected a grade 0..30" in validate.stderr
    receipts = tmp_path / "receipts"
    env_run = _run_with_env(
        {"TESSERA_RECEIPTS_DIR": str(receipts), "TESSERA_PIPELINE": "p", "TESSERA_RUN_ID": "r"},
        "train", make_spec(dataset), "--runs-dir", tmp_path / "runs",
    )  # fmt: skip
    assert env_run.returncode == 1
    assert "column 'label', row 5: expected a grade 0..30 (label_kind 'graded'), found 31" in (
        env_run.stderr
    )
    validation = next(
        r for r in load_receipts(receipts / "p" / "r") if r.stage == "dataset_validation"
    )
    rows = sum(
        pq.ParquetFile(dataset / f"{s}.parquet").metadata.num_rows for s in ("train", "eval")
    )
    assert validation.stats.records_in == rows
    assert (validation.stats.accepted, validation.stats.rejected) == (rows - 1, 1)
    assert not validation.validation.passed
    messages = [e.message for e in validation.validation.errors if e.class_ == "LabelOutOfRange"]
    assert messages == [
        f"{dataset / 'train.parquet'}: column 'label': 1 rows, expected a grade 0..30 "
        "(label_kind 'graded')"
    ]


def _run_with_env(extra: dict[str, str], *args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    env.update(OMP_WAIT_POLICY="passive", **extra)
    return subprocess.run(
        [str(CLI), *map(str, args)], capture_output=True, text=True, env=env, timeout=600
    )


def test_synth_never_repeats_a_query_candidate_pair(run_cli: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    assert run_cli("dataset", "synth", out, "--rows", "20000", "--seed", "0").returncode == 0
    for split in ("train", "eval"):
        table = pq.read_table(out / f"{split}.parquet", columns=["query_id", "candidate_id"])
        pairs = table.group_by(["query_id", "candidate_id"]).aggregate([])
        assert pairs.num_rows == table.num_rows, split


def test_validate_finds_a_repeated_pair_with_query_and_rows(
    binary_dataset: Path, copy_dataset: Callable[[Path], Path], run_cli: CliRunner
) -> None:
    dataset = copy_dataset(binary_dataset)
    table = pq.read_table(dataset / "eval.parquet")
    query = table.column("query_id")[0].as_py()
    ids = table.column("candidate_id").to_pylist()
    ids[3] = ids[1]  # rows 1 and 3: same query, same candidate
    index = table.schema.get_field_index("candidate_id")
    table = table.set_column(index, table.schema.field("candidate_id"), pa.array(ids, pa.int64()))
    assert pc.all(pc.equal(table.column("query_id").slice(0, 4), query)).as_py()
    rewrite_split(dataset, "eval", table)
    result = run_cli("dataset", "validate", dataset)
    assert result.returncode == 1
    assert (
        f"eval.parquet, column 'candidate_id': query {query!r}: candidate {ids[1]!r} appears 2 "
        "times (rows 1, 3)"
    ) in result.stderr


def test_validate_a_duplicated_column_in_one_line(
    binary_dataset: Path, copy_dataset: Callable[[Path], Path], run_cli: CliRunner
) -> None:
    dataset = copy_dataset(binary_dataset)
    table = pq.read_table(dataset / "train.parquet")
    table = table.append_column("knn_score", table.column("knn_score"))
    rewrite_split(dataset, "train", table)
    result = run_cli("dataset", "validate", dataset)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "KeyError" not in result.stderr
    assert "train.parquet, column 'knn_score': column name appears 2 times" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("tessera-lab: ")


def _with_stdout_closed(*args: str | Path) -> subprocess.CompletedProcess[str]:
    read, write = os.pipe()
    os.close(read)  # the reader is gone before anything is written, as after `| head -1`
    try:
        return subprocess.run(
            [str(CLI), *map(str, args)],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ, OMP_WAIT_POLICY="passive"),
            timeout=300,
        )
    finally:
        os.close(write)


def test_a_closed_stdout_ends_quietly(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    for args in (("dataset", "synth", out, "--rows", "500"), ("dataset", "validate", out)):
        result = _with_stdout_closed(*args)
        assert result.stderr == "", args
        assert result.returncode == 141, args  # 128 + SIGPIPE, what `yes | head` reports
    assert (out / "manifest.json").is_file()  # the work itself was done


def test_train_shows_progress_off_a_terminal_and_prints_json(
    graded_dataset: Path, make_spec: SpecFactory, run_cli: CliRunner, tmp_path: Path
) -> None:
    spec = make_spec(graded_dataset, early_stopping=None, num_boost_round=15)
    result = run_cli("train", spec, "--name", "j", "--runs-dir", tmp_path / "runs", "--json")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[-1].startswith("train: round 15/15")
    [run] = json.loads(result.stdout)["runs"]
    record = load_run_record(tmp_path / "runs" / "j" / "run.json")
    assert run["run"] == str(tmp_path / "runs" / "j")
    assert run["gate"] == record.gate.to_plain() and run["model_sha256"] == record.model.sha256
    report = run_cli("report", tmp_path / "runs" / "j", "--json", "--no-plots")
    assert report.returncode == 0, report.stderr
    shown = json.loads(report.stdout)
    assert shown["metrics"] == record.metrics.to_plain() and shown["plots"] == []


def test_tune_ends_with_the_best_trials_parameters(
    graded_dataset: Path, make_spec: SpecFactory, run_cli: CliRunner, tmp_path: Path
) -> None:
    spec = make_spec(graded_dataset, search=SEARCH, num_boost_round=10)
    result = run_cli("tune", spec, "--name", "t", "--runs-dir", tmp_path / "runs")
    assert result.returncode == 0, result.stderr
    tuning = load_run_record(tmp_path / "runs" / "t" / "run.json").tuning
    assert tuning is not None
    trial_lines = [line for line in result.stderr.splitlines() if ": trial " in line]
    assert len(trial_lines) == 3, result.stderr  # one line per trial, off a terminal too
    params = ", ".join(f"{k}={v!r}" for k, v in sorted(tuning.best_params.items()))
    best = (
        f"best parameters of study {tuning.study_name} (trial {tuning.best_trial} of 3, "
        f"ndcg@10 {tuning.best_value:.5f}): {params}"
    )
    assert best in result.stderr.splitlines(), result.stderr


def test_library_errors_name_parameters_and_the_cli_adds_its_flags(
    run_cli: CliRunner, tmp_path: Path
) -> None:
    from tessera_lab import DatasetError, import_dataset

    lines = ["q,label,f1,f2"] + [f"{i // 5},{i % 2},{i * 0.5},{i * 0.25}" for i in range(40)]
    for name in ("train.csv", "eval.csv"):
        (tmp_path / name).write_text("\n".join(lines) + "\n", "utf-8")
    families = tmp_path / "families.yaml"
    families.write_text("knn: [f1]\n", "utf-8")
    inputs = {"train": tmp_path / "train.csv", "eval": tmp_path / "eval.csv"}
    with pytest.raises(DatasetError) as info:
        import_dataset(
            tmp_path / "lib", **inputs, format="csv", families=families,
            columns=_column_map(),
        )  # fmt: skip
    assert "--" not in str(info.value) and info.value.options == ("drop_unmapped",)
    result = run_cli(
        "dataset", "import", tmp_path / "cli", "--train", inputs["train"], "--eval",
        inputs["eval"], "--query-col", "q", "--label-col", "label", "--families", families,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().endswith(
        "map them or drop unmapped columns (see --drop-unmapped)"
    ), result.stderr


def _column_map() -> Any:
    from tessera_lab import ColumnMap

    return ColumnMap(query="q", label="label")
