"""The pages of a re-score sweep: planned once, claimed by any number of workers.

Planning splits each input job's file into row ranges of whole queries (at least the page
size, except the last) and inserts them as ``pending`` pages in the transaction that opens
the sweep; on PostgreSQL an advisory lock on the sweep key makes concurrent openers wait
for the first one's plan instead of planning twice (SQLite's ``BEGIN IMMEDIATE`` already
serialises them). A worker claims the lowest pending page with ``FOR UPDATE SKIP LOCKED``,
so workers never wait for one another and never take the same page; the row lock lives as
long as the page's transaction, so a page whose worker died is claimable again at once.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pyarrow as pa
from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from tessera_serving.errors import ConfigurationError, ScoringError
from tessera_serving.registry.scale_tables import RescorePage
from tessera_serving.scoring.parquet_io import iter_input, open_parquet
from tessera_serving.scoring.scorer import QUERY_ID, query_starts

_PLAN_BATCH = 262_144


def lock_sweep_key(session: Session, key: str) -> None:
    """Serialise openers of one sweep key until the transaction ends (PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": int(key[:15], 16)})


def page_bounds(path: Path, page_size: int) -> Iterator[tuple[int, int]]:
    """``(first_row, end_row)`` of each page of ``path``: whole queries, >= ``page_size``
    rows each except the last. Streams the query id column only."""
    parquet = open_parquet(path)
    total, page_start, offset = parquet.metadata.num_rows, 0, 0
    last: Any = None
    for batch in iter_input(parquet, [QUERY_ID], _PLAN_BATCH):
        qid = batch.column(0)
        if pa.types.is_dictionary(qid.type):
            qid = cast("pa.DictionaryArray[Any, Any]", qid).dictionary_decode()
        starts = query_starts(qid)
        if offset and last is not None and qid[0].as_py() == last:
            starts = starts[1:]  # the first query continues from the previous batch
        for start in (starts + offset).tolist():
            if start - page_start >= page_size:
                yield page_start, start
                page_start = start
        last = qid[len(qid) - 1].as_py() if len(qid) else last
        offset += batch.num_rows
    if total > page_start:
        yield page_start, total


def plan_pages(
    session: Session, sweep_id: int, input_job_id: int, path: Path, page_size: int
) -> int:
    """Insert the pending pages of one input for ``sweep_id``; return how many."""
    rows = [
        {
            "sweep_id": sweep_id,
            "input_job_id": input_job_id,
            "first_row": first,
            "end_row": end,
            "status": "pending",
        }
        for first, end in page_bounds(path, page_size)
    ]
    if rows:
        session.execute(insert(RescorePage), rows)
    return len(rows)


def claim_page(session: Session, sweep_id: int) -> RescorePage | None:
    """The lowest pending page no other transaction holds, locked until this one ends."""
    query = (
        select(RescorePage)
        .where(RescorePage.sweep_id == sweep_id, RescorePage.status == "pending")
        .order_by(RescorePage.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return session.scalars(query).first()


def pages_left(session: Session, sweep_id: int) -> int:
    """Pages of the sweep not yet done (claimed-but-uncommitted ones included)."""
    query = select(func.count(RescorePage.id)).where(
        RescorePage.sweep_id == sweep_id, RescorePage.status != "done"
    )
    return int(session.scalar(query) or 0)


class ForwardRows:
    """Row ranges of one Parquet file, read forward in batches; going back restarts."""

    def __init__(self, path: Path, columns: list[str], batch_size: int) -> None:
        self._parquet = open_parquet(path)
        self._columns, self._batch_size = columns, batch_size
        self._path = path
        self._restart()

    def _restart(self) -> None:
        self._batches = iter_input(self._parquet, self._columns, self._batch_size)
        self._buf: pa.RecordBatch | None = None
        self._buf_start = 0

    def rows(self, first: int, end: int) -> pa.RecordBatch:
        """Rows ``[first, end)`` as one record batch."""
        if first < self._buf_start:
            self._restart()
        pieces: list[pa.RecordBatch] = []
        cur = first
        while cur < end:
            buf_end = self._buf_start + (self._buf.num_rows if self._buf is not None else 0)
            if self._buf is None or cur >= buf_end:
                batch = next(self._batches, None)
                if batch is None:
                    raise ScoringError(
                        f"input {self._path}: has {buf_end} rows, a stored page needs row {cur}"
                    )
                self._buf_start, self._buf = buf_end, batch
                continue
            stop = min(end, buf_end)
            pieces.append(self._buf.slice(cur - self._buf_start, stop - cur))
            cur = stop
        if len(pieces) == 1:
            return pieces[0]
        table = pa.Table.from_batches(pieces).combine_chunks()
        return table.to_batches(max_chunksize=table.num_rows)[0]


_PACE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(/s|s|ms)\s*$")


@dataclass
class Pace:
    """A worker's speed limit: ``N/s`` rows per second, or ``Xs``/``Xms`` pause per page."""

    rows_per_s: float | None = None
    pause_s: float = 0.0
    _start: float = field(default_factory=time.monotonic)
    _rows: int = 0

    @classmethod
    def parse(cls, value: str) -> Pace:
        """``"20000/s"`` (rows per second), ``"0.5s"`` or ``"200ms"`` (pause between pages)."""
        match = _PACE_RE.match(value)
        if match is None or (float(match.group(1)) <= 0 and match.group(2) == "/s"):
            raise ConfigurationError(
                f"pace must be ROWS/s (e.g. 20000/s) or a pause per page (e.g. 0.5s, 200ms), "
                f"found {value!r}"
            )
        number, unit = float(match.group(1)), match.group(2)
        if unit == "/s":
            return cls(rows_per_s=number)
        return cls(pause_s=number / 1000 if unit == "ms" else number)

    def after_page(self, rows: int) -> None:
        """Sleep as long as this pace asks after a page of ``rows`` rows."""
        self._rows += rows
        if self.pause_s:
            time.sleep(self.pause_s)
        if self.rows_per_s:
            ahead = self._rows / self.rows_per_s - (time.monotonic() - self._start)
            if ahead > 0:
                time.sleep(ahead)
