"""Listing scoring jobs, filtered by status, model name and kind, newest first.

Rows a server reserved for request records but never filled (status ``reserved``) are
left out: they never ran.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tessera_serving.registry import Registry
from tessera_serving.registry.scoring_tables import ScoringJob
from tessera_serving.scoring.jobs import get_job
from tessera_serving.scoring.request_records import RESERVED

MAX_LIMIT = 1000


def list_jobs(
    registry: Registry,
    *,
    status: str | None = None,
    model: str | None = None,
    kind: str | None = None,
    limit: int = 100,
    before: int | None = None,
) -> list[dict[str, Any]]:
    """Up to ``limit`` jobs (ids below ``before`` when given) as ``get_job`` documents."""
    query = select(ScoringJob.id).where(ScoringJob.status != RESERVED)
    if status is not None:
        query = query.where(ScoringJob.status == status)
    if model is not None:
        query = query.where(ScoringJob.model_name == model)
    if kind is not None:
        query = query.where(ScoringJob.kind == kind)
    if before is not None:
        query = query.where(ScoringJob.id < before)
    query = query.order_by(ScoringJob.id.desc()).limit(max(1, min(limit, MAX_LIMIT)))
    with registry.transaction(readonly=True) as session:
        ids = list(session.scalars(query))
    return [get_job(registry, job_id) for job_id in ids]
