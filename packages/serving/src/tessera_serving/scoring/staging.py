"""A storing job's scores, staged invisibly and published in one transaction.

``score --store`` stages each output batch in ``staged_scores`` (keyed by job) as it goes,
so memory stays bounded by the batch, and nothing is current while the job runs. At the end
``publish`` moves every staged row into ``current_scores`` and ``score_audit`` (one audit row
per stored score), deletes the staged rows and marks the job ``succeeded`` in ONE transaction.
A job that fails, dies or is abandoned leaves no current score and no audit row; its staged
rows are dropped by ``discard`` or by the reaper (``liveness``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any, cast

from sqlalchemy import (
    CursorResult,
    Table,
    and_,
    delete,
    func,
    insert,
    literal,
    null,
    select,
    update,
)

from tessera_serving.errors import ScoringError
from tessera_serving.registry import Registry, UtcDateTime, utcnow
from tessera_serving.registry.scoring_tables import (
    CurrentScore,
    ScoreAudit,
    ScoringJob,
    StagedScore,
)
from tessera_serving.scoring.stored_scores import ScoreRow
from tessera_serving.testhooks import pause_point

_STAGED = cast(Table, StagedScore.__table__)
_CURRENT = cast(Table, CurrentScore.__table__)
_AUDIT = cast(Table, ScoreAudit.__table__)
_CURRENT_COLUMNS = [
    "model_name", "query_id", "candidate_id", "score", "source", "model_sha256", "job_id",
    "input_job_id", "row_index", "updated_at",
]  # fmt: skip
_AUDIT_COLUMNS = [
    "current_id", "job_id", "sweep_id", "score", "source", "model_sha256", "previous_score",
    "previous_source", "previous_model_sha256", "created_at",
]  # fmt: skip


def stage_rows(session: Any, job_id: int, rows: Sequence[ScoreRow]) -> int:
    """Stage ``rows`` for ``job_id`` (a pair repeated in one batch keeps its last score)."""
    unique = list({(r.query_id, r.candidate_id): r for r in rows}.values())
    if unique:
        session.execute(insert(_STAGED), [{"job_id": job_id, **asdict(r)} for r in unique])
    return len(unique)


def publish(
    registry: Registry,
    job_id: int,
    *,
    model_name: str,
    rows: int,
    counts: Mapping[str, Any],
    live_schema_sha: str | None,
) -> int:
    """Make the job's staged scores current and mark it ``succeeded``, in one transaction.

    Returns how many scores were stored. Raises ``ScoringError`` (nothing stored) when the
    job is no longer ``running``, e.g. another process marked it abandoned.
    """
    with registry.transaction() as session:
        # Lock the job row first: a concurrent reaper's conditional update waits for us.
        claimed = cast(
            CursorResult[Any],
            session.execute(
                update(ScoringJob)
                .where(ScoringJob.id == job_id, ScoringJob.status == "running")
                .values(heartbeat_at=utcnow())
            ),
        ).rowcount
        if not claimed:
            status = session.scalar(select(ScoringJob.status).where(ScoringJob.id == job_id))
            raise ScoringError(
                f"scoring job {job_id} is {status!r}, not running (marked by another command "
                "after its heartbeat stopped); nothing was stored, run the job again"
            )
        stored = _move_staged(session, job_id, model_name)
        job = session.get(ScoringJob, job_id)
        assert job is not None
        job.status, job.rows, job.finished_at = "succeeded", rows, utcnow()
        job.counts = {**counts, "stored": stored}
        job.live_schema_sha = live_schema_sha
        pause_point("score.publish.before_commit")
    pause_point("score.publish.after_commit")
    return stored


def _move_staged(session: Any, job_id: int, model_name: str) -> int:
    """Store the staged rows of ``job_id`` set-wise (four statements), then delete them.

    Rows with a current score: audit (with the previous values). Rows without: insert, then
    audit them, found by ``input_job_id`` (an index) before any existing row carries it. Then
    update the existing rows. Same outcome as ``store_scores``, without reading the rows back
    into Python, and no statement anti-joins the audit (which grows with every job).
    """
    s, c = _STAGED.c, _CURRENT.c
    now = literal(utcnow(), UtcDateTime())
    same_pair = and_(
        c.model_name == model_name, c.query_id == s.query_id, c.candidate_id == s.candidate_id
    )
    mine = s.job_id == job_id
    session.execute(
        insert(_AUDIT).from_select(
            _AUDIT_COLUMNS,
            select(c.id, literal(job_id), null(), s.score, s.source, s.model_sha256,
                   c.score, c.source, c.model_sha256, now)
            .select_from(_STAGED.join(_CURRENT, same_pair))
            .where(mine),
        )
    )  # fmt: skip
    fresh = select(literal(model_name), s.query_id, s.candidate_id, s.score, s.source,
                   s.model_sha256, literal(job_id), literal(job_id), s.row_index, now).where(
        mine, ~select(c.id).where(same_pair).exists()
    )  # fmt: skip
    session.execute(insert(_CURRENT).from_select(_CURRENT_COLUMNS, fresh))
    session.execute(
        insert(_AUDIT).from_select(
            _AUDIT_COLUMNS,
            select(c.id, literal(job_id), null(), c.score, c.source, c.model_sha256,
                   null(), null(), null(), now)
            .where(c.model_name == model_name, c.input_job_id == job_id),
        )
    )  # fmt: skip
    session.execute(
        update(_CURRENT)
        .where(same_pair, mine, c.input_job_id != job_id)
        .values(score=s.score, source=s.source, model_sha256=s.model_sha256, job_id=job_id,
                input_job_id=job_id, row_index=s.row_index, updated_at=now)
    )  # fmt: skip
    stored = session.scalar(select(func.count()).select_from(_STAGED).where(mine))
    session.execute(delete(_STAGED).where(mine))
    return int(stored or 0)


def discard(registry: Registry, job_id: int) -> None:
    """Drop a job's staged scores (the job failed; nothing of it becomes current)."""
    with registry.transaction() as session:
        session.execute(delete(_STAGED).where(_STAGED.c.job_id == job_id))
