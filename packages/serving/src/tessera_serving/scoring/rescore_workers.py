"""A re-score worker's page loop: claim, score and commit pages until none is left.

One process may keep several pages in flight (``in_flight``, PostgreSQL only): each loop
runs on its own thread and connection, so while the server writes one page the process
scores the next, and two pages' server work runs on two cores. The pages stay the unit of
work and of commit; what the loops share (the prepared inputs, the model's plan with its
counters, the result and the pace) is touched under one lock, and the first error stops
every loop before it claims another page.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from sqlalchemy.orm import Session

from tessera_serving.errors import ConfigurationError
from tessera_serving.registry import Registry, utcnow
from tessera_serving.registry.scale_tables import RescorePage
from tessera_serving.scoring.jobs import JobEventRecorder
from tessera_serving.scoring.liveness import Heartbeat
from tessera_serving.scoring.receipts import page_digest
from tessera_serving.scoring.rescore_inputs import SweepInputs
from tessera_serving.scoring.rescore_page_pg import begin_page_pg, write_page_pg
from tessera_serving.scoring.scorer import RERANKER, ScoringModel
from tessera_serving.scoring.stored_scores import rescore_rows, rows_from_batch
from tessera_serving.scoring.sweep_pages import ForwardRows, Pace, claim_page
from tessera_serving.testhooks import pause_point

if TYPE_CHECKING:
    from tessera_serving.scoring.rescore import RescoreResult

MAX_IN_FLIGHT = 8


class _Shared:
    """What the loops of one process share, and the lock that guards it."""

    def __init__(
        self,
        registry: Registry,
        model: ScoringModel,
        inputs: SweepInputs,
        result: RescoreResult,
        recorder: JobEventRecorder,
        pace: Pace | None,
    ) -> None:
        self.registry, self.model, self.inputs, self.result = registry, model, inputs, result
        self.recorder, self.pace = recorder, pace
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.postgres = registry.engine.dialect.name == "postgresql"


def check_in_flight(in_flight: int, dialect: str) -> None:
    """Refuse a number of pages in flight the database cannot take."""
    if not 1 <= in_flight <= MAX_IN_FLIGHT:
        raise ConfigurationError(
            f"pages in flight must be an integer from 1 to {MAX_IN_FLIGHT}, got {in_flight}"
        )
    if in_flight > 1 and dialect != "postgresql":
        raise ConfigurationError(
            f"{in_flight} pages in flight need PostgreSQL (SQLite has one writer at a time); "
            "use 1 on SQLite"
        )


def work_pages(
    registry: Registry,
    model: ScoringModel,
    inputs: SweepInputs,
    result: RescoreResult,
    recorder: JobEventRecorder,
    pace: Pace | None,
    in_flight: int = 1,
) -> None:
    """Run ``in_flight`` page loops (module docstring) until no page is left to claim."""
    check_in_flight(in_flight, registry.engine.dialect.name)
    shared = _Shared(registry, model, inputs, result, recorder, pace)
    if in_flight == 1:
        _loop(shared)
        return
    with ThreadPoolExecutor(in_flight, thread_name_prefix="tessera-rescore") as pool:
        futures = [pool.submit(_loop, shared) for _ in range(in_flight)]
    for future in futures:
        future.result()  # the first loop's error, after every loop has stopped


def _loop(shared: _Shared) -> None:
    try:
        _pages(shared)
    except BaseException:
        shared.stop.set()
        raise


def _pages(shared: _Shared) -> None:
    result = shared.result
    heartbeat = Heartbeat(shared.registry, result.job_id)
    readers: dict[int, ForwardRows] = {}  # this loop's own forward readers
    while not shared.stop.is_set():
        unprepared: int | None = None
        with shared.registry.transaction() as session:
            if shared.postgres:
                begin_page_pg(session)
            page = claim_page(session, result.sweep_id)
            if page is None:
                return
            if page.input_job_id not in shared.inputs.ready:
                unprepared = page.input_job_id  # the guard records events: not inside a page
            else:
                output = _score(shared, readers, page)
                scored, written = _write_page(session, shared, page, output)
                with shared.lock:
                    result.pages += 1
                    number = result.pages
                heartbeat.beat(session)
                pause_point(f"rescore.page.{number}.before_commit")
        if unprepared is not None:
            with shared.lock:
                if unprepared not in shared.inputs.ready:
                    shared.inputs.prepare(unprepared, shared.model, shared.recorder)
            continue
        pause_point(f"rescore.page.{number}.after_commit")
        digest = page_digest(output)
        with shared.lock:
            result.rescored += written
            result.unchanged += output.num_rows - scored
            result.not_current += scored - written
            result.page_digests.append((page.input_job_id, page.first_row, *digest))
            if shared.pace is not None:
                shared.pace.after_page(output.num_rows)


def _score(shared: _Shared, readers: dict[int, ForwardRows], page: RescorePage) -> pa.RecordBatch:
    """The page's rows scored behind the guard (the plan's counters are shared: locked)."""
    plan = shared.inputs.ready[page.input_job_id]
    reader = readers.get(page.input_job_id)
    if reader is None:
        reader = readers[page.input_job_id] = shared.inputs.reader(page.input_job_id)
    rows = reader.rows(page.first_row, page.end_row)
    with shared.lock:
        return plan.score_queries(rows)


def _write_page(
    session: Session, shared: _Shared, page: RescorePage, output: pa.RecordBatch
) -> tuple[int, int]:
    """Write a scored page's rows and mark it done; return (rows scored, rows written)."""
    result = shared.result
    ids: dict[str, Any] = {"model_name": shared.model.cells[0].name, "job_id": result.job_id,
                           "sweep_id": result.sweep_id}  # fmt: skip
    if shared.postgres:
        return write_page_pg(session, page, output, now=utcnow(), **ids)
    scored = [r for r in rows_from_batch(output, page.first_row) if r.source == RERANKER]
    written = rescore_rows(session, input_job_id=page.input_job_id, rows=scored, **ids)
    page.status, page.job_id, page.rescored = "done", result.job_id, written
    page.done_at = utcnow()
    return len(scored), written
