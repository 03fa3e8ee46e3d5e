"""The training protocol: which rows train, validate and evaluate each booster.

Snapshot filter (all pairs or a chosen subset), cells (one pooled booster or one per
category), the weighting scheme, the validation set (carved from TRAIN by whole queries,
seeded, or the training rows of named snapshot pairs, which are then never trained on;
eval is never touched before the final evaluation) and the smoke subsample.
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


def training_pairs(dataset: Dataset, spec: Spec) -> list[str]:
    """The snapshot pairs whose train rows train: the protocol's, minus validation pairs."""
    chosen = spec.protocol.snapshots
    pairs = list(dataset.manifest.snapshot_pairs) if chosen == "all" else list(chosen)
    return [p for p in pairs if p not in (spec.validation.snapshot_pairs or [])]


def read_rows(
    dataset: Dataset, split: str, spec: Spec, names: list[str], pairs: list[str] | None = None
) -> Rows:
    """Read one split's rows of ``pairs`` (default: the protocol's snapshot filter), labels
    and query contiguity checked."""
    path = str(dataset.split_path(split))
    has_weight = dataset.manifest.has_weight
    columns = [QUERY_ID, LABEL, CATEGORY, SNAPSHOT_PAIR, BASE_SCORE]
    table = dataset.read(split, columns=[*columns, *([WEIGHT] if has_weight else []), *names])
    _check_labels(table, path, dataset.manifest.label_kind)  # rows numbered as in the file
    if pairs is None and spec.protocol.snapshots != "all":
        pairs = list(spec.protocol.snapshots)
    if pairs is not None:
        table = table.filter(pc.is_in(table.column(SNAPSHOT_PAIR), value_set=pa.array(pairs)))
    if table.num_rows == 0:
        what = "" if pairs is None else f" for snapshot pairs {pairs}"
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
    named = [("protocol.snapshots", spec.protocol.snapshots)]
    named.append(("validation.snapshot_pairs", spec.validation.snapshot_pairs or []))
    for key, pairs in named:
        unknown = [] if pairs == "all" else sorted(set(pairs) - set(manifest.snapshot_pairs))
        if unknown:
            raise SpecError(
                f"{source}: {key}: unknown snapshot pair(s) {unknown}: dataset "
                f"{manifest.name!r} has {manifest.snapshot_pairs}"
            )
    if not training_pairs(dataset, spec):
        raise SpecError(
            f"{source}: validation.snapshot_pairs: {spec.validation.snapshot_pairs} leave no "
            f"snapshot pair to train on (dataset {manifest.name!r} has {manifest.snapshot_pairs})"
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
            "queries (need at least one query on each side; change validation.carve)"
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


def _in_category(rows: Rows, category: str) -> Rows:
    return rows.take(np.flatnonzero(rows.category == category))


def _cell_valid(
    train: Rows, valid: Rows | None, spec: Spec, *, smoke: bool, where: str
) -> tuple[Rows, Rows | None]:
    """The cell's (train, valid): named validation rows, a seeded carve, or none."""
    if spec.early_stopping is None:
        return train, None
    if valid is None:
        fraction = spec.validation.carve
        assert fraction is not None  # a Validation without snapshot pairs carves
        return carve_valid(train, fraction, spec.seed, where)
    if valid.n == 0:
        raise TrainingError(
            f"{where}: validation.snapshot_pairs {spec.validation.snapshot_pairs} hold no "
            "training rows here; name pairs that do (or use validation: {carve: FRACTION})"
        )
    return train, smoke_subsample(valid) if smoke else valid


def build_cells(
    train: Rows,
    eval_rows: Rows,
    spec: Spec,
    *,
    smoke: bool,
    where: str,
    valid: Rows | None = None,
) -> list[Cell]:
    """One cell (pooled) or one per category present in train, each with its validation set:
    ``valid`` (rows of the validation snapshot pairs) or a carve from the cell's train."""
    if spec.protocol.cells == "pooled":
        parts: list[tuple[str | None, Rows, Rows, Rows | None]] = [(None, train, eval_rows, valid)]
    else:
        parts = []
        for category in sorted(set(train.category.tolist())):
            cell_eval = _in_category(eval_rows, category)
            if cell_eval.n == 0:
                raise TrainingError(
                    f"{where}: eval split has no rows for category {category!r}; "
                    "cannot evaluate its booster (use protocol.cells: pooled)"
                )
            cell_valid = None if valid is None else _in_category(valid, category)
            parts.append((category, _in_category(train, category), cell_eval, cell_valid))
    cells = []
    for name, cell_train, cell_eval, named_valid in parts:
        if smoke:
            cell_train = smoke_subsample(cell_train)
        label = where if name is None else f"{where} (category {name!r})"
        cell_train, cell_valid = _cell_valid(
            cell_train, named_valid, spec, smoke=smoke, where=label
        )
        cells.append(Cell(name=name, train=cell_train, valid=cell_valid, eval=cell_eval))
    return cells
