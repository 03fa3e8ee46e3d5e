"""Stored scores: the current score per (model name, query, candidate) and its audit trail.

Every write updates (or creates) the current row and appends one ``score_audit`` row with
the new score/source/model sha and the previous ones, in the caller's transaction: a batch
(``score --store``) or a page (``rescore``) is written entirely or not at all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import pyarrow as pa
from sqlalchemy import Table, and_, bindparam, insert, select, update
from sqlalchemy.orm import Session

from tessera_serving.registry import utcnow
from tessera_serving.registry.scoring_tables import CurrentScore, ScoreAudit

_IN_CHUNK = 500  # bound on IN (...) list sizes (SQLite's variable limit)
# Core tables, not ORM entities: bulk executemany without per-row ORM bookkeeping.
_CURRENT = cast(Table, CurrentScore.__table__)
_AUDIT = cast(Table, ScoreAudit.__table__)
_UPDATE_CURRENT = (
    update(_CURRENT)
    .where(_CURRENT.c.id == bindparam("_id"))
    .values(
        score=bindparam("b_score"),
        source=bindparam("b_source"),
        model_sha256=bindparam("b_model_sha256"),
        job_id=bindparam("b_job_id"),
        input_job_id=bindparam("b_input_job_id"),
        row_index=bindparam("b_row_index"),
        updated_at=bindparam("b_updated_at"),
    )
)
_RESCORE_CURRENT = (
    update(_CURRENT)
    .where(_CURRENT.c.id == bindparam("_id"))
    .values(
        score=bindparam("b_score"),
        source=bindparam("b_source"),
        model_sha256=bindparam("b_model_sha256"),
        job_id=bindparam("b_job_id"),
        updated_at=bindparam("b_updated_at"),
    )
)


@dataclass(frozen=True)
class ScoreRow:
    """One score to store; ``row_index`` is the row's position in ``input_job_id``'s input."""

    query_id: str
    candidate_id: str
    score: float | None
    source: str
    model_sha256: str | None
    row_index: int


def rows_from_batch(batch: pa.RecordBatch, first_row: int) -> list[ScoreRow]:
    """``ScoreRow``s of an output batch of ``score_batches`` whose first row is ``first_row``."""
    cols = [
        batch.column(n).to_pylist()
        for n in ("query_id", "candidate_id", "score", "source", "model_sha256")
    ]
    return [
        ScoreRow(
            str(q),
            str(c),
            None if s is None or math.isnan(s) else float(s),
            src,
            sha,
            first_row + i,
        )
        for i, (q, c, s, src, sha) in enumerate(zip(*cols, strict=True))
    ]


def store_scores(
    session: Session, *, model_name: str, job_id: int, input_job_id: int, rows: Sequence[ScoreRow]
) -> int:
    """Upsert ``rows`` as current scores of ``model_name``, audit each write; return the count."""
    if not rows:
        return 0
    # A pair repeated in one write keeps its last score (the current row is the last write).
    rows = list({(r.query_id, r.candidate_id): r for r in rows}.values())
    existing = _existing(session, model_name, sorted({r.query_id for r in rows}))
    now = utcnow()
    fresh = [r for r in rows if (r.query_id, r.candidate_id) not in existing]
    seen = [r for r in rows if (r.query_id, r.candidate_id) in existing]
    audit: list[dict[str, Any]] = []
    if fresh:
        session.execute(
            insert(_CURRENT), [_current(r, model_name, job_id, input_job_id, now) for r in fresh]
        )
        ids = _existing(session, model_name, sorted({r.query_id for r in fresh}))
        audit += [
            _audit(ids[(r.query_id, r.candidate_id)].id, r, job_id, None, None, now) for r in fresh
        ]
    if seen:
        previous = [existing[(r.query_id, r.candidate_id)] for r in seen]
        session.execute(
            _UPDATE_CURRENT,
            [
                {
                    "_id": p.id,
                    **{
                        f"b_{k}": v
                        for k, v in _current(r, model_name, job_id, input_job_id, now).items()
                        if k not in ("model_name", "query_id", "candidate_id")
                    },
                }
                for p, r in zip(previous, seen, strict=True)
            ],
        )
        audit += [
            _audit(p.id, r, job_id, None, p, now) for p, r in zip(previous, seen, strict=True)
        ]
    session.execute(insert(_AUDIT), audit)
    return len(rows)


def _existing(session: Session, model_name: str, qids: list[str]) -> dict[tuple[str, str], Any]:
    """Current rows of ``model_name`` for these queries, by (query_id, candidate_id)."""
    found: dict[tuple[str, str], Any] = {}
    c = _CURRENT.c
    for start in range(0, len(qids), _IN_CHUNK):
        rows = session.execute(
            select(c.id, c.query_id, c.candidate_id, c.score, c.source, c.model_sha256).where(
                c.model_name == model_name, c.query_id.in_(qids[start : start + _IN_CHUNK])
            )
        ).all()
        found.update({(f.query_id, f.candidate_id): f for f in rows})
    return found


def rescore_rows(
    session: Session,
    *,
    model_name: str,
    job_id: int,
    sweep_id: int,
    input_job_id: int,
    rows: Sequence[ScoreRow],
) -> int:
    """Re-score the current rows that ``rows`` address (by input row) and that this sweep has
    not yet written; update them and append audit rows. Returns how many were written.
    (SQLite runs executemany in-process; PostgreSQL sweeps use ``rescore_page_pg``.)"""
    updates, audit = rescore_writes(
        session, model_name=model_name, job_id=job_id, sweep_id=sweep_id,
        input_job_id=input_job_id, rows=rows,
    )  # fmt: skip
    if updates:
        session.execute(_RESCORE_CURRENT, updates)
        session.execute(insert(_AUDIT), audit)
    return len(updates)


def rescore_writes(
    session: Session,
    *,
    model_name: str,
    job_id: int,
    sweep_id: int,
    input_job_id: int,
    rows: Sequence[ScoreRow],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The updates of current rows and the audit rows that re-scoring ``rows`` needs: only
    rows still current at those input rows that this sweep has not written yet."""
    if not rows:
        return [], []
    by_index = {r.row_index: r for r in rows}
    lo, hi = min(by_index), max(by_index)
    done = select(ScoreAudit.id).where(
        and_(ScoreAudit.sweep_id == sweep_id, ScoreAudit.current_id == CurrentScore.id)
    )
    todo = session.execute(
        select(
            CurrentScore.id,
            CurrentScore.row_index,
            CurrentScore.score,
            CurrentScore.source,
            CurrentScore.model_sha256,
        ).where(
            CurrentScore.model_name == model_name,
            CurrentScore.input_job_id == input_job_id,
            CurrentScore.row_index >= lo,
            CurrentScore.row_index <= hi,
            ~done.exists(),
        )
    ).all()
    todo = [t for t in todo if t.row_index in by_index]
    now = utcnow()
    updates = [
        {
            "_id": t.id,
            "b_score": by_index[t.row_index].score,
            "b_source": by_index[t.row_index].source,
            "b_model_sha256": by_index[t.row_index].model_sha256,
            "b_job_id": job_id,
            "b_updated_at": now,
        }
        for t in todo
    ]
    audit = [_audit(t.id, by_index[t.row_index], job_id, sweep_id, t, now) for t in todo]
    return updates, audit


def _current(
    r: ScoreRow, model_name: str, job_id: int, input_job_id: int, now: Any
) -> dict[str, Any]:
    return {
        "model_name": model_name,
        "query_id": r.query_id,
        "candidate_id": r.candidate_id,
        "score": r.score,
        "source": r.source,
        "model_sha256": r.model_sha256,
        "job_id": job_id,
        "input_job_id": input_job_id,
        "row_index": r.row_index,
        "updated_at": now,
    }


def _audit(
    current_id: int, r: ScoreRow, job_id: int, sweep_id: int | None, previous: Any, now: Any
) -> dict[str, Any]:
    return {
        "current_id": current_id,
        "job_id": job_id,
        "sweep_id": sweep_id,
        "score": r.score,
        "source": r.source,
        "model_sha256": r.model_sha256,
        "previous_score": None if previous is None else previous.score,
        "previous_source": None if previous is None else previous.source,
        "previous_model_sha256": None if previous is None else previous.model_sha256,
        "created_at": now,
    }
