"""A separate validation file imported into ``train.parquet`` under its own snapshot pair.

A published fold (train / vali / test) becomes one dataset: the validation rows follow
the training rows in ``train.parquet`` with snapshot pair ``valid`` (or the name given),
so a spec's ``validation: {snapshot_pairs: [valid]}`` early-stops on exactly them. The
training rows must not already use that snapshot pair, and no query may occur in both
files (their rows would not be contiguous, and validation would leak into training).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tessera_lab.errors import DatasetError

from .columns import QUERY_ID, SNAPSHOT_PAIR

DEFAULT_VALID_PAIR = "valid"


@dataclass(frozen=True)
class ValidInput:
    """The validation file, its optional side files, and the snapshot pair its rows get."""

    path: Path
    query: Path | None = None
    weight: Path | None = None
    snapshot_pair: str = DEFAULT_VALID_PAIR


def _first_row(mask: Any) -> int:
    return int(np.flatnonzero(np.asarray(mask, dtype=bool))[0])


def train_then_valid(
    train: Iterable[pa.RecordBatch],
    valid_batches: Iterable[pa.RecordBatch],
    *,
    train_path: Path,
    valid: ValidInput,
) -> Iterator[pa.RecordBatch]:
    """The training batches, then the validation batches (their snapshot pair set), checked."""
    pair = valid.snapshot_pair
    seen: set[Any] = set()
    row = 0
    for batch in train:
        pairs = batch.column(batch.schema.get_field_index(SNAPSHOT_PAIR))
        clash = np.asarray(pairs.to_numpy(zero_copy_only=False) == pair)
        if clash.any():
            raise DatasetError(
                f"{train_path}: row {row + _first_row(clash)}: snapshot pair {pair!r} is the "
                "validation file's; give the validation rows another snapshot pair name"
            )
        seen.update(pc.unique(batch.column(batch.schema.get_field_index(QUERY_ID))).to_pylist())
        row += batch.num_rows
        yield batch
    row = 0
    for batch in valid_batches:
        ids = batch.column(batch.schema.get_field_index(QUERY_ID))
        both = [v for v in pc.unique(ids).to_pylist() if v in seen]
        if both:
            first = _first_row(pc.is_in(ids, value_set=pa.array(both)).to_numpy(False))
            raise DatasetError(
                f"{valid.path}: row {row + first}: query {ids[first].as_py()!r} also occurs in "
                f"the training file {train_path}; a validation query must not be trained on"
            )
        index = batch.schema.get_field_index(SNAPSHOT_PAIR)
        batch = batch.set_column(
            index, SNAPSHOT_PAIR, pa.array([pair] * batch.num_rows, pa.string())
        )
        row += batch.num_rows
        yield batch
