"""Re-score stored scores with a new model version, in resumable pages.

A sweep re-reads each stored row's features from the content-addressed input of the job that
stored it, scores them behind the guard, and writes pages of whole queries (default 500
rows): each page in ONE transaction updates the current scores and appends audit rows. A
sweep is identified by (model name, the new version's boosters, the ``--jobs`` filter); run
again after an interruption, the unfinished sweep resumes and writes only rows it has not
written yet (``UNIQUE(sweep_id, current_id)`` in the audit backs that up), so every row is
re-scored exactly once. Rows the new model cannot score (schema mismatch, a missing cell, a
refused stage) keep their current score; the guard's event says why.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import func, select

from tessera_serving.errors import ConfigurationError, NotFoundError
from tessera_serving.registry import Registry, utcnow
from tessera_serving.registry.scoring_tables import (
    CurrentScore,
    RescoreSweep,
    ScoreAudit,
    ScoringJob,
)
from tessera_serving.scoring import events as ev
from tessera_serving.scoring.jobs import JobEventRecorder, create_job, finish_job
from tessera_serving.scoring.liveness import Heartbeat
from tessera_serving.scoring.model_ref import (
    explicit_version_event,
    registry_model,
    resolve_cells,
)
from tessera_serving.scoring.parquet_io import DEFAULT_BATCH_SIZE, score_file
from tessera_serving.scoring.receipts import recorded_rescoring
from tessera_serving.scoring.scorer import RERANKER, query_starts
from tessera_serving.scoring.stored_scores import rescore_rows, rows_from_batch
from tessera_serving.testhooks import pause_point

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


def sweep_key(model_name: str, model_ids: Sequence[int], jobs: Sequence[int] | None) -> str:
    """The identity of a sweep: same model name, same boosters, same job filter."""
    body = {
        "model": model_name,
        "ids": sorted(model_ids),
        "jobs": None if jobs is None else sorted(set(jobs)),
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _open_sweep(
    registry: Registry, key: str, name: str, ref: str, ids: list[int], jobs: list[int] | None
) -> tuple[int, bool]:
    with registry.transaction() as session:
        found = session.scalar(
            select(RescoreSweep.id)
            .where(RescoreSweep.sweep_key == key, RescoreSweep.status == "running")
            .order_by(RescoreSweep.id)
        )
        if found is not None:
            return int(found), True
        sweep = RescoreSweep(
            sweep_key=key,
            model_name=name,
            model_ref=ref,
            model_ids=ids,
            jobs_filter=jobs,
            status="running",
        )
        session.add(sweep)
        session.flush()
        return int(sweep.id), False


def _input_jobs(registry: Registry, name: str, jobs: list[int] | None) -> list[ScoringJob]:
    with registry.transaction(readonly=True) as session:
        query = select(CurrentScore.input_job_id).where(CurrentScore.model_name == name)
        if jobs is not None:
            query = query.where(CurrentScore.input_job_id.in_(jobs))
        ids = sorted(set(session.scalars(query.distinct()).all()))
        rows = [session.get(ScoringJob, i) for i in ids]
    return [r for r in rows if r is not None]


@recorded_rescoring
def run_rescore(
    registry: Registry,
    model_ref: str,
    *,
    jobs: Sequence[int] | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    backend: str = "auto",
    num_threads: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> RescoreResult:
    """Sweep the stored scores of ``model_ref``'s name with that model (module docstring)."""
    if page_size < 1:
        raise ConfigurationError(f"page size must be an integer >= 1, got {page_size}")
    cells = resolve_cells(registry, model_ref)
    name, ids = cells[0].name, [c.model_id for c in cells]
    job_filter = None if jobs is None else sorted(set(jobs))
    sweep_id, resumed = _open_sweep(
        registry, sweep_key(name, ids, job_filter), name, model_ref, ids, job_filter
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
    recorder = JobEventRecorder(registry, job_id)
    result = RescoreResult(job_id, sweep_id, resumed)
    done_before = _sweep_writes(registry, sweep_id)
    try:
        if (explicit := explicit_version_event(cells)) is not None:
            recorder(explicit)
        model = registry_model(
            registry, cells, backend=backend, num_threads=num_threads, sink=recorder
        )
        sources = _input_jobs(registry, name, job_filter)
        pages = _Sweep(registry, model, result, recorder, page_size, batch_size)
        for source_job in sources:
            pages.run(source_job)
    except Exception as exc:
        finish_job(registry, job_id, status="failed", error=str(exc).splitlines()[0])
        raise
    with registry.transaction() as session:
        sweep = session.get(RescoreSweep, sweep_id)
        if sweep is not None:
            sweep.status, sweep.finished_at = "done", utcnow()
    result.events = recorder.events
    result.reasons = why_nothing_changed(result, name, job_filter, bool(sources), done_before)
    if not sources and job_filter:
        result.reasons = _superseded_jobs(registry, name, job_filter) or result.reasons
    counts = {"rescored": result.rescored, "unchanged": result.unchanged, "pages": result.pages}
    finish_job(registry, job_id, status="succeeded", rows=result.rescored, counts=counts)
    return result


def _sweep_writes(registry: Registry, sweep_id: int) -> int:
    with registry.transaction(readonly=True) as session:
        return int(session.scalar(select(func.count()).where(ScoreAudit.sweep_id == sweep_id)) or 0)


def _superseded_jobs(registry: Registry, name: str, jobs: list[int]) -> list[str]:
    """Why the given jobs have no current rows: they stored scores, all since replaced."""
    with registry.transaction(readonly=True) as session:
        stored = session.scalars(
            select(ScoringJob.id).where(
                ScoringJob.id.in_(jobs),
                ScoringJob.model_name == name,
                ScoringJob.stored.is_(True),
                ScoringJob.status == "succeeded",
            )
        ).all()
    if not stored:
        return []
    return [
        f"every score stored by job(s) {sorted(stored)} was superseded: "
        "a later score job stored them again"
    ]


def why_nothing_changed(
    result: RescoreResult, name: str, jobs: list[int] | None, any_source: bool, done_before: int
) -> list[str]:
    """Why a sweep re-scored no row (empty when it re-scored some): one phrase per cause."""
    if result.rescored:
        return []
    if not any_source:
        where = "" if jobs is None else f" from score jobs {jobs}"
        return [
            f"no stored scores of model {name!r}{where} (only `score --store` jobs are re-scored)"
        ]
    reasons = []
    if result.unchanged:
        refusals = sorted(
            {e.name for e in result.events if e.level != "info"} - {ev.EXPLICIT_VERSION}
        )
        named = ", ".join(refusals) or "the guard"
        reasons.append(
            f"{result.unchanged} row(s) not scored by the model ({named}; see "
            f"`tessera-serve events {result.job_id}`)"
        )
    superseded = result.not_current - done_before
    if done_before:
        reasons.append(f"{done_before} row(s) already re-scored by this sweep")
    if superseded > 0:
        reasons.append(f"{superseded} row(s) superseded: a later score job stored them again")
    return reasons


class _Sweep:
    """Re-scores one stored input after another, page by page, with heartbeats."""

    def __init__(
        self,
        registry: Registry,
        model: Any,
        result: RescoreResult,
        recorder: JobEventRecorder,
        page_size: int,
        batch_size: int,
    ) -> None:
        self.registry, self.model, self.result, self.recorder = registry, model, result, recorder
        self.page_size, self.batch_size = page_size, batch_size
        self.heartbeat = Heartbeat(registry, result.job_id)

    def run(self, source: ScoringJob) -> None:
        """Re-score the rows whose features are in ``source``'s stored input."""
        if source.input_sha256 is None or source.input_uri is None:
            raise NotFoundError(
                f"scoring job {source.id} did not keep its input in the artifact store "
                "(only `score --store` jobs can be re-scored)"
            )

        def write_pages(batch: pa.RecordBatch, first_row: int) -> None:
            starts = query_starts(batch.column("query_id"))
            bounds = [*starts.tolist(), batch.num_rows]
            page_start = 0
            for end in bounds[1:]:
                if end - page_start >= self.page_size or end == batch.num_rows:
                    page = batch.slice(page_start, end - page_start)
                    self._write_page(source, page, first_row + page_start)
                    page_start = end

        with tempfile.TemporaryDirectory(prefix="tessera-rescore-") as tmp:
            path: Path = self.registry.store.fetch(source.input_sha256, Path(tmp))
            score_file(
                self.model,
                path,
                None,
                feature_schema=source.feature_schema,
                events=self.recorder,
                batch_size=self.batch_size,
                on_batch=write_pages,
            )

    def _write_page(self, source: ScoringJob, page: pa.RecordBatch, first_row: int) -> None:
        result = self.result
        rows = rows_from_batch(page, first_row)
        scored = [r for r in rows if r.source == RERANKER]
        result.pages += 1
        with self.registry.transaction() as session:
            written = rescore_rows(
                session,
                model_name=source.model_name,
                job_id=result.job_id,
                sweep_id=result.sweep_id,
                input_job_id=source.id,
                rows=scored,
            )
            self.heartbeat.beat(session)
            pause_point(f"rescore.page.{result.pages}.before_commit")
        pause_point(f"rescore.page.{result.pages}.after_commit")
        result.rescored += written
        result.unchanged += len(rows) - len(scored)
        result.not_current += len(scored) - written
