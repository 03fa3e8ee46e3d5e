"""Ranking metrics over all queries at once (numpy segment reductions, no loop per query).

Definitions (the same for the model's scores and for the ``base_score`` ordering):

- Rows of one query are contiguous. Within a query rows are ranked by score, highest
  first; ties keep the original row order (stable), as LightGBM's own metrics do.
- ``ndcg@k``: LightGBM's definition by default. DCG@k = sum over the top min(k, n) ranks
  of gain(label) / log2(rank + 1); NDCG = DCG / ideal DCG. A query with no relevant row
  (ideal DCG 0) scores 1, as in LightGBM. The mean over queries is unweighted. The gain,
  the no-relevant score and short queries follow an ``NdcgRule`` (``conventions``).
- Relevant means ``label > 0``. ``map`` is the mean over queries of average precision
  (precision at each relevant rank, averaged over the query's relevant rows); ``mrr`` the
  mean reciprocal rank of the first relevant row. Queries with no relevant row score 1
  for both (LightGBM's convention for its ranking metrics: nothing to find, nothing missed).
- ``fmax`` (CAFA's query-centric Fmax): at threshold t a row is predicted if its score is
  >= t. Precision(t) is averaged over the queries with at least one predicted row,
  recall(t) over the queries with at least one relevant row; F(t) is their harmonic mean
  and Fmax the maximum over t. The thresholds are the 0, 1, ..., 100 % quantiles of the
  scores evaluated, so Fmax does not depend on the scale of the scores.
- ``fmax_weighted``: the same with every row counted by its ``weight`` (e.g. the
  information accretion of the candidate) instead of 1. Only when a weight column exists.
- ``roc_auc`` and ``pr_auc`` (average precision) pool all rows; binary labels only.

Metrics that are undefined on the data (e.g. AUC with one class) are left out, for the
model and the baseline alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tessera_contracts import CategoryMetrics, Metrics, SplitQueryCounts
from tessera_lab.conventions import NdcgRule, mean_or_none, query_counts
from tessera_lab.errors import DatasetError

Arr = np.ndarray[Any, Any]
NDCG_CUTOFFS: tuple[int, ...] = (1, 3, 5, 10)
FMAX_QUANTILES = np.linspace(0.0, 1.0, 101)


def query_starts(query_index: Arr) -> Arr:
    """Start offsets of each run of equal ids (the queries, since their rows are contiguous)."""
    n = len(query_index)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    changed = np.flatnonzero(query_index[1:] != query_index[:-1]) + 1
    return np.concatenate(([0], changed)).astype(np.int64)


def _group_of_rows(starts: Arr, n: int) -> Arr:
    marks = np.zeros(n, dtype=np.int64)
    marks[starts[1:]] = 1
    return np.cumsum(marks)


class Queries:
    """Rows grouped into contiguous queries, with labels (and optional weights).

    Label-only quantities (ideal DCG, relevant counts) are computed once and shared by
    every set of scores evaluated on these queries (the model's and the baseline's).
    """

    def __init__(
        self, starts: Arr, label: Arr, weight: Arr | None = None, rule: NdcgRule | None = None
    ) -> None:
        self.rule = rule or NdcgRule()
        self.n = len(label)
        self.starts = starts
        self.label = np.asarray(label, dtype=np.float64)
        self.weight = None if weight is None else np.asarray(weight, dtype=np.float64)
        self.group = _group_of_rows(starts, self.n)
        self.position = np.arange(self.n, dtype=np.int64) - starts[self.group]
        self.relevant = self.label > 0
        self.n_relevant = np.add.reduceat(self.relevant.astype(np.float64), starts)
        self.gains = self.rule.gains(self.label)
        self.sizes = np.diff(np.append(starts, self.n))
        self.discount = 1.0 / np.log2(self.position + 2.0)
        self._ideal: dict[int, Arr] = {}

    @classmethod
    def from_ids(
        cls, query_ids: Arr, label: Arr, weight: Arr | None = None, rule: NdcgRule | None = None
    ) -> Queries:
        """Group rows by runs of equal query ids."""
        return cls(query_starts(np.asarray(query_ids)), label, weight, rule)

    @property
    def count(self) -> int:
        """Number of queries."""
        return len(self.starts)

    def order(self, score: Arr) -> Arr:
        """Row order: query, then score descending, then original row (stable ties)."""
        by_score = np.argsort(-np.asarray(score, dtype=np.float64), kind="stable")
        return by_score[np.argsort(self.group[by_score], kind="stable")]

    def segment_sum(self, values: Arr) -> Arr:
        """Per-query sums of a per-row array (in the ranked or original order alike)."""
        return np.add.reduceat(values, self.starts)

    def dcg(self, ranked_gains: Arr, k: int) -> Arr:
        """Per-query DCG@k of gains already in ranked order."""
        return self.segment_sum(np.where(self.position < k, ranked_gains * self.discount, 0.0))

    def ideal_dcg(self, k: int) -> Arr:
        """Per-query ideal DCG@k (labels sorted descending), cached."""
        if k not in self._ideal:
            if not self._ideal:
                self._ideal_gains = self.gains[self.order(self.label)]
            self._ideal[k] = self.dcg(self._ideal_gains, k)
        return self._ideal[k]


def ndcg_at(
    queries: Queries, order: Arr, cutoffs: tuple[int, ...] = NDCG_CUTOFFS
) -> dict[str, Arr]:
    """Per-query NDCG@k for each cutoff, rows ranked by ``order``."""
    ranked = queries.gains[order]
    out = {}
    for k in cutoffs:
        dcg, idcg = queries.dcg(ranked, k), queries.ideal_dcg(k)
        out[f"ndcg@{k}"] = queries.rule.finish(dcg, idcg, queries.sizes, k)
    return out


def split_query_counts(
    query_ids: Arr, label: Arr, cutoffs: tuple[int, ...] = NDCG_CUTOFFS
) -> SplitQueryCounts:
    """The queries of a split that the NDCG conventions treat differently (see ``NdcgRule``)."""
    queries = Queries.from_ids(np.asarray(query_ids), np.asarray(label))
    return query_counts(queries.sizes, queries.n_relevant, cutoffs)


def map_mrr(queries: Queries, order: Arr) -> tuple[Arr, Arr]:
    """Per-query average precision and reciprocal rank (1 for queries with nothing relevant)."""
    relevant = queries.relevant[order].astype(np.float64)
    cumulative = np.cumsum(relevant)
    before = (cumulative - relevant)[queries.starts][queries.group]
    precision = (cumulative - before) / (queries.position + 1.0)
    has = queries.n_relevant > 0
    ap = np.where(
        has, queries.segment_sum(precision * relevant) / np.maximum(queries.n_relevant, 1), 1.0
    )
    first = np.minimum.reduceat(np.where(relevant > 0, queries.position, queries.n), queries.starts)
    rr = np.where(has, 1.0 / (first + 1.0), 1.0)
    return ap, rr


def per_query(queries: Queries, score: Arr) -> dict[str, Arr]:
    """The per-query metrics (NDCG@k, AP, RR) of one set of scores: one sort for all."""
    order = queries.order(score)
    out = ndcg_at(queries, order)
    out["map"], out["mrr"] = map_mrr(queries, order)
    return out


def fmax(queries: Queries, score: Arr, weight: Arr | None = None) -> float | None:
    """Query-centric Fmax (see the module docstring); None when no query has a relevant row."""
    w = np.ones(queries.n) if weight is None else np.asarray(weight, dtype=np.float64)
    truth = queries.segment_sum(w * queries.relevant)
    has_truth = truth > 0
    if not has_truth.any():
        return None
    score = np.asarray(score, dtype=np.float64)
    thresholds = np.unique(np.quantile(score, FMAX_QUANTILES))
    width = len(thresholds) + 1
    # bucket b = how many thresholds are <= score; the row is predicted at threshold j iff b > j
    bucket = np.searchsorted(thresholds, score, side="right")
    cells = queries.group * width + bucket
    size = queries.count * width
    predicted = np.bincount(cells, weights=w, minlength=size).reshape(queries.count, width)
    hits = np.bincount(cells, weights=w * queries.relevant, minlength=size)
    hits = hits.reshape(queries.count, width)
    # at threshold j: sum of buckets j+1 .. end (suffix sums, dropping bucket 0)
    predicted = np.cumsum(predicted[:, ::-1], axis=1)[:, ::-1][:, 1:]
    hits = np.cumsum(hits[:, ::-1], axis=1)[:, ::-1][:, 1:]
    covered = predicted > 0
    n_covered = covered.sum(axis=0)
    precision_sum = np.where(covered, hits / np.where(covered, predicted, 1.0), 0.0).sum(axis=0)
    precision = np.divide(
        precision_sum, n_covered, out=np.zeros_like(precision_sum), where=n_covered > 0
    )
    recall = (hits[has_truth] / truth[has_truth, None]).mean(axis=0)
    denominator = precision + recall
    f = np.divide(
        2 * precision * recall, denominator, out=np.zeros_like(denominator), where=denominator > 0
    )
    f = np.where(n_covered > 0, f, 0.0)
    return float(f.max())


def pooled_metrics(
    queries: Queries, score: Arr, *, binary: bool, weight: Arr | None = None
) -> dict[str, float]:
    """The metrics that do not average per query: Fmax (thresholds pool rows), AUCs."""
    metrics: dict[str, float] = {}
    value = fmax(queries, score)
    if value is not None:
        metrics["fmax"] = value
    if weight is not None:
        value = fmax(queries, score, weight)
        if value is not None:
            metrics["fmax_weighted"] = value
    if binary:
        from sklearn.metrics import average_precision_score, roc_auc_score  # slow to import

        labels = queries.relevant.astype(np.int64)
        if 0 < labels.sum() < len(labels):
            metrics["roc_auc"] = float(roc_auc_score(labels, score))
            metrics["pr_auc"] = float(average_precision_score(labels, score))
    return metrics


def ranking_metrics(
    queries: Queries, score: Arr, *, binary: bool, weight: Arr | None = None
) -> dict[str, float]:
    """Every metric of the module docstring for one set of scores, averaged over queries."""
    if queries.n == 0:
        return {}
    means = {name: mean_or_none(v) for name, v in per_query(queries, score).items()}
    metrics = {name: v for name, v in means.items() if v is not None}
    return metrics | pooled_metrics(queries, score, binary=binary, weight=weight)


def compare(
    query_ids: Arr,
    label: Arr,
    category: Arr,
    model_score: Arr,
    base_score: Arr,
    *,
    binary: bool,
    weight: Arr | None = None,
    rule: NdcgRule | None = None,
) -> Metrics:
    """Model vs ``base_score`` ordering, overall and per category (sorted), as ``Metrics``.

    Per-query metrics are computed once; a category's value is the mean over its queries
    (each query lies in one category; queries the NDCG rule excludes are left out, and a
    metric with no query left is left out). Pooled metrics are recomputed on the category's
    rows.
    """
    category = np.asarray(category)
    queries = Queries.from_ids(np.asarray(query_ids), label, weight, rule)
    scores = {"model": np.asarray(model_score), "baseline": np.asarray(base_score)}
    arrays = {side: per_query(queries, s) for side, s in scores.items()}
    query_category = category[queries.starts]
    if queries.n and not np.array_equal(query_category[queries.group], category):
        row = int(np.flatnonzero(query_category[queries.group] != category)[0])
        query = np.asarray(query_ids)[row].item()
        raise DatasetError(
            f"column 'category', evaluated row {row}: query {query!r} spans more than one "
            "category (run 'tessera-lab dataset validate')"
        )

    def summary(
        side: str, rows: Arr | slice, in_category: Arr | slice, sub: Queries
    ) -> dict[str, float]:
        means = {name: mean_or_none(v[in_category]) for name, v in arrays[side].items()}
        kept = {name: v for name, v in means.items() if v is not None}
        w = None if weight is None else weight[rows]
        return kept | pooled_metrics(sub, scores[side][rows], binary=binary, weight=w)

    everything = slice(None)
    overall = {side: summary(side, everything, everything, queries) for side in scores}
    per_category: dict[str, CategoryMetrics] = {}
    for value in sorted({str(c) for c in np.unique(category)}):
        rows = np.flatnonzero(category == value)
        in_category = np.flatnonzero(query_category == value)
        sub = Queries.from_ids(
            np.asarray(query_ids)[rows],
            label[rows],
            None if weight is None else weight[rows],
            queries.rule,
        )
        per_category[value] = CategoryMetrics(
            rows=len(rows),
            queries=len(in_category),
            eval=summary("model", rows, in_category, sub),
            baseline=summary("baseline", rows, in_category, sub),
        )
    return Metrics(eval=overall["model"], baseline=overall["baseline"], per_category=per_category)
