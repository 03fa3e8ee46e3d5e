"""Metrics: against a per-query reference written from the definitions, and against LightGBM."""

from __future__ import annotations

import math
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest

from tessera_lab.errors import DatasetError
from tessera_lab.evaluation import Queries, compare, fmax, ranking_metrics

Arr = np.ndarray[Any, Any]


def random_queries(seed: int, count: int = 120) -> tuple[Arr, Arr, Arr, Arr]:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 14, count)
    qid = np.repeat(np.arange(count) * 7 + 3, sizes)  # ids need not be 0..n-1
    n = len(qid)
    label = rng.integers(0, 4, n) * (rng.random(n) < 0.5)
    score = np.round(rng.normal(size=n), 1)  # rounding makes many ties
    weight = rng.exponential(size=n)
    return qid, label, score, weight


def reference(qid: Arr, label: Arr, score: Arr, weight: Arr) -> dict[str, float]:
    """Straight from the module docstring, one query at a time."""
    ids = list(dict.fromkeys(qid.tolist()))
    ndcg: dict[int, list[float]] = {k: [] for k in (1, 3, 5, 10)}
    aps, rrs = [], []
    for q in ids:
        idx = np.flatnonzero(qid == q)
        order = sorted(range(len(idx)), key=lambda i: (-score[idx][i], i))
        ranked = label[idx][order]
        ideal = sorted(label[idx], reverse=True)
        for k in ndcg:
            dcg = sum((2.0 ** ranked[i] - 1) / math.log2(i + 2) for i in range(min(k, len(idx))))
            best = sum((2.0 ** ideal[i] - 1) / math.log2(i + 2) for i in range(min(k, len(idx))))
            ndcg[k].append(dcg / best if best > 0 else 1.0)
        relevant = ranked > 0
        if not relevant.any():
            aps.append(1.0)
            rrs.append(1.0)
            continue
        hits, precisions = 0, []
        for i, r in enumerate(relevant):
            if r:
                hits += 1
                precisions.append(hits / (i + 1))
        aps.append(float(np.mean(precisions)))
        rrs.append(1.0 / (int(np.argmax(relevant)) + 1))

    def cafa(w: Arr) -> float:
        best = 0.0
        for t in np.unique(np.quantile(score, np.linspace(0, 1, 101))):
            precision, recall = [], []
            for q in ids:
                idx = np.flatnonzero(qid == q)
                pred, rel, ww = score[idx] >= t, label[idx] > 0, w[idx]
                if (ww * pred).sum() > 0:
                    precision.append((ww * pred * rel).sum() / (ww * pred).sum())
                if (ww * rel).sum() > 0:
                    recall.append((ww * pred * rel).sum() / (ww * rel).sum())
            if precision:
                p, r = float(np.mean(precision)), float(np.mean(recall))
                if p + r > 0:
                    best = max(best, 2 * p * r / (p + r))
        return best

    out = {f"ndcg@{k}": float(np.mean(v)) for k, v in ndcg.items()}
    out.update(map=float(np.mean(aps)), mrr=float(np.mean(rrs)))
    out.update(fmax=cafa(np.ones(len(qid))), fmax_weighted=cafa(weight))
    return out


@pytest.mark.parametrize("seed", [0, 1])
def test_matches_the_per_query_reference(seed: int) -> None:
    qid, label, score, weight = random_queries(seed)
    got = ranking_metrics(Queries.from_ids(qid, label, weight), score, binary=False, weight=weight)
    want = reference(qid, label, score, weight)
    assert set(got) == set(want)
    for name, value in want.items():
        assert got[name] == pytest.approx(value, abs=1e-12), name


def test_ties_keep_the_original_row_order() -> None:
    qid = np.array([1, 1, 1, 2, 2])
    label = np.array([0, 0, 1, 1, 0])
    flat = np.zeros(5)
    metrics = ranking_metrics(Queries.from_ids(qid, label), flat, binary=True)
    # query 1 ranks its relevant row third, query 2 first: MRR = (1/3 + 1) / 2
    assert metrics["mrr"] == pytest.approx((1 / 3 + 1) / 2)
    assert metrics["ndcg@1"] == pytest.approx(0.5)


def test_queries_without_relevant_rows_score_one() -> None:
    qid = np.array([1, 1, 2, 2])
    label = np.array([0, 0, 0, 1])
    score = np.array([0.3, 0.2, 0.9, 0.1])
    metrics = ranking_metrics(Queries.from_ids(qid, label), score, binary=True)
    assert metrics["ndcg@1"] == pytest.approx((1.0 + 0.0) / 2)
    assert metrics["map"] == pytest.approx((1.0 + 0.5) / 2)


def test_fmax_ignores_the_scale_of_the_scores() -> None:
    qid, label, score, _ = random_queries(2)
    queries = Queries.from_ids(qid, label)
    assert fmax(queries, score) == pytest.approx(fmax(queries, np.exp(3 * score) + 10))
    assert fmax(Queries.from_ids(qid, np.zeros_like(label)), score) is None


def test_auc_only_for_binary_labels_with_both_classes() -> None:
    qid, label, score, _ = random_queries(3)
    binary = (label > 0).astype(int)
    metrics = ranking_metrics(Queries.from_ids(qid, binary), score, binary=True)
    assert 0.0 <= metrics["roc_auc"] <= 1.0 and 0.0 <= metrics["pr_auc"] <= 1.0
    graded = ranking_metrics(Queries.from_ids(qid, label), score, binary=False)
    assert "roc_auc" not in graded
    one_class = ranking_metrics(Queries.from_ids(qid, np.zeros_like(label)), score, binary=True)
    assert "roc_auc" not in one_class and "fmax" not in one_class


def test_ndcg_equals_lightgbms_own_metric() -> None:
    """Train a real booster; our NDCG@k of its predictions equals LightGBM's ndcg@k."""
    rng = np.random.default_rng(11)
    sizes = rng.integers(2, 30, 120)
    n = int(sizes.sum())
    x = rng.normal(size=(n, 5))
    label = np.clip(np.round(x[:, 0] + 0.5 * x[:, 1] + rng.normal(size=n)), 0, 4).astype(int)
    label[: sizes[0]] = 0  # one query with nothing relevant
    train = lgb.Dataset(x, label, group=sizes)
    valid = lgb.Dataset(x, label, group=sizes, reference=train)
    params = {
        "objective": "lambdarank", "metric": "ndcg", "eval_at": [1, 3, 5, 10], "num_leaves": 7,
        "min_data_in_leaf": 5, "num_threads": 1, "seed": 1, "verbosity": -1, "deterministic": True,
        "force_row_wise": True,
    }  # fmt: skip
    history: dict[str, Any] = {}
    booster = lgb.train(
        params, train, 10, valid_sets=[valid], valid_names=["v"],
        callbacks=[lgb.record_evaluation(history)],
    )  # fmt: skip
    qid = np.repeat(np.arange(len(sizes)), sizes)
    ours = ranking_metrics(Queries.from_ids(qid, label), booster.predict(x), binary=False)
    for k in (1, 3, 5, 10):
        assert ours[f"ndcg@{k}"] == pytest.approx(history["v"][f"ndcg@{k}"][-1], rel=1e-9)


def test_compare_side_by_side_and_per_category() -> None:
    qid, label, score, weight = random_queries(4, count=60)
    category = np.where(qid % 2 == 0, "even", "odd")
    base = -score  # the opposite ordering
    metrics = compare(qid, label, category, score, base, binary=False, weight=weight)
    assert set(metrics.eval) == set(metrics.baseline)
    assert sorted(metrics.per_category) == ["even", "odd"]
    even = metrics.per_category["even"]
    assert even.rows == int((category == "even").sum())
    assert even.queries == len(set(qid[category == "even"].tolist()))
    rows = category == "odd"
    alone = ranking_metrics(
        Queries.from_ids(qid[rows], label[rows], weight[rows]), score[rows], binary=False,
        weight=weight[rows],
    )  # fmt: skip
    assert metrics.per_category["odd"].eval == alone


def test_a_query_spanning_categories_is_refused() -> None:
    qid = np.array([1, 1, 2, 2])
    category = np.array(["a", "b", "b", "b"])
    score = np.arange(4.0)
    with pytest.raises(DatasetError, match=r"evaluated row 1: query 1 spans more than one"):
        compare(qid, np.array([0, 1, 1, 0]), category, score, score, binary=True)
