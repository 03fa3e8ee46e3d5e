"""Row-level checks shared by the writer (fail on the first problem) and ``validate``.

Everything is vectorised per record batch with pyarrow.compute / numpy; only the
query-contiguity check touches Python objects, once per query (not per row).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .columns import (
    BASE_SCORE,
    CANDIDATE_ID,
    CATEGORY,
    LABEL,
    QUERY_ID,
    REQUIRED_COLUMNS,
    SNAPSHOT_PAIR,
    WEIGHT,
)

MAX_GRADE = 30
"""Highest graded label: LightGBM's default ``label_gain`` covers grades 0..30 (lambdarank)."""


def label_rule(labels: np.ndarray[Any, Any], label_kind: str) -> tuple[np.ndarray[Any, Any], str]:
    """The one label rule (writer, ``validate``, training, receipts): bad rows' mask, rule text."""
    if label_kind == "binary":
        return (labels != 0) & (labels != 1), "0 or 1 (label_kind 'binary')"
    return (labels < 0) | (labels > MAX_GRADE), f"a grade 0..{MAX_GRADE} (label_kind 'graded')"


def one_line(exc: BaseException) -> str:
    """An exception's message cut to its first line (Arrow's messages can run on)."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a dataset, located as precisely as possible."""

    message: str
    file: str | None = None
    column: str | None = None
    row: int | None = None

    def __str__(self) -> str:
        where = [part for part in (self.file,) if part]
        if self.column is not None:
            where.append(f"column {self.column!r}")
        if self.row is not None:
            where.append(f"row {self.row}")
        return f"{', '.join(where)}: {self.message}" if where else self.message


def _first_true(mask: np.ndarray[Any, Any]) -> int | None:
    hits = np.flatnonzero(mask)
    return int(hits[0]) if hits.size else None


def _values(column: pa.Array[Any] | pa.ChunkedArray[Any]) -> np.ndarray[Any, Any]:
    return np.asarray(column.to_numpy(zero_copy_only=False))


@dataclass
class RowChecker:
    """Checks the batches of one split file in order; remembers what spans batches."""

    file: str
    label_kind: str
    rows: int = 0
    categories: set[str] = field(default_factory=set)
    snapshot_pairs: set[str] = field(default_factory=set)
    _seen_queries: set[object] = field(default_factory=set)
    _last_query: object = None
    _carry: pa.Table | None = None  # the last query's (query, candidate, row) so far

    def check(self, batch: pa.RecordBatch) -> list[Problem]:
        """All problems in ``batch`` (at most one per check); advances the row counter."""
        problems: list[Problem] = []
        offset = self.rows
        self.rows += batch.num_rows
        if batch.num_rows == 0:
            return problems
        names = set(batch.schema.names)
        nulls: set[str] = set()
        for column in (*REQUIRED_COLUMNS, WEIGHT):
            if column in names and batch.column(column).null_count:
                row = _first_true(_values(pc.is_null(batch.column(column))))
                problems.append(self._at(column, offset, row, "missing value (null)"))
                nulls.add(column)
        if LABEL in names and LABEL not in nulls:
            problems.extend(self._labels(batch.column(LABEL), offset))
        if BASE_SCORE in names and BASE_SCORE not in nulls:
            base = _values(batch.column(BASE_SCORE))
            row = _first_true(~np.isfinite(base))
            if row is not None:
                problems.append(
                    self._at(BASE_SCORE, offset, row, f"expected a finite float, found {base[row]}")
                )
        if WEIGHT in names and WEIGHT not in nulls:
            weight = _values(batch.column(WEIGHT))
            row = _first_true(~(np.isfinite(weight) & (weight >= 0)))
            if row is not None:
                found = f"expected a finite float >= 0, found {weight[row]}"
                problems.append(self._at(WEIGHT, offset, row, found))
        for column, bucket in ((CATEGORY, self.categories), (SNAPSHOT_PAIR, self.snapshot_pairs)):
            if column in names and column not in nulls:
                values = batch.column(column)
                blank = pc.equal(pc.utf8_trim_whitespace(values), pa.scalar(""))
                row = _first_true(_values(blank))
                if row is not None:
                    problems.append(self._at(column, offset, row, "expected a non-blank string"))
                bucket.update(str(v) for v in pc.unique(values).to_pylist())
        if QUERY_ID in names and QUERY_ID not in nulls:
            problems.extend(self._contiguity(batch.column(QUERY_ID), offset))
            if CANDIDATE_ID in names and CANDIDATE_ID not in nulls:
                problems.extend(self._duplicates(batch, offset))
        return problems

    def _at(self, column: str, offset: int, row: int | None, message: str) -> Problem:
        return Problem(message, self.file, column, None if row is None else offset + row)

    def _labels(self, column: pa.Array[Any], offset: int) -> list[Problem]:
        labels = _values(column)
        bad, expected = label_rule(labels, self.label_kind)
        row = _first_true(bad)
        if row is None:
            return []
        return [self._at(LABEL, offset, row, f"expected {expected}, found {labels[row]}")]

    def _contiguity(self, column: pa.Array[Any], offset: int) -> list[Problem]:
        n = len(column)
        changed = _values(pc.not_equal(column.slice(1), column.slice(0, n - 1)))
        starts = np.concatenate(([0], np.flatnonzero(changed) + 1))
        run_values = column.take(starts.astype(np.int64)).to_pylist()
        problems: list[Problem] = []
        for i, value in enumerate(run_values):
            if i == 0 and offset > 0 and value == self._last_query:
                continue
            if value in self._seen_queries and not problems:
                problems.append(
                    self._at(
                        QUERY_ID,
                        offset,
                        int(starts[i]),
                        f"rows of query {value!r} are not contiguous "
                        "(the query already appeared earlier in the file)",
                    )
                )
            self._seen_queries.add(value)
        self._last_query = run_values[-1]
        return problems

    def _duplicates(self, batch: pa.RecordBatch, offset: int) -> list[Problem]:
        """The first (query, candidate) pair that occurs twice; queries may span batches."""
        rows = pa.array(np.arange(offset, offset + batch.num_rows, dtype=np.int64))
        keys = pa.table({"q": batch.column(QUERY_ID), "c": batch.column(CANDIDATE_ID), "row": rows})
        if self._carry is not None and self._carry.schema == keys.schema:
            keys = pa.concat_tables([self._carry, keys])
        last = keys.column("q")[-1]
        self._carry = keys.filter(_values(pc.equal(keys.column("q"), last)).astype(bool))
        counts = keys.group_by(["q", "c"]).aggregate([("row", "list"), ("row", "max")])
        lengths = _values(pc.list_value_length(counts.column("row_list")))
        newest = _values(counts.column("row_max"))
        repeated = counts.filter((lengths > 1) & (newest >= offset))  # not reported before
        if repeated.num_rows == 0:
            return []
        first = min(repeated.to_pylist(), key=lambda item: sorted(item["row_list"])[1])
        at = sorted(first["row_list"])
        shown = ", ".join(map(str, at[:5])) + (", ..." if len(at) > 5 else "")
        more = f"; {repeated.num_rows - 1} more repeated pairs" if repeated.num_rows > 1 else ""
        return [
            Problem(
                f"query {first['q']!r}: candidate {first['c']!r} appears {len(at)} times "
                f"(rows {shown}); a (query_id, candidate_id) pair must be unique{more}",
                self.file,
                CANDIDATE_ID,
            )
        ]

    @property
    def queries(self) -> int:
        """How many distinct queries were seen so far."""
        return len(self._seen_queries)
