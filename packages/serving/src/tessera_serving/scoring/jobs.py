"""Scoring jobs in the registry: create one, record its events as they happen, finish it.

A job row is written (status ``running``) before any work, each event is committed as it is
emitted (so a job that dies still shows what its guard decided), and the row is finished
with its counts and status ``succeeded`` or ``failed`` (with the one-line error).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select

from tessera_serving.errors import NotFoundError
from tessera_serving.registry import Registry, utcnow
from tessera_serving.registry.scoring_tables import JobEvent, ScoringJob
from tessera_serving.scoring import events as ev

_JOB_FIELDS = (
    "id",
    "kind",
    "status",
    "model_ref",
    "model_name",
    "model_version",
    "model_ids",
    "model_sha256s",
    "require_stage",
    "backend",
    "num_threads",
    "input_path",
    "input_sha256",
    "input_uri",
    "feature_schema",
    "live_schema_sha",
    "output_path",
    "stored",
    "sweep_id",
    "rows",
    "counts",
    "error",
    "created_at",
    "finished_at",
)


def create_job(
    registry: Registry, *, kind: str, model_ref: str, model_name: str, **fields: Any
) -> int:
    """Insert a ``running`` job row; return its id."""
    with registry.transaction() as session:
        job = ScoringJob(
            kind=kind,
            status="running",
            model_ref=model_ref,
            model_name=model_name,
            **{"counts": {}, "stored": False, **fields},
        )
        session.add(job)
        session.flush()
        return int(job.id)


def update_job(registry: Registry, job_id: int, **fields: Any) -> None:
    """Set fields of a job row (e.g. the resolved model once known)."""
    with registry.transaction() as session:
        job = session.get(ScoringJob, job_id)
        if job is None:
            raise NotFoundError(f"no scoring job {job_id} in the registry")
        for key, value in fields.items():
            setattr(job, key, value)


def finish_job(
    registry: Registry,
    job_id: int,
    *,
    status: str,
    rows: int | None = None,
    counts: Mapping[str, Any] | None = None,
    error: str | None = None,
) -> None:
    """Mark the job ``succeeded`` or ``failed`` with its counts."""
    update_job(
        registry,
        job_id,
        status=status,
        rows=rows,
        counts=dict(counts or {}),
        error=error,
        finished_at=utcnow(),
    )


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


class JobEventRecorder:
    """An event sink that logs each event and commits it as a ``job_events`` row."""

    def __init__(self, registry: Registry, job_id: int) -> None:
        self._registry = registry
        self.job_id = job_id
        self.events: list[ev.Event] = []

    def __call__(self, event: ev.Event) -> None:
        self.events.append(event)
        ev.log_event(event)
        fields = _json_safe(dict(event.fields))
        with self._registry.transaction() as session:
            seq = session.scalar(
                select(func.coalesce(func.max(JobEvent.seq), 0)).where(
                    JobEvent.job_id == self.job_id
                )
            )
            session.add(
                JobEvent(
                    job_id=self.job_id,
                    seq=int(seq or 0) + 1,
                    name=event.name,
                    level=event.level,
                    fields=fields,
                )
            )


def get_job(registry: Registry, job_id: int) -> dict[str, Any]:
    """The job row as a JSON-ready dict (timestamps as ISO strings)."""
    with registry.transaction(readonly=True) as session:
        job = session.get(ScoringJob, job_id)
        if job is None:
            raise NotFoundError(
                f"no scoring job {job_id} in the registry {registry.where} "
                "(`tessera-serve score` prints the id of the job it creates)"
            )
        out = {name: getattr(job, name) for name in _JOB_FIELDS}
    for key in ("created_at", "finished_at"):
        if out[key] is not None:
            out[key] = out[key].isoformat()
    return out


def job_events(registry: Registry, job_id: int) -> list[dict[str, Any]]:
    """The job's events in order: ``{"seq", "event", "level", "created_at", **fields}``."""
    get_job(registry, job_id)  # NotFoundError for an unknown job
    with registry.transaction(readonly=True) as session:
        rows = session.scalars(
            select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.seq)
        ).all()
        return [
            {
                "seq": r.seq,
                "event": r.name,
                "level": r.level,
                "created_at": r.created_at.isoformat(),
                **r.fields,
            }
            for r in rows
        ]
