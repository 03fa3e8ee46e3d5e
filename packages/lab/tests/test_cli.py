"""``tessera-lab train|report`` through real subprocesses, and bad input failing cleanly."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from cli_checks import assert_failed_cleanly, rewrite_split

from tessera_contracts import load_run_record

SpecFactory = Callable[..., Path]
CliRunner = Callable[..., subprocess.CompletedProcess[str]]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_train_then_report(
    graded_dataset: Path, make_spec: SpecFactory, run_cli: CliRunner, tmp_path: Path
) -> None:
    spec = make_spec(graded_dataset)
    result = run_cli("train", spec, "--name", "cli", "--runs-dir", tmp_path / "runs")
    assert result.returncode == 0, result.stderr
    run = tmp_path / "runs" / "cli"
    assert f"wrote {run}: ndcg@10 " in result.stdout
    # Not a terminal: progress comes as whole lines, ending with the last round trained.
    lines = result.stderr.splitlines()
    assert lines and all(line.startswith("train: round ") for line in lines), result.stderr
    assert "\r" not in result.stderr
    record = load_run_record(run / "run.json")
    report = run_cli("report", run)
    assert report.returncode == 0, report.stderr
    out = report.stdout
    assert "metric" in out and "model" in out and "baseline" in out and "lift" in out
    assert f"{record.metrics.eval['ndcg@10']:.4f}" in out
    for category in record.metrics.per_category:
        assert f"\n{category} " in out
    for png in ("importance_by_family", "lift_by_category", "learning_curve"):
        path = run / "report" / f"{png}.png"
        assert path.read_bytes()[:8] == PNG_MAGIC, png


def test_smoke_flag(
    graded_dataset: Path, make_spec: SpecFactory, run_cli: CliRunner, tmp_path: Path
) -> None:
    spec = make_spec(graded_dataset)
    result = run_cli("train", spec, "--smoke", "--name", "s", "--runs-dir", tmp_path / "runs")
    assert result.returncode == 0, result.stderr
    assert "[smoke]" in result.stdout
    assert load_run_record(tmp_path / "runs" / "s" / "run.json").smoke is True


def test_malformed_spec(graded_dataset: Path, run_cli: CliRunner, tmp_path: Path) -> None:
    spec = tmp_path / "broken.yaml"
    spec.write_text(f"dataset: {graded_dataset}\nfeature_families: [knn\n", "utf-8")
    result = run_cli("train", spec, "--runs-dir", tmp_path / "runs")
    assert_failed_cleanly(result, tmp_path / "runs", "broken.yaml: malformed YAML: line 3")


def test_unknown_key(
    graded_dataset: Path, make_spec: SpecFactory, run_cli: CliRunner, tmp_path: Path
) -> None:
    spec = make_spec(graded_dataset, early_stopping={"rounds": 5, "patience": 3})
    result = run_cli("train", spec, "--runs-dir", tmp_path / "runs")
    assert_failed_cleanly(result, tmp_path / "runs", "early_stopping.patience: unknown key")


def test_unknown_family(
    graded_dataset: Path, make_spec: SpecFactory, run_cli: CliRunner, tmp_path: Path
) -> None:
    spec = make_spec(graded_dataset, feature_families=["knn", "structure"])
    result = run_cli("train", spec, "--runs-dir", tmp_path / "runs")
    assert_failed_cleanly(result, tmp_path / "runs", "feature_families: unknown family 'structure'")


def test_files_do_not_match_manifest(
    graded_dataset: Path, copy_dataset: Callable[[Path], Path], make_spec: SpecFactory,
    run_cli: CliRunner, tmp_path: Path,
) -> None:  # fmt: skip
    dataset = copy_dataset(graded_dataset)
    table = pq.read_table(dataset / "train.parquet")
    pq.write_table(table.slice(0, table.num_rows - 1), dataset / "train.parquet")
    result = run_cli("train", make_spec(dataset), "--runs-dir", tmp_path / "runs")
    assert_failed_cleanly(result, tmp_path / "runs", "train.parquet", "manifest says")


def test_label_outside_label_kind(
    binary_dataset: Path, copy_dataset: Callable[[Path], Path], make_spec: SpecFactory,
    run_cli: CliRunner, tmp_path: Path,
) -> None:  # fmt: skip
    dataset = copy_dataset(binary_dataset)
    table = pq.read_table(dataset / "train.parquet")
    labels = table.column("label").to_numpy().copy()
    labels[17] = 3
    index = table.schema.get_field_index("label")
    rewrite_split(dataset, "train", table.set_column(index, "label", pa.array(labels)))
    result = run_cli("train", make_spec(dataset), "--runs-dir", tmp_path / "runs")
    assert_failed_cleanly(
        result,
        tmp_path / "runs",
        "train.parquet: column 'label', row 17: expected 0 or 1",
        "found 3",
    )


def test_empty_eval_split(
    graded_dataset: Path, copy_dataset: Callable[[Path], Path], make_spec: SpecFactory,
    run_cli: CliRunner, tmp_path: Path,
) -> None:  # fmt: skip
    dataset = copy_dataset(graded_dataset)
    table = pq.read_table(dataset / "eval.parquet")
    rewrite_split(dataset, "eval", table.filter(pc.equal(table.column("label"), -1)))
    result = run_cli("train", make_spec(dataset), "--runs-dir", tmp_path / "runs")
    assert_failed_cleanly(result, tmp_path / "runs", "eval.parquet: split 'eval' has no rows")


def test_report_of_a_non_run(run_cli: CliRunner, tmp_path: Path) -> None:
    result = run_cli("report", tmp_path)
    assert result.returncode == 1
    assert "no run.json" in result.stderr


@pytest.mark.parametrize("command", ["train", "tune", "report"])
def test_help(command: str, run_cli: CliRunner) -> None:
    result = run_cli(command, "--help")
    assert result.returncode == 0 and command in result.stdout


def test_the_parsers_literal_defaults_are_the_librarys() -> None:
    import tessera_lab as lab
    from tessera_lab.cli import dataset as dataset_cli

    assert dataset_cli.VALID_PAIR_DEFAULT == lab.DEFAULT_VALID_PAIR
