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

from sqlalchemy import CursorResult, Table, delete, insert, select, update

from tessera_serving.errors import ScoringError
from tessera_serving.registry import Registry, utcnow
from tessera_serving.registry.scoring_tables import ScoringJob, StagedScore
from tessera_serving.scoring.stored_scores import ScoreRow, store_scores
from tessera_serving.testhooks import pause_point

_STAGED = cast(Table, StagedScore.__table__)
_PUBLISH_CHUNK = 5_000


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
    """Store the staged rows of ``job_id`` in chunks (by id), then delete them."""
    c, last, stored = _STAGED.c, 0, 0
    while True:
        chunk = session.execute(
            select(c.id, c.query_id, c.candidate_id, c.score, c.source, c.model_sha256, c.row_index)
            .where(c.job_id == job_id, c.id > last)
            .order_by(c.id)
            .limit(_PUBLISH_CHUNK)
        ).all()
        if not chunk:
            break
        last = chunk[-1].id
        rows = [ScoreRow(*r[1:]) for r in chunk]
        stored += store_scores(
            session, model_name=model_name, job_id=job_id, input_job_id=job_id, rows=rows
        )
    session.execute(delete(_STAGED).where(c.job_id == job_id))
    return stored


def discard(registry: Registry, job_id: int) -> None:
    """Drop a job's staged scores (the job failed; nothing of it becomes current)."""
    with registry.transaction() as session:
        session.execute(delete(_STAGED).where(_STAGED.c.job_id == job_id))
