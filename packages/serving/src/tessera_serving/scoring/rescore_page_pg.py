"""A re-score page's writes on PostgreSQL: one statement, no wait for the commit's fsync.

The page's new scores travel as one JSON parameter (encoded in C, parsed by the server; an
array parameter per column was encoded value by value in Python). One statement then locks
the page's current rows, appends their audit rows, skipping rows this sweep already wrote
(``ON CONFLICT`` on ``UNIQUE(sweep_id, current_id)``: no separate read of what is left, and
no anti-join whose plan depends on the sweep's size), updates the rows it audited (by primary
key; ``previous_*`` come from the locked rows, so the audit never records a value that a
concurrent store had replaced) and marks the page done: one round trip for the whole write.

``synchronous_commit = off`` for the page's transaction is safe for a sweep, so it is the
default: the page's writes and its ``done`` mark commit together, so a commit lost in a
server crash loses the whole page, which stays ``pending`` and is redone by the next worker
or rerun; WAL is replayed in order, so such a loss never reorders the page against later
writes; and the job's ``succeeded`` (and its receipt) commit synchronously, flushing every
page before them. A client killed with kill -9 loses nothing: the server still writes the
WAL (within ``wal_writer_delay``), only the wait for the fsync is skipped.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

import pyarrow as pa
from sqlalchemy.orm import Session

from tessera_serving.errors import ScoringError
from tessera_serving.registry.scale_tables import RescorePage
from tessera_serving.scoring.scorer import RERANKER

_PREPARE = "SET LOCAL synchronous_commit = off"
_WRITE = """
WITH p AS (
    SELECT (e->>0)::bigint AS row_index, (e->>1)::float8 AS score,
           e->>2 AS source, e->>3 AS model_sha256
    FROM json_array_elements(%(rows)s::json) AS e
), todo AS (
    SELECT c.id, p.score, p.source, p.model_sha256,
           c.score AS previous_score, c.source AS previous_source,
           c.model_sha256 AS previous_model_sha256
    FROM current_scores AS c JOIN p ON p.row_index = c.row_index
    WHERE c.model_name = %(model)s AND c.input_job_id = %(input)s
      AND c.row_index BETWEEN %(lo)s AND %(hi)s
    FOR UPDATE OF c
), audit AS (
    INSERT INTO score_audit (current_id, job_id, sweep_id, score, source, model_sha256,
                             previous_score, previous_source, previous_model_sha256, created_at)
    SELECT id, %(job)s, %(sweep)s, score, source, model_sha256,
           previous_score, previous_source, previous_model_sha256, %(now)s
    FROM todo
    ON CONFLICT (sweep_id, current_id) DO NOTHING
    RETURNING current_id, score, source, model_sha256
), updated AS (
    UPDATE current_scores AS c
    SET score = audit.score, source = audit.source, model_sha256 = audit.model_sha256,
        job_id = %(job)s, updated_at = %(now)s
    FROM audit
    WHERE c.id = audit.current_id
    RETURNING 1
)
UPDATE rescore_pages
SET status = 'done', job_id = %(job)s, rescored = (SELECT count(*) FROM updated), done_at = %(now)s
WHERE id = %(page)s
RETURNING rescored
"""


def begin_page_pg(session: Session) -> None:
    """Start a page's transaction without waiting for its commit's fsync (module docstring)."""
    session.connection().exec_driver_sql(_PREPARE)


def write_page_pg(
    session: Session,
    page: RescorePage,
    output: pa.RecordBatch,
    *,
    model_name: str,
    job_id: int,
    sweep_id: int,
    now: datetime,
) -> tuple[int, int]:
    """Write the model's scores of a scored page (``output`` of ``score_queries`` for the
    page's rows) and mark the page done; return (rows the model scored, rows written)."""
    rows = _page_rows(output, page.first_row)
    dbapi = session.connection().connection.driver_connection
    assert dbapi is not None
    with dbapi.cursor() as cursor:
        params = {
            "model": model_name,
            "input": page.input_job_id,
            "lo": page.first_row,
            "hi": page.end_row - 1,
            "sweep": sweep_id,
            "job": job_id,
            "now": now,
            "page": page.id,
            "rows": json.dumps(rows, allow_nan=False),
        }
        cursor.execute(_WRITE, params)
        found = cursor.fetchone()
    if found is None:
        raise ScoringError(f"re-score page {page.id} of sweep {sweep_id} is gone")
    return len(rows), int(found[0])


def _page_rows(output: pa.RecordBatch, first_row: int) -> list[tuple[Any, ...]]:
    """``(row_index, score, source, model_sha256)`` of the rows the model scored, in order;
    a NaN score is stored as NULL."""
    columns = [output.column(n).to_pylist() for n in ("source", "score", "model_sha256")]
    return [
        (first_row + i, None if s is None or math.isnan(s) else s, RERANKER, sha)
        for i, (source, s, sha) in enumerate(zip(*columns, strict=True))
        if source == RERANKER
    ]
