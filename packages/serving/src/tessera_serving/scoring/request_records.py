"""Job rows and events of synchronous requests, written in batches off the response path.

A request takes a job id from a pool of rows reserved ahead of time (status ``reserved``,
inserted a block at a time), answers, and hands its record to a background thread that
fills the reserved rows and inserts their events, many requests per transaction. A crash
loses at most the records queued since the last flush (never a stored score: storing
requests commit before they answer) and leaves their reserved rows ``reserved``, which
listings leave out.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from tessera_serving.errors import SchemaMismatchError
from tessera_serving.registry import Registry, utcnow
from tessera_serving.registry.scoring_tables import JobEvent, ScoringJob
from tessera_serving.scoring import events as ev
from tessera_serving.scoring.guard import FeatureSchema
from tessera_serving.scoring.jobs import json_safe
from tessera_serving.scoring.served import ServedModel, TableScore, score_table

RESERVED = "reserved"
_LOG = logging.getLogger("tessera.http")


@dataclass
class RequestRecord:
    """What one synchronous request did: the job row's fields and its events."""

    job_id: int
    fields: dict[str, Any]
    events: list[ev.Event] = field(default_factory=list)


class RequestRecorder:
    """Reserves job ids in blocks and writes request records in batches on its own thread."""

    def __init__(self, registry: Registry, *, flush_s: float = 0.2, block: int = 64) -> None:
        self._registry = registry
        self._flush_s = flush_s
        self._block = block
        self._ids: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._records: queue.SimpleQueue[RequestRecord | None] = queue.SimpleQueue()
        self._reserve_lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._started = False
        self._thread = threading.Thread(target=self._run, name="tessera-records", daemon=True)
        self.written = 0

    def start(self) -> None:
        """Reserve the first block and start the writer (once; later calls do nothing)."""
        with self._start_lock:
            if self._started:
                return
            self._reserve(self._block)
            self._thread.start()
            self._started = True

    def job_id(self) -> int:
        """A reserved job id (reserving a new block inline only if the pool ran dry)."""
        self.start()
        try:
            return self._ids.get_nowait()
        except queue.Empty:
            self._reserve(self._block)
            return self._ids.get_nowait()

    def submit(self, record: RequestRecord) -> None:
        """Queue ``record``; it is written within the flush interval."""
        self._records.put(record)

    def close(self) -> None:
        """Write everything queued, then stop the thread."""
        if self._thread.is_alive():
            self._records.put(None)
            self._thread.join(timeout=30)

    def _reserve(self, count: int) -> None:
        with self._reserve_lock, self._registry.transaction() as session:
            rows = [
                ScoringJob(kind="score", status=RESERVED, model_ref="", model_name="", counts={})
                for _ in range(count)
            ]
            session.add_all(rows)
            session.flush()
            ids = sorted(int(r.id) for r in rows)
        for job_id in ids:
            self._ids.put(job_id)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch: list[RequestRecord] = []
            try:
                item = self._records.get(timeout=self._flush_s)
                while True:
                    if item is None:
                        stopping = True
                    else:
                        batch.append(item)
                    item = self._records.get_nowait()
            except queue.Empty:
                pass
            if batch:
                self._write(batch)
            if not stopping and self._ids.qsize() < self._block // 2:
                self._safely(lambda: self._reserve(self._block))

    def _write(self, batch: list[RequestRecord]) -> None:
        def write() -> None:
            with self._registry.transaction() as session:
                for record in batch:
                    job = session.get(ScoringJob, record.job_id)
                    if job is None:
                        continue
                    for key, value in record.fields.items():
                        setattr(job, key, value)
                    job.finished_at = job.finished_at or utcnow()
                    for seq, event in enumerate(record.events, start=1):
                        session.add(
                            JobEvent(
                                job_id=record.job_id,
                                seq=seq,
                                name=event.name,
                                level=event.level,
                                fields=json_safe(dict(event.fields)),
                            )
                        )
            self.written += len(batch)

        self._safely(write)

    @staticmethod
    def _safely(work: Any) -> None:
        try:
            work()
        except Exception as exc:  # a registry hiccup must not kill the writer thread
            _LOG.error("could not write request records: %s", str(exc).splitlines()[0])


def score_and_record(
    recorder: RequestRecorder,
    served: ServedModel,
    table: pa.Table,
    *,
    feature_schema: FeatureSchema | None,
    strict: bool,
    source: str,
    input_sha256: str,
    deferred: bool = False,
) -> tuple[int, TableScore]:
    """Score one request in process and queue its job record; return the job id and result.

    A strict mismatch is recorded as a failed job with the guard's event, then re-raised
    with ``job_id`` set on the error. ``deferred``: the caller writes the record itself
    (in the transaction that stores the scores), so none is queued here.
    """
    job_id = recorder.job_id()
    fields: dict[str, Any] = {
        "kind": "score",
        "model_ref": served.ref,
        "model_name": served.name,
        "model_version": served.version,
        "model_ids": [c.model_id for c in served.cells],
        "model_sha256s": list(served.shas),
        "backend": ",".join(sorted(set(served.backends))),
        "input_path": source,
        "input_sha256": input_sha256,
        "feature_schema": None if feature_schema is None else dict(feature_schema),
    }
    try:
        result = score_table(served, table, feature_schema, strict=strict, source=source)
    except SchemaMismatchError as exc:
        event = ev.Event(ev.SCHEMA_MISMATCH, ev.LEVELS[ev.SCHEMA_MISMATCH], dict(exc.fields))
        error = str(exc).splitlines()[0]
        fields.update(status="failed", rows=table.num_rows, error=error)
        recorder.submit(RequestRecord(job_id, fields, [event]))
        exc.job_id = job_id
        raise
    fields.update(
        status="succeeded",
        rows=result.table.num_rows,
        counts=dict(result.counts),
        live_schema_sha=result.live_schema_sha,
    )
    if not deferred:
        recorder.submit(RequestRecord(job_id, fields, list(result.events)))
    return job_id, result
