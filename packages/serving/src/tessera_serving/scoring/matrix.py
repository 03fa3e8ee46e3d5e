"""Feature matrices for the boosters, built into reused buffers.

A fresh multi-megabyte matrix per batch would touch cold memory every time (on this VM freed
memory goes back to the host within seconds and re-touching it is ~30x slower, see
PERF-NOTES); one C-contiguous float64 buffer per feature list, grown only when a batch is
larger, avoids that.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

_ZERO_COPY_TYPES = (pa.float64(), pa.float32(), pa.int64(), pa.int32(), pa.int16(), pa.int8())


def float64_values(column: pa.Array[Any] | pa.ChunkedArray[Any]) -> npt.NDArray[np.float64]:
    """The column as float64 numbers, nulls as NaN (NaN stays NaN)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_dictionary(column.type):
        column = cast("pa.DictionaryArray[Any, Any]", column).dictionary_decode()
    if column.null_count == 0 and column.type in _ZERO_COPY_TYPES:
        values = column.to_numpy(zero_copy_only=False)
    else:
        values = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
    return np.asarray(values, dtype=np.float64)


class MatrixBuilder:
    """Builds ``(rows, len(names))`` float64 matrices, columns picked by name in this order."""

    def __init__(self, names: tuple[str, ...], capacity: int = 0) -> None:
        self.names = names
        self._full = np.empty((capacity, len(names)), dtype=np.float64)
        self._rows = np.empty((0, len(names)), dtype=np.float64)

    def fill(self, batch: pa.RecordBatch) -> npt.NDArray[np.float64]:
        """All rows of ``batch`` as a C-contiguous view into the reused buffer."""
        n = batch.num_rows
        if n > self._full.shape[0]:
            self._full = np.empty((n, len(self.names)), dtype=np.float64)
        out = self._full[:n]
        for j, name in enumerate(self.names):
            out[:, j] = _column_for_copy(batch.column(name))
        return out

    def fill_rows(
        self, batch: pa.RecordBatch, rows: npt.NDArray[np.intp]
    ) -> npt.NDArray[np.float64]:
        """Rows ``rows`` of ``batch`` (sorted indices) as a C-contiguous reused view."""
        k = len(rows)
        if k > self._rows.shape[0]:
            self._rows = np.empty((max(k, self._full.shape[0]), len(self.names)), np.float64)
        out = self._rows[:k]
        for j, name in enumerate(self.names):
            out[:, j] = _column_for_copy(batch.column(name).take(rows))
        return out


def _column_for_copy(column: pa.Array[Any]) -> npt.NDArray[np.generic]:
    """Numbers numpy can cast into float64 while copying (zero-copy where Arrow allows)."""
    if column.null_count == 0 and column.type in _ZERO_COPY_TYPES:
        return column.to_numpy(zero_copy_only=False)
    return float64_values(column)
