"""Dense delimited text without a header (LightGBM's TSV/CSV examples): label, then features.

As LightGBM numbers them, the label is file column 0 and file column j >= 1 is
feature j-1, i.e. column ``f{j-1}`` (``binary.train``'s 28 features are f0..f27).
The delimiter is a tab, a comma or whitespace, detected from the first line.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from tessera_lab.errors import DatasetError

from .checks import one_line
from .columns import BASE_SCORE, CANDIDATE_ID, CATEGORY, LABEL, QUERY_ID, SNAPSHOT_PAIR, WEIGHT
from .libsvm import CHUNK_CELLS, TextScan, query_positions

Arr = np.ndarray[Any, Any]


def _delimiter(line: str) -> str | None:
    return "\t" if "\t" in line else "," if "," in line else None


def _rows(path: Path, lines: list[str], first_line: int, delimiter: str | None) -> Arr:
    try:
        return np.loadtxt(io.StringIO("".join(lines)), delimiter=delimiter, ndmin=2)
    except ValueError as exc:
        raise DatasetError(
            f"{path}: lines {first_line}-{first_line + len(lines) - 1}: {one_line(exc)}"
        ) from exc


def _chunks(path: Path, rows_per_chunk: int) -> Iterator[tuple[int, Arr]]:
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    with handle:
        delimiter: str | None = None
        lines: list[str] = []
        first = 1
        for line_no, line in enumerate(handle, 1):
            if not line.strip():
                continue
            if not lines and delimiter is None:
                delimiter = _delimiter(line)
            if not lines:
                first = line_no
            lines.append(line)
            if len(lines) == rows_per_chunk:
                yield first, _rows(path, lines, first, delimiter)
                lines = []
        if lines:
            yield first, _rows(path, lines, first, delimiter)


def scan_dense(path: Path) -> TextScan:
    """First pass: rows, width (same on every line), label values."""
    scan = TextScan(path, has_qid=False, dense=True)
    labels: set[int] = set()
    width: int | None = None
    for first, block in _chunks(path, 50_000):
        if width is None:
            width = block.shape[1]
        if block.shape[1] != width or width < 2:
            raise DatasetError(f"{path}: near line {first}: expected {width} columns (label first)")
        label = block[:, 0]
        bad = np.flatnonzero(~(np.isfinite(label) & (label == np.round(label)) & (label >= 0)))
        if bad.size:
            raise DatasetError(
                f"{path}: label {label[bad[0]]} on data row {scan.rows + int(bad[0]) + 1} "
                "is not an integer >= 0"
            )
        labels.update(int(v) for v in np.unique(label))
        scan.rows += block.shape[0]
    if width is None:
        raise DatasetError(f"{path}: no data rows")
    scan.min_index, scan.max_index = 0, width - 2
    scan.labels = frozenset(labels)
    return scan


def dense_batches(
    scan: TextScan,
    *,
    first_index: int,
    last_index: int,
    query_ids: Arr,
    weights: Arr | None,
    category: str,
    snapshot_pair: str,
    base_score_column: str | None,
) -> Iterator[pa.RecordBatch]:
    """Second pass: record batches with ``f{first_index}``..``f{last_index}``."""
    assert scan.max_index is not None
    names = [f"f{i}" for i in range(first_index, last_index + 1)]
    own = scan.max_index + 1
    carry: list[Any] = [None, -1]
    row = 0
    for _, block in _chunks(scan.path, max(1024, CHUNK_CELLS // max(1, len(names)))):
        n = block.shape[0]
        ids = query_ids[row : row + n]
        positions = query_positions(ids, carry)
        columns: dict[str, Any] = {
            QUERY_ID: ids,
            CANDIDATE_ID: np.arange(row, row + n, dtype=np.int64),
            LABEL: block[:, 0].astype(np.int64),
            CATEGORY: pa.array([category] * n, pa.string()),
            SNAPSHOT_PAIR: pa.array([snapshot_pair] * n, pa.string()),
        }
        features = {
            name: block[:, 1 + i] if 0 <= i < own else np.zeros(n)
            for name, i in zip(names, range(first_index, last_index + 1), strict=True)
        }
        columns[BASE_SCORE] = (
            features[base_score_column].copy()
            if base_score_column is not None
            else (-positions).astype(np.float64)
        )
        if weights is not None:
            columns[WEIGHT] = weights[row : row + n]
        columns.update({k: np.ascontiguousarray(v) for k, v in features.items()})
        row += n
        yield pa.RecordBatch.from_pydict(columns)
