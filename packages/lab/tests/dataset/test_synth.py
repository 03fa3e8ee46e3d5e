"""synth_dataset: shape, realism, determinism, and a real booster beating the base ordering."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pyarrow.compute as pc
import pytest

from tessera_lab.dataset import open_dataset, synth_dataset
from tessera_lab.dataset.synth import FEATURE_SCHEMA
from tessera_lab.errors import DatasetError

WHEN = datetime(2026, 1, 1, tzinfo=UTC)
Arr = np.ndarray[Any, Any]


def _group_sizes(query_ids: Arr) -> Arr:
    starts = np.concatenate(([0], np.flatnonzero(np.diff(query_ids)) + 1, [len(query_ids)]))
    return np.diff(starts)


def _ndcg_at_10(scores: Arr, labels: Arr, sizes: Arr) -> Arr:
    """Per-query NDCG@10 (queries without a relevant row are left out)."""
    out, start = [], 0
    for size in sizes:
        s, y = scores[start : start + size], labels[start : start + size]
        start += size
        if y.max() == 0:
            continue
        gain = 2.0**y - 1
        disc = 1 / np.log2(np.arange(2, min(10, size) + 2))
        top = np.argsort(-s, kind="stable")[:10]
        out.append((gain[top] * disc).sum() / (np.sort(gain)[::-1][:10] * disc).sum())
    return np.array(out)


def test_shape_and_realism(tmp_path: Path) -> None:
    manifest = synth_dataset(tmp_path / "ds", rows=12_000, seed=3, created_at=WHEN)
    ds = open_dataset(tmp_path / "ds")
    assert manifest.files["train.parquet"].rows + manifest.files["eval.parquet"].rows == 12_000
    assert manifest.feature_schema == FEATURE_SCHEMA
    assert len(manifest.feature_schema) == 5 and len(manifest.snapshot_pairs) >= 2
    assert manifest.label_kind == "binary" and manifest.has_weight
    train = ds.read("train")
    sizes = _group_sizes(train["query_id"].to_numpy())
    assert np.median(sizes) >= 20 and sizes.max() >= 100
    assert set(train["category"].to_pylist()) == set(manifest.categories)
    assert set(train["snapshot_pair"].to_pylist()) == set(manifest.snapshot_pairs)
    assert 0.02 < pc.mean(train["label"]).as_py() < 0.3
    weight = train["weight"].to_numpy()
    assert weight.min() >= 0 and weight.max() > 20 * np.median(weight)  # long tail
    assert np.isnan(train["aln_identity"].to_numpy(zero_copy_only=False)).mean() > 0.1
    eval_ids = set(ds.read("eval")["query_id"].to_pylist())
    assert not eval_ids & set(train["query_id"].to_pylist())


def test_graded_and_by_queries(tmp_path: Path) -> None:
    manifest = synth_dataset(tmp_path / "g", queries=50, label_kind="graded", snapshot_pairs=2)
    ds = open_dataset(tmp_path / "g")
    labels = set(ds.read("train")["label"].to_pylist())
    assert manifest.label_kind == "graded" and labels <= {0, 1, 2, 3} and max(labels) >= 2
    queries = len(set(ds.read("train")["query_id"].to_pylist())) + len(
        set(ds.read("eval")["query_id"].to_pylist())
    )
    assert queries == 50 and len(manifest.snapshot_pairs) == 2


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    a = synth_dataset(tmp_path / "a", rows=3000, seed=7, created_at=WHEN, chunk_rows=1000)
    b = synth_dataset(tmp_path / "b", rows=3000, seed=7, created_at=WHEN, chunk_rows=1000)
    c = synth_dataset(tmp_path / "c", rows=3000, seed=8, created_at=WHEN, chunk_rows=1000)
    for name in ("train.parquet", "eval.parquet", "manifest.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert a == b
    assert c.files["train.parquet"].sha256 != a.files["train.parquet"].sha256


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="at least 300 rows"):
        synth_dataset(tmp_path / "x", rows=10)
    with pytest.raises(DatasetError, match="label_kind"):
        synth_dataset(tmp_path / "x", label_kind="ordinal")
    assert not (tmp_path / "x").exists()


def test_booster_beats_base_ordering(tmp_path: Path) -> None:
    synth_dataset(tmp_path / "ds", rows=30_000, seed=11, created_at=WHEN)
    ds = open_dataset(tmp_path / "ds")
    train, test = ds.read("train"), ds.read("eval")
    cols = ds.feature_columns

    def matrix(table: Any) -> Arr:
        return np.column_stack([table[c].to_numpy(zero_copy_only=False) for c in cols])

    params = {
        "objective": "lambdarank",
        "num_threads": 1,
        "verbose": -1,
        "seed": 0,
        "num_leaves": 15,
        "learning_rate": 0.1,
    }
    train_set = lgb.Dataset(
        matrix(train), train["label"].to_numpy(), group=_group_sizes(train["query_id"].to_numpy())
    )
    booster = lgb.train(params, train_set, num_boost_round=40)
    sizes, labels = _group_sizes(test["query_id"].to_numpy()), test["label"].to_numpy()
    model = _ndcg_at_10(booster.predict(matrix(test)), labels, sizes)
    base = _ndcg_at_10(test["base_score"].to_numpy(), labels, sizes)
    lift = model - base
    standard_error = lift.std(ddof=1) / np.sqrt(len(lift))
    assert base.mean() > 0.3  # the base ordering is a real baseline, not noise
    assert lift.mean() > 0.08 and lift.mean() > 4 * standard_error


def test_signal_differs_by_family_category_and_snapshot(tmp_path: Path) -> None:
    from sklearn.metrics import roc_auc_score

    synth_dataset(tmp_path / "ds", rows=20_000, seed=5, created_at=WHEN)
    train = open_dataset(tmp_path / "ds").read("train")
    labels = train["label"].to_numpy()
    category = np.array(train["category"].to_pylist())

    def auc(column: str, mask: Arr | None = None) -> float:
        values = np.nan_to_num(train[column].to_numpy(zero_copy_only=False), nan=-1.0)
        keep = np.ones(len(values), bool) if mask is None else mask
        return float(roc_auc_score(labels[keep], values[keep]))

    # knn carries more signal than the upstream score; categories differ in difficulty.
    assert auc("knn_score") > auc("base_score") + 0.03
    by_category = {c: auc("knn_score", category == c) for c in ("BPO", "MFO", "CCO")}
    assert by_category["BPO"] + 0.02 < by_category["MFO"] < by_category["CCO"] - 0.01
    # Snapshot pairs drift: the neighbour database grows, so votes grow.
    pairs = np.array(train["snapshot_pair"].to_pylist())
    votes = train["knn_votes"].to_numpy()
    means = [votes[pairs == p].mean() for p in sorted(set(pairs))]
    assert means == sorted(means) and means[-1] > 1.2 * means[0]
