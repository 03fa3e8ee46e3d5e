"""Where early stopping looks (``validation``): a seeded carve, named snapshot pairs (a
published fold's vali file, or the newest pair for time-ordered validation), or nothing;
and what run.json, history.json and the CLI line say about it."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from tessera_contracts import load_run_record
from tessera_lab.dataset import open_dataset, write_dataset
from tessera_lab.training import train_run

SpecFactory = Callable[..., Path]
CliRunner = Callable[..., subprocess.CompletedProcess[str]]
STOPPING = {"rounds": 5, "metric": "ndcg@10"}


def pair_rows(dataset: Path, pairs: list[str], category: str | None = None) -> tuple[int, int]:
    """Train-split rows and queries of ``pairs`` (optionally of one category)."""
    table = open_dataset(dataset).read("train", columns=["snapshot_pair", "category", "query_id"])
    keep = pc.is_in(table.column("snapshot_pair"), value_set=pa.array(pairs))
    if category is not None:
        keep = pc.and_(keep, pc.equal(table.column("category"), category))
    chosen = table.filter(keep)
    return chosen.num_rows, pc.count_distinct(chosen.column("query_id")).as_py()


def test_time_ordered_validation_is_one_spec_line(
    graded_dataset: Path, make_spec: SpecFactory, run_cli: CliRunner, tmp_path: Path
) -> None:
    pairs = open_dataset(graded_dataset).manifest.snapshot_pairs
    newest, older = pairs[-1], pairs[:-1]
    spec = make_spec(
        graded_dataset, early_stopping=STOPPING, validation={"snapshot_pairs": [newest]}
    )
    result = run_cli("train", spec, "--name", "t", "--runs-dir", tmp_path / "runs")
    assert result.returncode == 0, result.stderr
    record = load_run_record(tmp_path / "runs" / "t" / "run.json")
    rows, queries = pair_rows(graded_dataset, [newest])
    assert record.validation is not None
    assert record.validation.method == "snapshot_pairs"
    assert (record.validation.rows, record.validation.queries) == (rows, queries)
    assert record.dataset.valid_rows == rows
    assert record.dataset.snapshot_pairs == older
    assert record.dataset.train_rows == pair_rows(graded_dataset, older)[0]
    assert record.model.rounds is not None and record.model.rounds >= record.model.num_trees
    line = (
        f"validation snapshot pairs {newest} ({rows} rows, {queries} queries); best iteration "
        f"{record.model.best_iteration} of {record.model.rounds} rounds"
    )
    assert line in result.stdout, result.stdout
    [again] = train_run(spec, name="t2", runs_dir=tmp_path / "runs", quiet=True)
    first = (tmp_path / "runs" / "t" / "model.txt").read_bytes()
    assert (again / "model.txt").read_bytes() == first  # same spec, data, seed: same bytes


def test_per_category_cells_validate_on_their_category_of_the_pair(
    graded_dataset: Path, make_spec: SpecFactory, tmp_path: Path
) -> None:
    newest = open_dataset(graded_dataset).manifest.snapshot_pairs[-1]
    spec = make_spec(
        graded_dataset,
        protocol={"cells": "per_category"},
        early_stopping=STOPPING,
        validation={"snapshot_pairs": [newest]},
    )
    for run in train_run(spec, name="c", runs_dir=tmp_path / "runs", quiet=True):
        record = load_run_record(run / "run.json")
        assert record.validation is not None and record.cell is not None
        expected = pair_rows(graded_dataset, [newest], record.cell)
        assert (record.validation.rows, record.validation.queries) == expected


def test_carve_is_the_default_and_the_older_key_means_the_same(
    graded_dataset: Path, make_spec: SpecFactory, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    [default] = train_run(make_spec(graded_dataset, "a.yaml", early_stopping=STOPPING),
                          name="a", runs_dir=runs, quiet=True)  # fmt: skip
    record = load_run_record(default / "run.json")
    assert record.validation is not None
    assert (record.validation.method, record.validation.carve) == ("carve", 0.2)
    assert record.validation.rows == record.dataset.valid_rows > 0
    [legacy] = train_run(
        make_spec(graded_dataset, "b.yaml", early_stopping={**STOPPING, "valid_fraction": 0.3}),
        name="b", runs_dir=runs, quiet=True,
    )  # fmt: skip
    [explicit] = train_run(
        make_spec(graded_dataset, "c.yaml", early_stopping=STOPPING, validation={"carve": 0.3}),
        name="c", runs_dir=runs, quiet=True,
    )  # fmt: skip
    assert (legacy / "model.txt").read_bytes() == (explicit / "model.txt").read_bytes()
    assert "valid_fraction" not in (legacy / "spec.yaml").read_text("utf-8")
    assert "carve: 0.3" in (legacy / "spec.yaml").read_text("utf-8")


def test_without_early_stopping_every_row_trains_every_round(
    graded_dataset: Path, make_spec: SpecFactory, tmp_path: Path
) -> None:
    spec = make_spec(graded_dataset, early_stopping=None, num_boost_round=12)
    [run] = train_run(spec, name="n", runs_dir=tmp_path / "runs", quiet=True)
    record = load_run_record(run / "run.json")
    assert record.validation is not None and record.validation.method == "none"
    assert record.dataset.valid_rows == 0
    assert (
        record.dataset.train_rows
        == open_dataset(graded_dataset).manifest.files["train.parquet"].rows
    )
    assert record.model.num_trees == record.model.rounds == record.model.best_iteration == 12
    history = json.loads((run / "report" / "history.json").read_text("utf-8"))
    assert history["rounds"] == 12 and history["curves"] == {}


def test_history_counts_the_rounds_run_not_the_trees_kept(
    graded_dataset: Path, make_spec: SpecFactory, tmp_path: Path
) -> None:
    spec = make_spec(
        graded_dataset, num_boost_round=400, early_stopping={"rounds": 3, "metric": "ndcg@10"}
    )
    [run] = train_run(spec, name="h", runs_dir=tmp_path / "runs", quiet=True)
    record = load_run_record(run / "run.json")
    history = json.loads((run / "report" / "history.json").read_text("utf-8"))
    assert record.model.num_trees == record.model.best_iteration < 400
    assert history["rounds"] == record.model.rounds == record.model.best_iteration + 3
    assert sorted(history["curves"]) == ["train ndcg@10", "valid ndcg@10"]
    assert all(len(v) == history["rounds"] for v in history["curves"].values())


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"validation": {"snapshot_pairs": ["1999..2000"]}},
         "validation.snapshot_pairs: unknown snapshot pair(s) ['1999..2000']"),
        ({"validation": {"carve": 0.2, "snapshot_pairs": ["x"]}},
         "validation: give carve or snapshot_pairs, not both"),
        ({"validation": {"carve": 1.5}}, "validation.carve: Input should be less than 1"),
        ({"validation": {"snapshot_pairs": ["P"]}, "early_stopping": None},
         "validation.snapshot_pairs needs early_stopping"),
        ({"validation": {"snapshot_pairs": ["P"]}, "protocol": {"snapshots": ["P"]}},
         "validation.snapshot_pairs ['P'] are also in protocol.snapshots"),
        ({"validation": {"snapshot_pairs": "ALL"}}, "leave no snapshot pair to train on"),
        ({"validation": {"carve": 0.3}, "early_stopping": {"valid_fraction": 0.2}},
         "early_stopping.valid_fraction and validation both say"),
    ],
)  # fmt: skip
def test_bad_validation_is_one_line_from_the_cli(
    graded_dataset: Path, make_spec: SpecFactory, run_cli: CliRunner, tmp_path: Path,
    fields: dict[str, Any], message: str,
) -> None:  # fmt: skip
    pairs = open_dataset(graded_dataset).manifest.snapshot_pairs
    text = (
        json.dumps(fields).replace('"ALL"', json.dumps(pairs)).replace('"P"', json.dumps(pairs[0]))
    )
    spec = make_spec(graded_dataset, **{"early_stopping": STOPPING, **json.loads(text)})
    runs = tmp_path / "runs"
    result = run_cli("train", spec, "--name", "bad", "--runs-dir", runs)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tessera-lab: error: "), result.stderr
    expected = message.replace("['P']", json.dumps([pairs[0]]).replace('"', "'"))
    assert expected in lines[0], lines[0]
    assert str(spec) in lines[0]
    assert not runs.exists()


def test_a_cell_without_rows_in_the_validation_pair_is_one_line(
    graded_dataset: Path, make_spec: SpecFactory, run_cli: CliRunner, tmp_path: Path
) -> None:
    source = open_dataset(graded_dataset)
    newest = source.manifest.snapshot_pairs[-1]
    train = source.read("train")
    gone = pc.and_(
        pc.equal(train.column("snapshot_pair"), newest), pc.equal(train.column("category"), "BPO")
    )
    target = tmp_path / "gap"
    write_dataset(
        target, name="gap", train=train.filter(pc.invert(gone)), eval=source.read("eval"),
        feature_schema=source.manifest.feature_schema, label_kind="graded",
    )  # fmt: skip
    spec = make_spec(
        target,
        protocol={"cells": "per_category"},
        early_stopping=STOPPING,
        validation={"snapshot_pairs": [newest]},
    )
    runs = tmp_path / "runs"
    result = run_cli("train", spec, "--name", "gap", "--runs-dir", runs)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert f"{spec} (category 'BPO'): validation.snapshot_pairs ['{newest}'] hold no " in lines[0]
    assert not runs.exists()
