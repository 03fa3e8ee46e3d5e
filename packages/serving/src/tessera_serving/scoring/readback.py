"""Reading scoring back: jobs (filtered), stored scores, and the audit trail of a score.

Every reader reaps dead jobs first (``liveness``), so an abandoned job shows as such.
Filters are checked against the registry's vocabularies (``JOB_KINDS``, ``JOB_STATUSES``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tessera_serving.errors import ConfigurationError, NotFoundError
from tessera_serving.registry import Registry
from tessera_serving.registry.scoring_tables import (
    JOB_KINDS,
    JOB_STATUSES,
    CurrentScore,
    ScoreAudit,
    ScoringJob,
)
from tessera_serving.scoring.jobs import get_job, iso_times
from tessera_serving.scoring.liveness import reap_abandoned
from tessera_serving.scoring.request_records import RESERVED

MAX_LIST_LIMIT = 1000

_LIST_FIELDS = (
    "id",
    "kind",
    "status",
    "model_ref",
    "model_name",
    "model_version",
    "model_stage",
    "rows",
    "counts",
    "error",
    "created_at",
    "finished_at",
    "heartbeat_at",
    "host",
    "pid",
)


def _check(value: str | None, allowed: tuple[str, ...], what: str) -> None:
    if value is not None and value not in allowed:
        raise ConfigurationError(f"unknown job {what} {value!r}: expected one of {allowed}")


def list_jobs(
    registry: Registry,
    *,
    status: str | None = None,
    kind: str | None = None,
    model: str | None = None,
    limit: int = 100,
    before: int | None = None,
) -> list[dict[str, Any]]:
    """The newest ``limit`` jobs matching the filters (ids below ``before`` when given),
    newest first, as JSON-ready dicts. Rows a server reserved for request records but never
    filled (status ``reserved``) never ran and are left out."""
    _check(status, JOB_STATUSES, "status")
    _check(kind, JOB_KINDS, "kind")
    if limit < 1:
        raise ConfigurationError(f"limit must be an integer >= 1, got {limit}")
    reap_abandoned(registry)
    query = (
        select(ScoringJob)
        .where(ScoringJob.status != RESERVED)
        .order_by(ScoringJob.id.desc())
        .limit(min(limit, MAX_LIST_LIMIT))
    )
    if before is not None:
        query = query.where(ScoringJob.id < before)
    if status is not None:
        query = query.where(ScoringJob.status == status)
    if kind is not None:
        query = query.where(ScoringJob.kind == kind)
    if model is not None:
        query = query.where(ScoringJob.model_name == model)
    with registry.transaction(readonly=True) as session:
        jobs = session.scalars(query).all()
        return [iso_times({name: getattr(j, name) for name in _LIST_FIELDS}) for j in jobs]


def _score_doc(row: Any) -> dict[str, Any]:
    return {
        "current_id": row.id,
        "model_name": row.model_name,
        "query_id": row.query_id,
        "candidate_id": row.candidate_id,
        "score": row.score,
        "source": row.source,
        "model_sha256": row.model_sha256,
        "job_id": row.job_id,
        "input_job_id": row.input_job_id,
        "row_index": row.row_index,
        "updated_at": row.updated_at.isoformat(),
    }


def stored_scores(
    registry: Registry, model: str, query: str, candidate: str | None = None
) -> list[dict[str, Any]]:
    """The current scores of ``model`` for a query (one candidate if given), by candidate."""
    stmt = select(CurrentScore).where(
        CurrentScore.model_name == model, CurrentScore.query_id == query
    )
    if candidate is not None:
        stmt = stmt.where(CurrentScore.candidate_id == candidate)
    with registry.transaction(readonly=True) as session:
        rows = session.scalars(stmt.order_by(CurrentScore.candidate_id)).all()
        found = [_score_doc(r) for r in rows]
    if not found:
        what = f"query {query!r}" + ("" if candidate is None else f", candidate {candidate!r}")
        raise NotFoundError(f"no stored score of model {model!r} for {what}")
    return found


def _audit_doc(audit: ScoreAudit, current: CurrentScore) -> dict[str, Any]:
    return {
        "audit_id": audit.id,
        "current_id": audit.current_id,
        "query_id": current.query_id,
        "candidate_id": current.candidate_id,
        "job_id": audit.job_id,
        "sweep_id": audit.sweep_id,
        "score": audit.score,
        "source": audit.source,
        "model_sha256": audit.model_sha256,
        "previous_score": audit.previous_score,
        "previous_source": audit.previous_source,
        "previous_model_sha256": audit.previous_model_sha256,
        "created_at": audit.created_at.isoformat(),
    }


def audit_trail(
    registry: Registry,
    *,
    job_id: int | None = None,
    model: str | None = None,
    query: str | None = None,
    candidate: str | None = None,
) -> list[dict[str, Any]]:
    """Audit rows, oldest first: of one job, or of one (model, query[, candidate])."""
    if job_id is None and (model is None or query is None):
        raise ConfigurationError("an audit trail needs a job id, or a model and a query id")
    stmt = select(ScoreAudit, CurrentScore).join(
        CurrentScore, CurrentScore.id == ScoreAudit.current_id
    )
    if job_id is not None:
        get_job(registry, job_id)  # NotFoundError for an unknown job
        stmt = stmt.where(ScoreAudit.job_id == job_id)
    if model is not None:
        stmt = stmt.where(CurrentScore.model_name == model)
    if query is not None:
        stmt = stmt.where(CurrentScore.query_id == query)
    if candidate is not None:
        stmt = stmt.where(CurrentScore.candidate_id == candidate)
    with registry.transaction(readonly=True) as session:
        return [_audit_doc(a, c) for a, c in session.execute(stmt.order_by(ScoreAudit.id)).all()]
