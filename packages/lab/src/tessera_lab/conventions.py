"""NDCG conventions that published tables differ on, as one explicit value (``NdcgRule``).

The default is LightGBM's, so the lab's numbers equal raw LightGBM's: gain
``2^label - 1``, a query without a relevant row scores 1, a query with fewer than k rows
counts at NDCG@k over the rows it has. ``query_counts`` says how many queries of a split
each choice touches, so a reader can judge how much the choice matters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from tessera_contracts import EvaluationRef, SplitQueryCounts
from tessera_lab.errors import DatasetError, SpecError
from tessera_lab.spec_sections import Gain, NdcgConvention, NoRelevant

Arr = np.ndarray[Any, Any]


@dataclass(frozen=True)
class NdcgRule:
    """The NDCG convention; ``label_gain`` is the gain table when ``gain`` is ``label_gain``."""

    no_relevant: NoRelevant = "one"
    gain: Gain = "exponential"
    short_queries: Literal["truncate", "exclude"] = "truncate"
    label_gain: tuple[float, ...] | None = None

    @classmethod
    def from_spec(cls, ndcg: NdcgConvention, label_gain: Sequence[float] | None) -> NdcgRule:
        """The rule a spec's ``evaluation.ndcg`` block (gain already resolved) names."""
        return cls(
            no_relevant=ndcg.no_relevant,
            gain=ndcg.gain or "exponential",
            short_queries=ndcg.short_queries,
            label_gain=None if label_gain is None else tuple(label_gain),
        )

    def gains(self, label: Arr) -> Arr:
        """Per-row gain of each label under this rule."""
        label = np.asarray(label, dtype=np.float64)
        if self.gain == "linear":
            return label.copy()
        if self.gain == "exponential":
            return np.asarray(np.exp2(label) - 1.0, dtype=np.float64)
        table = np.asarray(self.label_gain or (), dtype=np.float64)
        index = label.astype(np.int64)
        beyond = np.flatnonzero((index >= len(table)) | (index < 0))
        if beyond.size:
            raise DatasetError(
                f"column 'label', evaluated row {int(beyond[0])}: label {int(index[beyond[0]])} "
                f"has no entry in params.label_gain ({len(table)} gains, for labels "
                f"0..{len(table) - 1}); add gains up to the largest label"
            )
        return np.asarray(table[index], dtype=np.float64)

    def finish(self, dcg: Arr, idcg: Arr, sizes: Arr, k: int) -> Arr:
        """Per-query NDCG@k from DCG and ideal DCG; NaN marks an excluded query."""
        safe = np.where(idcg > 0, idcg, 1.0)
        empty = {"one": 1.0, "zero": 0.0, "exclude": np.nan}[self.no_relevant]
        out = np.where(idcg > 0, dcg / safe, empty)
        if self.short_queries == "exclude":
            out = np.where(sizes < k, np.nan, out)
        return out

    def record(self, splits: dict[str, SplitQueryCounts]) -> EvaluationRef:
        """The ``run.json`` form of this rule with the per-split query counts."""
        return EvaluationRef(
            ndcg_no_relevant=self.no_relevant,
            ndcg_gain=self.gain,
            label_gain=None if self.label_gain is None else list(self.label_gain),
            ndcg_short_queries=self.short_queries,
            splits=splits,
        )


def check_label_gain(
    table: Sequence[float] | None, labels_by_split: dict[str, Arr], where: str
) -> None:
    """Every label needs an entry in ``params.label_gain`` (LightGBM trains with it)."""
    if table is None:
        return
    largest = {split: int(np.max(v)) for split, v in labels_by_split.items() if len(v)}
    if not largest:
        return
    split = max(largest, key=lambda name: largest[name])
    if largest[split] >= len(table):
        raise SpecError(
            f"{where}: params.label_gain: {len(table)} gains cover labels 0..{len(table) - 1}, "
            f"but the {split} split has label {largest[split]}; give one gain per label up to "
            f"{largest[split]}"
        )


def query_counts(query_sizes: Arr, n_relevant: Arr, cutoffs: Sequence[int]) -> SplitQueryCounts:
    """How many queries have no relevant row, and fewer than k rows for each NDCG cutoff."""
    sizes = np.asarray(query_sizes)
    return SplitQueryCounts(
        queries=len(sizes),
        no_relevant=int(np.count_nonzero(np.asarray(n_relevant) == 0)),
        fewer_than_k={f"ndcg@{k}": int(np.count_nonzero(sizes < k)) for k in cutoffs},
    )


def mean_or_none(values: Arr) -> float | None:
    """The mean over the queries not excluded (NaN); None when every query is excluded."""
    values = np.asarray(values, dtype=np.float64)
    kept = values[~np.isnan(values)]
    return float(kept.mean()) if kept.size else None
