"""``train_run`` end to end on small synthetic datasets with real LightGBM."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightgbm as lgb
import pyarrow as pa
import pytest

from tessera_contracts import compute_schema_sha, load_run_record
from tessera_lab.dataset import open_dataset, write_dataset
from tessera_lab.errors import SpecError, TrainingError
from tessera_lab.training import train_run

SpecFactory = Callable[..., Path]


def run_json(run: Path) -> dict[str, Any]:
    return dict(json.loads((run / "run.json").read_text("utf-8")))


def test_pooled_lambdarank_run(
    graded_dataset: Path, make_spec: SpecFactory, tmp_path: Path
) -> None:
    spec = make_spec(graded_dataset, feature_families=["knn", "alignment"])
    [run] = train_run(spec, name="pooled", runs_dir=tmp_path / "runs", quiet=True)
    assert run == tmp_path / "runs" / "pooled"
    assert sorted(p.name for p in run.iterdir()) == ["model.txt", "report", "run.json", "spec.yaml"]
    record = load_run_record(run / "run.json")
    dataset = open_dataset(graded_dataset)
    manifest = dataset.manifest
    expected_names = manifest.feature_schema["alignment"] + manifest.feature_schema["knn"]
    assert record.feature_names == expected_names  # families sorted, manifest column order
    assert record.feature_schema == {f: manifest.feature_schema[f] for f in ("alignment", "knn")}
    assert record.schema_sha == compute_schema_sha(record.feature_schema)
    booster = lgb.Booster(model_file=str(run / "model.txt"))
    assert booster.feature_name() == record.feature_names
    assert booster.num_trees() == record.model.num_trees == record.model.best_iteration
    assert record.dataset.manifest_sha256 == dataset.manifest_sha256
    assert (
        record.dataset.train_rows + record.dataset.valid_rows
        == manifest.files["train.parquet"].rows
    )
    assert record.dataset.eval_rows == manifest.files["eval.parquet"].rows
    assert record.cell is None and record.smoke is False and record.tuning is None
    assert sorted(record.metrics.per_category) == sorted(manifest.categories)
    assert record.gate.metric == "ndcg@10" and record.gate.verdict == "PROMOTE"
    assert record.gate.model_value == record.metrics.eval["ndcg@10"]
    history = json.loads((run / "report" / "history.json").read_text("utf-8"))
    assert len(history["curves"]["valid ndcg@10"]) >= record.model.best_iteration


def test_same_spec_same_model_bytes(
    graded_dataset: Path, make_spec: SpecFactory, tmp_path: Path
) -> None:
    params = {"num_leaves": 15, "bagging_fraction": 0.8, "bagging_freq": 1, "feature_fraction": 0.7}
    spec = make_spec(graded_dataset, params=params)
    [a] = train_run(spec, name="a", runs_dir=tmp_path / "runs", quiet=True)
    [b] = train_run(spec, name="b", runs_dir=tmp_path / "runs", quiet=True)
    assert (a / "model.txt").read_bytes() == (b / "model.txt").read_bytes()
    # the resolved spec.yaml of a run reproduces it too
    [c] = train_run(a / "spec.yaml", name="c", runs_dir=tmp_path / "runs", quiet=True)
    assert (c / "model.txt").read_bytes() == (a / "model.txt").read_bytes()
    assert run_json(a)["model"]["sha256"] == run_json(c)["model"]["sha256"]
    other_seed = make_spec(graded_dataset, "d.yaml", seed=8, params=params)
    [d] = train_run(other_seed, name="d", runs_dir=tmp_path / "runs", quiet=True)
    assert (d / "model.txt").read_bytes() != (a / "model.txt").read_bytes()


def test_per_category_binary_weighted_subset_of_snapshots(
    binary_dataset: Path, make_spec: SpecFactory, tmp_path: Path
) -> None:
    manifest = open_dataset(binary_dataset).manifest
    pairs = manifest.snapshot_pairs[-2:]
    spec = make_spec(
        binary_dataset,
        objective="binary",
        protocol={"cells": "per_category", "snapshots": pairs},
        weighting="log1p",
        early_stopping={"rounds": 5, "valid_fraction": 0.3, "metric": "auc"},
        gate={"metric": "roc_auc", "min_lift": 0.0},
    )
    runs = train_run(spec, name="cells", runs_dir=tmp_path / "runs", quiet=True)
    assert [r.name for r in runs] == [f"cells--{c}" for c in sorted(manifest.categories)]
    for run in runs:
        record = load_run_record(run / "run.json")
        assert record.cell == run.name.split("--")[1]
        assert list(record.metrics.per_category) == [record.cell]
        assert record.dataset.snapshot_pairs == pairs
        assert {"roc_auc", "pr_auc", "fmax_weighted"} <= set(record.metrics.eval)
    everything = train_run(
        make_spec(binary_dataset, "all.yaml", objective="binary", early_stopping=None),
        name="all", runs_dir=tmp_path / "runs", quiet=True,
    )  # fmt: skip
    record = load_run_record(everything[0] / "run.json")
    assert record.dataset.valid_rows == 0
    assert record.model.num_trees == 20  # no early stopping: every round kept
    subset_rows = sum(load_run_record(r / "run.json").dataset.eval_rows for r in runs)
    assert subset_rows < record.dataset.eval_rows


def test_smoke_run_is_tiny_and_marked(
    graded_dataset: Path, make_spec: SpecFactory, tmp_path: Path
) -> None:
    [run] = train_run(make_spec(graded_dataset, num_boost_round=200), name="s",
                      runs_dir=tmp_path / "runs", smoke=True, quiet=True)  # fmt: skip
    record = load_run_record(run / "run.json")
    assert record.smoke is True
    assert record.model.num_trees <= 5
    assert record.dataset.train_rows + record.dataset.valid_rows <= 5_000 + 600


def test_never_overwrites_a_run(
    graded_dataset: Path, make_spec: SpecFactory, tmp_path: Path
) -> None:
    spec = make_spec(graded_dataset, num_boost_round=3)
    [run] = train_run(spec, name="once", runs_dir=tmp_path / "runs", quiet=True)
    before = (run / "model.txt").read_bytes()
    with pytest.raises(TrainingError, match=r"once: run directory already exists"):
        train_run(spec, name="once", runs_dir=tmp_path / "runs", quiet=True)
    assert (run / "model.txt").read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["once"]


@pytest.mark.parametrize(
    ("fields", "error", "match"),
    [
        (
            {"feature_families": ["knn", "nope"]},
            SpecError,
            r"feature_families: unknown family 'nope'",
        ),
        ({"objective": "binary"}, SpecError, r"objective: 'binary' needs label_kind 'binary'"),
        ({"protocol": {"snapshots": ["1999..2000"]}}, SpecError, r"protocol.snapshots: unknown"),
        ({"gate": {"metric": "roc_auc"}}, SpecError, r"gate.metric: 'roc_auc' needs binary"),
        ({"early_stopping": {"valid_fraction": 0.0001}}, TrainingError, r"validation split"),
    ],
)
def test_bad_spec_for_this_dataset_writes_nothing(
    graded_dataset: Path, make_spec: SpecFactory, tmp_path: Path,
    fields: dict[str, Any], error: type[Exception], match: str,
) -> None:  # fmt: skip
    spec = make_spec(graded_dataset, **fields)
    with pytest.raises(error, match=match):
        train_run(spec, name="bad", runs_dir=tmp_path / "runs", quiet=True)
    assert not (tmp_path / "runs").exists()


def test_weighting_changes_the_model(
    graded_dataset: Path, make_spec: SpecFactory, tmp_path: Path
) -> None:
    assert open_dataset(graded_dataset).manifest.has_weight
    [run] = train_run(make_spec(graded_dataset, weighting="sqrt"), name="w",
                      runs_dir=tmp_path / "runs", quiet=True)  # fmt: skip
    [other] = train_run(make_spec(graded_dataset, "plain.yaml"), name="p",
                        runs_dir=tmp_path / "runs", quiet=True)  # fmt: skip
    assert (run / "model.txt").read_bytes() != (other / "model.txt").read_bytes()


def test_feature_names_lightgbm_would_rewrite_are_refused(
    graded_dataset: Path, make_spec: SpecFactory, tmp_path: Path
) -> None:
    """LightGBM turns spaces into underscores; run.json and model.txt would disagree."""
    source = open_dataset(graded_dataset)
    schema = {f: [c.replace("knn_", "knn ") for c in cols]
              for f, cols in source.manifest.feature_schema.items()}  # fmt: skip

    def renamed(split: str) -> pa.Table:
        table = source.read(split)
        return table.rename_columns([c.replace("knn_", "knn ") for c in table.column_names])

    target = tmp_path / "spaced"
    write_dataset(target, name="spaced", train=renamed("train"), eval=renamed("eval"),
                  feature_schema=schema, label_kind="graded")  # fmt: skip
    spec = make_spec(target, feature_families=["knn"])
    with pytest.raises(TrainingError, match=r"model.txt feature_names .* differ"):
        train_run(spec, name="spaced", runs_dir=tmp_path / "runs", quiet=True)
    assert not (tmp_path / "runs").exists()
