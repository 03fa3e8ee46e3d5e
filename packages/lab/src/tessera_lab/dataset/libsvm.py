"""Import LibSVM / LETOR text (``label [qid:Q] index:value ...``) into the contract layout.

Conventions (the same as LightGBM's own text loader):
- feature index ``i`` becomes column ``f{i}``; indices are used as given (LightGBM's
  convention: ``rank.train``'s indices 1..300 give ``f1``..``f300``; ``f0`` exists
  only if index 0 occurs). Columns run from ``f{min(1, smallest index)}`` to the
  largest index seen in either file; an absent index is 0.0, as in LightGBM;
- queries come from ``qid:`` fields, else from a group file (one query size per
  line), by default ``<data>.query`` beside the data file; eval query ids continue
  after the train ids so the splits never share a query;
- ``<data>.weight`` beside the data file (one weight per row) becomes ``weight``;
- a LETOR trailing comment ``#docid = ID ...`` becomes ``candidate_id`` (so scored
  output joins back to documents); without one the candidate id is the row number;
- without ``base_score_col`` the base score is ``-(position in the query)``: the
  baseline ordering is then the input order of each query.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from tessera_lab.errors import DatasetError

from .columns import BASE_SCORE, CANDIDATE_ID, CATEGORY, LABEL, QUERY_ID, SNAPSHOT_PAIR, WEIGHT

CHUNK_CELLS = 4_000_000
"""Dense cells per parsed chunk: rows per batch = CHUNK_CELLS // features (bounded memory)."""
Arr = np.ndarray[Any, Any]
DOCID = re.compile(r"\bdocid\s*=\s*(\S+)")


@dataclass
class TextScan:
    """What a first pass over a LibSVM file learned."""

    path: Path
    rows: int = 0
    min_index: int | None = None
    max_index: int | None = None
    has_qid: bool | None = None
    int_qids: bool = True
    labels: frozenset[int] = frozenset()
    dense: bool = False
    has_docid: bool = False
    """Every data line carries ``#docid = ID`` (LETOR): candidate ids are those strings."""


Parsed = tuple[int, str | None, list[str], str | None]
"""label, qid (or None), the index:value tokens, the LETOR docid (or None)."""


def _parse_line(path: Path, line_no: int, line: str) -> Parsed | None:
    text, _, comment = line.partition("#")
    body = text.split()
    if not body:
        return None
    try:
        label_value = float(body[0])
    except ValueError:
        raise DatasetError(f"{path}:{line_no}: label {body[0]!r} is not a number") from None
    if not np.isfinite(label_value) or label_value != round(label_value) or label_value < 0:
        raise DatasetError(
            f"{path}:{line_no}: label {body[0]!r} is not an integer >= 0 (NaN/negative/fraction)"
        )
    qid = None
    rest = body[1:]
    if rest and rest[0].startswith("qid:"):
        qid = rest[0][4:]
        rest = rest[1:]
    docid = DOCID.search(comment)
    return int(label_value), qid, rest, docid.group(1) if docid else None


def _parse_pairs(path: Path, line_no: int, tokens: list[str]) -> tuple[list[int], list[float]]:
    indices, values = [], []
    for token in tokens:
        index, sep, value = token.partition(":")
        bad = f"{path}:{line_no}: token {token!r} is not 'index:value'"
        if not sep:
            raise DatasetError(bad)
        try:
            indices.append(int(index))
            values.append(float(value))
        except ValueError:
            raise DatasetError(bad) from None
        if indices[-1] < 0:
            raise DatasetError(f"{path}:{line_no}: negative feature index in {token!r}")
    return indices, values


def scan_libsvm(path: Path) -> TextScan:
    """First pass: rows, index range, qid presence, label values (and every line's syntax)."""
    scan = TextScan(path)
    labels: set[int] = set()
    docids: bool | None = None
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    with handle:
        for line_no, line in enumerate(handle, 1):
            parsed = _parse_line(path, line_no, line)
            if parsed is None:
                continue
            label, qid, rest, docid = parsed
            if docids is None:
                docids = docid is not None
            elif docids != (docid is not None):
                raise DatasetError(
                    f"{path}:{line_no}: some lines have a '#docid = ...' comment and some do not "
                    "(candidate ids must come from all lines or none)"
                )
            if scan.has_qid is None:
                scan.has_qid = qid is not None
            elif scan.has_qid != (qid is not None):
                raise DatasetError(f"{path}:{line_no}: some lines have 'qid:' and some do not")
            if qid is not None and scan.int_qids and not qid.lstrip("-").isdigit():
                scan.int_qids = False
            indices, _ = _parse_pairs(path, line_no, rest)
            if indices:
                low, high = min(indices), max(indices)
                scan.min_index = low if scan.min_index is None else min(scan.min_index, low)
                scan.max_index = high if scan.max_index is None else max(scan.max_index, high)
            labels.add(label)
            scan.rows += 1
    if scan.rows == 0:
        raise DatasetError(f"{path}: no data rows")
    scan.labels = frozenset(labels)
    scan.has_docid = bool(docids)
    return scan


def read_side_file(path: Path, rows: int, kind: str) -> Arr:
    """A LightGBM side file (``.query`` sizes or ``.weight`` values), checked against ``rows``."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read {kind} file: {exc}") from exc
    values = []
    for line_no, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            values.append(float(line.strip()))
        except ValueError:
            raise DatasetError(f"{path}:{line_no}: {line.strip()!r} is not a number") from None
    array = np.array(values, dtype=np.float64)
    if kind == "query":
        if array.size == 0 or not np.all((array >= 1) & (array == np.round(array))):
            raise DatasetError(f"{path}: query sizes must be integers >= 1")
        if int(array.sum()) != rows:
            raise DatasetError(
                f"{path}: query sizes sum to {int(array.sum())}, but the data file has {rows} rows"
            )
        return array.astype(np.int64)
    if array.size != rows:
        raise DatasetError(f"{path}: {array.size} weights, but the data file has {rows} rows")
    return array


def query_positions(ids: Arr, carry: list[Any]) -> Arr:
    """Position of each row within its query, across batches; ``carry`` = [last id, position]."""
    n = len(ids)
    changed = np.ones(n, dtype=bool)
    changed[1:] = ids[1:] != ids[:-1]
    continues = carry[0] is not None and n > 0 and ids[0] == carry[0]
    if continues:
        changed[0] = False
    run_start = np.maximum.accumulate(np.where(changed, np.arange(n), 0))
    positions = np.arange(n) - run_start
    if continues:
        starts = np.flatnonzero(changed)
        positions[: starts[0] if starts.size else n] += carry[1] + 1
    if n:
        carry[0], carry[1] = ids[-1], int(positions[-1])
    return positions


@dataclass
class _Chunk:
    """One chunk of parsed rows: dense features, labels, qids (if read) and docids."""

    matrix: Arr
    labels: Arr
    qids: list[Any]
    docids: list[str]


def _read_chunk(
    scan: TextScan,
    lines: Iterator[tuple[int, str]],
    size: int,
    first_index: int,
    width: int,
    read_qids: bool,
) -> _Chunk:
    """Parse the next ``size`` data lines (skipping blank and comment lines)."""
    chunk = _Chunk(
        np.zeros((size, width), dtype=np.float64), np.empty(size, dtype=np.int64), [], []
    )
    filled = 0
    for line_no, line in lines:
        parsed = _parse_line(scan.path, line_no, line)
        if parsed is None:
            continue
        chunk.labels[filled], qid, rest, docid = parsed
        if scan.has_docid:
            chunk.docids.append(str(docid))
        indices, values = _parse_pairs(scan.path, line_no, rest)
        chunk.matrix[filled, np.array(indices, dtype=np.int64) - first_index] = values
        if read_qids:
            chunk.qids.append(int(qid) if scan.int_qids else qid)  # type: ignore[arg-type]
        filled += 1
        if filled == size:
            break
    return chunk


def libsvm_batches(
    scan: TextScan,
    *,
    first_index: int,
    last_index: int,
    query_ids: Arr | None,
    weights: Arr | None,
    category: str,
    snapshot_pair: str,
    base_score_column: str | None,
) -> Iterator[pa.RecordBatch]:
    """Second pass: dense record batches of about ``CHUNK_CELLS`` values each."""
    width = last_index - first_index + 1
    names = [f"f{i}" for i in range(first_index, last_index + 1)]
    carry: list[Any] = [None, -1]
    row = 0
    with scan.path.open(encoding="utf-8") as handle:
        lines = enumerate(handle, 1)
        while row < scan.rows:
            size = min(max(1024, CHUNK_CELLS // width), scan.rows - row)
            chunk = _read_chunk(scan, lines, size, first_index, width, query_ids is None)
            matrix = chunk.matrix
            qids = chunk.qids if query_ids is None else query_ids[row : row + size].tolist()
            ids = np.array(
                qids, dtype=np.int64 if scan.int_qids or query_ids is not None else object
            )
            positions = query_positions(ids, carry)
            columns: dict[str, Any] = {
                QUERY_ID: pa.array(ids, pa.int64() if ids.dtype == np.int64 else pa.string()),
                CANDIDATE_ID: (
                    pa.array(chunk.docids, pa.string())
                    if scan.has_docid
                    else np.arange(row, row + size, dtype=np.int64)
                ),
                LABEL: chunk.labels,
                CATEGORY: pa.array([category] * size, pa.string()),
                SNAPSHOT_PAIR: pa.array([snapshot_pair] * size, pa.string()),
                BASE_SCORE: (
                    matrix[:, names.index(base_score_column)].copy()
                    if base_score_column is not None
                    else (-positions).astype(np.float64)
                ),
            }
            if weights is not None:
                columns[WEIGHT] = weights[row : row + size]
            for j, name in enumerate(names):
                columns[name] = matrix[:, j]
            row += size
            yield pa.RecordBatch.from_pydict(columns)
