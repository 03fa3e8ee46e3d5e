"""The training protocol: which rows train, validate and evaluate each booster.

Snapshot filter (all pairs or a chosen subset), cells (one pooled booster or one per
category), the weighting scheme, the validation split carved from TRAIN by query
(seeded; eval is never touched before the final evaluation) and the smoke subsample.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tessera_lab.dataset import (
    BASE_SCORE,
    CATEGORY,
    LABEL,
    QUERY_ID,
    SNAPSHOT_PAIR,
    WEIGHT,
    Dataset,
    label_rule,
)
from tessera_lab.errors import DatasetError, SpecError, TrainingError
from tessera_lab.evaluation import query_starts
from tessera_lab.spec import Spec

Arr = np.ndarray[Any, Any]
SMOKE_MAX_TRAIN_ROWS = 5_000


@dataclass(frozen=True)
class Rows:
    """Rows of one split for one booster: features (C-contiguous) and what evaluation needs."""

    features: Arr
    label: Arr
    query_ids: Arr
    category: Arr
    base_score: Arr
    weight: Arr | None

    @property
    def n(self) -> int:
        return len(self.label)

    @property
    def queries(self) -> int:
        return len(query_starts(self.query_ids))

    def take(self, rows: Arr) -> Rows:
        """A subset of rows, in their original order."""
        return Rows(
            features=np.ascontiguousarray(self.features[rows]),
            label=self.label[rows],
            query_ids=self.query_ids[rows],
            category=self.category[rows],
            base_score=self.base_score[rows],
            weight=None if self.weight is None else self.weight[rows],
        )

    def group_sizes(self) -> Arr:
        """LightGBM group sizes: lengths of the contiguous runs of query ids."""
        starts = query_starts(self.query_ids)
        return np.diff(np.append(starts, self.n))


@dataclass(frozen=True)
class Cell:
    """The rows of one booster: ``name`` is None (pooled) or the category."""

    name: str | None
    train: Rows
    valid: Rows | None
    eval: Rows


def _numpy(column: pa.ChunkedArray[Any]) -> Arr:
    return np.asarray(column.to_numpy())


def _check_labels(table: pa.Table, path: str, label_kind: str) -> None:
    labels = _numpy(table.column(LABEL))
    bad, expected = label_rule(labels, label_kind)
    rows = np.flatnonzero(bad)
    if rows.size:
        raise DatasetError(
            f"{path}: column 'label', row {int(rows[0])}: expected {expected}, found "
            f"{labels[rows[0]]} ({rows.size} such rows; run 'tessera-lab dataset validate')"
        )


def _check_contiguous(ids: pa.ChunkedArray[Any], path: str) -> None:
    runs = len(query_starts(_numpy(ids)))
    distinct = pc.count_distinct(ids).as_py()
    if runs != distinct:
        raise DatasetError(
            f"{path}: column 'query_id': rows of a query are not contiguous ({runs} runs for "
            f"{distinct} queries; run 'tessera-lab dataset validate')"
        )


def read_rows(dataset: Dataset, split: str, spec: Spec, names: list[str]) -> Rows:
    """Read one split: the snapshot filter applied, labels and query contiguity checked."""
    path = str(dataset.split_path(split))
    has_weight = dataset.manifest.has_weight
    columns = [QUERY_ID, LABEL, CATEGORY, SNAPSHOT_PAIR, BASE_SCORE]
    table = dataset.read(split, columns=[*columns, *([WEIGHT] if has_weight else []), *names])
    _check_labels(table, path, dataset.manifest.label_kind)  # rows numbered as in the file
    if spec.protocol.snapshots != "all":
        keep = pc.is_in(table.column(SNAPSHOT_PAIR), value_set=pa.array(spec.protocol.snapshots))
        table = table.filter(keep)
    if table.num_rows == 0:
        what = (
            "" if spec.protocol.snapshots == "all" else f" for snapshots {spec.protocol.snapshots}"
        )
        raise TrainingError(f"{path}: split {split!r} has no rows{what}; nothing to {split} on")
    _check_contiguous(table.column(QUERY_ID), path)
    dtype = np.result_type(*(table.schema.field(n).type.to_pandas_dtype() for n in names))
    features = np.empty((table.num_rows, len(names)), dtype=dtype)
    for j, name in enumerate(names):
        features[:, j] = _numpy(table.column(name))
    return Rows(
        features=features,
        label=_numpy(table.column(LABEL)).astype(np.int64),
        query_ids=_numpy(table.column(QUERY_ID)),
        category=_numpy(table.column(CATEGORY)).astype(str),
        base_score=_numpy(table.column(BASE_SCORE)).astype(np.float64),
        weight=_numpy(table.column(WEIGHT)).astype(np.float64) if has_weight else None,
    )


def check_protocol(dataset: Dataset, spec: Spec, source: str) -> None:
    """Spec choices that depend on the dataset: snapshot pairs, weighting, objective."""
    manifest = dataset.manifest
    if spec.protocol.snapshots != "all":
        unknown = sorted(set(spec.protocol.snapshots) - set(manifest.snapshot_pairs))
        if unknown:
            raise SpecError(
                f"{source}: protocol.snapshots: unknown snapshot pair(s) {unknown}: dataset "
                f"{manifest.name!r} has {manifest.snapshot_pairs}"
            )
    if spec.weighting != "none" and not manifest.has_weight:
        raise SpecError(
            f"{source}: weighting: {spec.weighting!r} needs a weight column; dataset "
            f"{manifest.name!r} has none (use weighting: none)"
        )
    if spec.objective == "binary" and manifest.label_kind != "binary":
        raise SpecError(
            f"{source}: objective: 'binary' needs label_kind 'binary'; dataset "
            f"{manifest.name!r} is {manifest.label_kind!r} (use objective: lambdarank)"
        )


def training_weights(rows: Rows, weighting: str) -> Arr | None:
    """Per-row training weights for the weighting scheme (None: unweighted)."""
    if weighting == "none" or rows.weight is None:
        return None
    if weighting == "log1p":
        return np.log1p(rows.weight)
    if weighting == "sqrt":
        return np.sqrt(rows.weight)
    return rows.weight


def _query_mask(rows: Rows, chosen: Arr) -> Arr:
    starts = query_starts(rows.query_ids)
    sizes = np.diff(np.append(starts, rows.n))
    return np.repeat(chosen, sizes)


def carve_valid(rows: Rows, fraction: float, seed: int, where: str) -> tuple[Rows, Rows]:
    """Split TRAIN into (train, valid) by whole queries, a seeded ``fraction`` of them valid."""
    count = rows.queries
    n_valid = round(fraction * count)
    if count < 2 or n_valid < 1 or n_valid >= count:
        raise TrainingError(
            f"{where}: cannot carve a validation split of {fraction:g} from {count} training "
            "queries (need at least one query on each side; change early_stopping.valid_fraction)"
        )
    chosen = np.zeros(count, dtype=bool)
    chosen[np.random.default_rng(seed).permutation(count)[:n_valid]] = True
    valid = _query_mask(rows, chosen)
    return rows.take(np.flatnonzero(~valid)), rows.take(np.flatnonzero(valid))


def smoke_subsample(rows: Rows, max_rows: int = SMOKE_MAX_TRAIN_ROWS) -> Rows:
    """Every k-th query so that about ``max_rows`` rows remain (deterministic)."""
    if rows.n <= max_rows:
        return rows
    stride = -(-rows.n // max_rows)
    chosen = np.arange(rows.queries) % stride == 0
    return rows.take(np.flatnonzero(_query_mask(rows, chosen)))


def cell_dir_suffix(category: str) -> str:
    """A category as a run-directory suffix: unsafe characters become ``_``."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", category).strip("._-")
    return cleaned[:60] or "cell"


def build_cells(train: Rows, eval_rows: Rows, spec: Spec, *, smoke: bool, where: str) -> list[Cell]:
    """One cell (pooled) or one per category present in train, each with its own valid split."""
    if spec.protocol.cells == "pooled":
        parts: list[tuple[str | None, Rows, Rows]] = [(None, train, eval_rows)]
    else:
        parts = []
        for category in sorted(set(train.category.tolist())):
            cell_eval = eval_rows.take(np.flatnonzero(eval_rows.category == category))
            if cell_eval.n == 0:
                raise TrainingError(
                    f"{where}: eval split has no rows for category {category!r}; "
                    "cannot evaluate its booster (use protocol.cells: pooled)"
                )
            parts.append(
                (category, train.take(np.flatnonzero(train.category == category)), cell_eval)
            )
    cells = []
    for name, cell_train, cell_eval in parts:
        if smoke:
            cell_train = smoke_subsample(cell_train)
        valid = None
        if spec.early_stopping is not None:
            label = where if name is None else f"{where} (category {name!r})"
            cell_train, valid = carve_valid(
                cell_train, spec.early_stopping.valid_fraction, spec.seed, label
            )
        cells.append(Cell(name=name, train=cell_train, valid=valid, eval=cell_eval))
    return cells
