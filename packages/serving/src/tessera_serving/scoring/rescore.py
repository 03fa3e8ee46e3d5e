"""Re-score stored scores with a new model version, in resumable pages shared by workers.

A sweep re-reads each stored row's features from the content-addressed input of the job that
stored it, scores them behind the guard, and writes pages of whole queries (default 500
rows): each page in ONE transaction updates the current scores, appends audit rows and marks
the page done. A sweep is identified by (model name, the new version's boosters, the
``jobs`` filter). Its pages are planned once, when it opens (``sweep_pages``); every
``run_rescore`` with the same arguments then works on the same sweep, claiming pages one at
a time, so several processes or machines share it on PostgreSQL (``FOR UPDATE SKIP
LOCKED``) and a rerun after an interruption does only the pages left. Writes skip rows the
sweep already wrote (``UNIQUE(sweep_id, current_id)`` in the audit backs that up), so every
row is re-scored exactly once. Rows the new model cannot score (schema mismatch, a missing
cell, a refused stage) keep their current score; the guard's event says why. A ``Pace``
limits one worker's speed so a sweep does not starve live traffic.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tessera_serving.errors import ConfigurationError
from tessera_serving.registry import Registry, utcnow
from tessera_serving.registry.scoring_tables import (
    CurrentScore,
    RescoreSweep,
    ScoringJob,
)
from tessera_serving.scoring import events as ev
from tessera_serving.scoring.jobs import JobEventRecorder, create_job, finish_job
from tessera_serving.scoring.model_ref import (
    explicit_version_event,
    registry_model,
    resolve_cells,
)
from tessera_serving.scoring.parquet_io import DEFAULT_BATCH_SIZE
from tessera_serving.scoring.receipts import record_rescored, rescoring_recorder
from tessera_serving.scoring.rescore_inputs import SweepInputs
from tessera_serving.scoring.rescore_reasons import (
    superseded_jobs,
    sweep_writes,
    why_nothing_changed,
)
from tessera_serving.scoring.rescore_workers import check_in_flight, work_pages
from tessera_serving.scoring.sweep_pages import (
    Pace,
    lock_sweep_key,
    pages_left,
    plan_pages,
)

DEFAULT_PAGE_SIZE = 500


@dataclass
class RescoreResult:
    """What a (possibly resumed) sweep did in this run."""

    job_id: int
    sweep_id: int
    resumed: bool
    rescored: int = 0
    unchanged: int = 0
    pages: int = 0
    not_current: int = 0
    events: list[ev.Event] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    page_digests: list[tuple[int, int, str, int]] = field(default_factory=list)


def sweep_key(model_name: str, model_ids: Sequence[int], jobs: Sequence[int] | None) -> str:
    """The identity of a sweep: same model name, same boosters, same job filter."""
    body = {
        "model": model_name,
        "ids": sorted(model_ids),
        "jobs": None if jobs is None else sorted(set(jobs)),
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _open_sweep(
    registry: Registry,
    inputs: SweepInputs,
    key: str,
    fields: dict[str, Any],
    page_size: int,
) -> tuple[int, bool]:
    """Find the running sweep of ``key`` or start one; plan its pages if nobody has yet."""
    with registry.transaction() as session:
        lock_sweep_key(session, key)
        sweep = session.scalars(
            select(RescoreSweep)
            .where(RescoreSweep.sweep_key == key, RescoreSweep.status == "running")
            .order_by(RescoreSweep.id)
        ).first()
        resumed = sweep is not None
        if sweep is None:
            sweep = RescoreSweep(sweep_key=key, status="running", **fields)
            session.add(sweep)
            session.flush()
        if sweep.page_size is None:
            for source in _input_jobs(session, sweep.model_name, sweep.jobs_filter):
                plan_pages(session, sweep.id, source.id, inputs.path(source), page_size)
            sweep.page_size = page_size
        return int(sweep.id), resumed


def _input_jobs(session: Session, name: str, jobs: list[int] | None) -> list[ScoringJob]:
    query = select(CurrentScore.input_job_id).where(CurrentScore.model_name == name)
    if jobs is not None:
        query = query.where(CurrentScore.input_job_id.in_(jobs))
    ids = sorted(set(session.scalars(query.distinct()).all()))
    rows = [session.get(ScoringJob, i) for i in ids]
    return [r for r in rows if r is not None]


def run_rescore(
    registry: Registry,
    model_ref: str,
    *,
    jobs: Sequence[int] | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    backend: str = "auto",
    num_threads: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    pace: Pace | None = None,
    on_created: Callable[[int], None] | None = None,
    in_flight: int = 1,
) -> RescoreResult:
    """Work on the sweep of ``model_ref``'s stored scores until no page is left
    (module docstring); several calls, in several processes, share one sweep.

    ``pace`` limits this worker's speed so a sweep beside live traffic leaves it the CPU
    and the database; ``in_flight`` pages at a time keeps the server busy while this
    process scores (PostgreSQL, ``rescore_workers``); ``on_created`` gets the job id as soon
    as the row exists. Leaves a
    ``rescoring`` receipt linked to the job (``scoring/receipts.py``).
    """
    rec, link = rescoring_recorder(registry, model_ref, jobs, page_size)
    with rec:
        result = _rescore(
            registry, model_ref, jobs, page_size, backend, num_threads, batch_size, pace,
            on_created, in_flight,
        )  # fmt: skip
        link(result.job_id)
        record_rescored(rec, registry, result.job_id, result.page_digests, result.unchanged)
    return result


def _rescore(
    registry: Registry,
    model_ref: str,
    jobs: Sequence[int] | None,
    page_size: int,
    backend: str,
    num_threads: int | None,
    batch_size: int,
    pace: Pace | None,
    on_created: Callable[[int], None] | None,
    in_flight: int,
) -> RescoreResult:
    check_in_flight(in_flight, registry.engine.dialect.name)
    if page_size < 1:
        raise ConfigurationError(f"page size must be an integer >= 1, got {page_size}")
    cells = resolve_cells(registry, model_ref)
    name, ids = cells[0].name, [c.model_id for c in cells]
    job_filter = None if jobs is None else sorted(set(jobs))
    fields = {"model_name": name, "model_ref": model_ref, "model_ids": ids}
    with tempfile.TemporaryDirectory(prefix="tessera-rescore-") as tmp:
        inputs = SweepInputs(registry, Path(tmp), batch_size)
        sweep_id, resumed = _open_sweep(
            registry,
            inputs,
            sweep_key(name, ids, job_filter),
            {**fields, "jobs_filter": job_filter},
            page_size,
        )
        job_id = create_job(
            registry,
            kind="rescore",
            model_ref=model_ref,
            model_name=name,
            model_version=cells[0].version,
            model_ids=ids,
            model_sha256s=[c.artifact_sha256 for c in cells],
            backend=backend,
            num_threads=num_threads,
            sweep_id=sweep_id,
        )
        if on_created is not None:
            on_created(job_id)
        recorder = JobEventRecorder(registry, job_id)
        result = RescoreResult(job_id, sweep_id, resumed)
        done_before = sweep_writes(registry, sweep_id)
        try:
            if (explicit := explicit_version_event(cells)) is not None:
                recorder(explicit)
            model = registry_model(
                registry, cells, backend=backend, num_threads=num_threads, sink=recorder
            )
            work_pages(registry, model, inputs, result, recorder, pace, in_flight)
            inputs.close()
        except Exception as exc:
            finish_job(registry, job_id, status="failed", error=str(exc).splitlines()[0])
            raise
    _conclude(registry, result, recorder, name, job_filter, done_before)
    return result


def _conclude(
    registry: Registry,
    result: RescoreResult,
    recorder: JobEventRecorder,
    name: str,
    job_filter: list[int] | None,
    done_before: int,
) -> None:
    """Mark the sweep done if no page is left, say why nothing changed, finish the job."""
    sweep_id, job_id = result.sweep_id, result.job_id
    with registry.transaction() as session:
        sweep = session.get(RescoreSweep, sweep_id)
        if sweep is not None and pages_left(session, sweep_id) == 0:
            sweep.status, sweep.finished_at = "done", utcnow()
        any_source = bool(_input_jobs(session, name, job_filter))
    result.events = recorder.events
    result.reasons = why_nothing_changed(result, name, job_filter, any_source, done_before)
    if not any_source and job_filter:
        result.reasons = superseded_jobs(registry, name, job_filter) or result.reasons
    counts = {"rescored": result.rescored, "unchanged": result.unchanged, "pages": result.pages}
    finish_job(registry, job_id, status="succeeded", rows=result.rescored, counts=counts)
