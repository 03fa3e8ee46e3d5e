"""Score one partition of a partitioned job, on whichever worker runs it (Dask or a pool).

``score_partition(task)`` is the unit of work: it needs only its picklable ``PartitionTask``.
Each worker process keeps its registry and loaded (compiled) model per thread, so a model is
loaded, and compiled if needed, once per worker rather than once per partition; the compiled
cache itself is shared through the artifact store. A partition commits once: it is scored into a
private temporary directory, its output file is put in place (a hidden temporary sibling
renamed into place, or a single PUT), then ONE transaction
inserts the partition's record, its child job and, with ``store``, all its stored scores;
``UNIQUE(batch_key, partition)`` refuses a second commit of a retried duplicate, so a
partition is never counted or stored twice.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import socket
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fsspec
from sqlalchemy import select
from sqlalchemy.orm import Session

from tessera_serving.config import ServingConfig
from tessera_serving.errors import ScoringError
from tessera_serving.registry import Registry, open_registry, utcnow
from tessera_serving.registry.dberrors import UniqueConflict
from tessera_serving.registry.scale_tables import ScorePartition
from tessera_serving.registry.scoring_tables import ScoringJob
from tessera_serving.scoring import events as ev
from tessera_serving.scoring.model_ref import registry_model
from tessera_serving.scoring.output_file import clean_stale_temporaries, tmp_name
from tessera_serving.scoring.parquet_io import score_file
from tessera_serving.scoring.score_job import ScoreOptions, file_sha256
from tessera_serving.scoring.scorer import FALLBACK, RERANKER, ScoringModel
from tessera_serving.scoring.stored_scores import rows_from_batch, store_scores
from tessera_serving.testhooks import pause_point


@dataclass(frozen=True)
class PartitionTask:
    """Everything a worker needs to score one partition (sent to it pickled)."""

    config: ServingConfig
    model_ref: str  # pinned to NAME#VERSION by the job, so every worker scores one version
    model_sha256s: tuple[str, ...]
    job_id: int
    batch_key: str
    partition: str
    output: str
    options: ScoreOptions


@dataclass
class PartitionResult:
    """What one partition did: counts, its events, and why it fell back if it did."""

    partition: str
    rows: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    fallback: str | None = None
    skipped: bool = False
    worker: str = ""
    child_job_id: int | None = None


_local = threading.local()


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def _registry(config: ServingConfig) -> Registry:
    cache: dict[ServingConfig, Registry] = _local.__dict__.setdefault("registries", {})
    if config not in cache:
        cache[config] = open_registry(config)
    return cache[config]


class _Sink:
    """Collects a partition's events; backend events of a cached model go to the first."""

    def __init__(self) -> None:
        self.events: list[ev.Event] = []

    def __call__(self, event: ev.Event) -> None:
        self.events.append(event)


def _model(registry: Registry, task: PartitionTask, sink: _Sink) -> ScoringModel:
    from tessera_serving.scoring.model_ref import resolve_cells

    cache: dict[tuple[Any, ...], ScoringModel] = _local.__dict__.setdefault("models", {})
    cells = resolve_cells(registry, task.model_ref)
    if sorted(c.artifact_sha256 for c in cells) != sorted(task.model_sha256s):
        raise ScoringError(
            f"model {task.model_ref}: its boosters changed in the registry during the job "
            f"(expected {[s[:12] for s in task.model_sha256s]}); run the job again"
        )
    key = (task.config, tuple(c.artifact_sha256 for c in cells), task.options.backend)
    if key not in cache:
        cache[key] = registry_model(
            registry,
            cells,
            backend=task.options.backend,
            num_threads=task.options.num_threads,
            sink=sink,
        )
    return cache[key]


def _committed(registry: Registry, task: PartitionTask) -> bool:
    with registry.transaction(readonly=True) as session:
        found = session.scalar(
            select(ScorePartition.id).where(
                ScorePartition.batch_key == task.batch_key,
                ScorePartition.partition == task.partition,
            )
        )
    return found is not None


def _fallback_reason(events: list[ev.Event], counts: dict[str, int]) -> str | None:
    if not counts.get(FALLBACK):
        return None
    for event in events:
        if event.name in (ev.SCHEMA_MISMATCH, ev.SKIPPED):
            return str(event.fields.get("reason", event.name))
    return "some rows had no booster for their cell"


_PUT_LOCK = threading.Lock()  # one temporary name per process (output_file.tmp_name)


def _put_output(local: Path, output: str) -> None:
    """Put the scored file at ``output`` atomically: a hidden sibling temporary file renamed
    into place (the single-file jobs' naming, so a dead writer's temporary is removed by the
    next one), or a single PUT, which S3 makes visible whole."""
    if "://" not in output:
        target = Path(output)
        with _PUT_LOCK:
            clean_stale_temporaries(target)
            tmp = tmp_name(target)
            try:
                shutil.copyfile(local, tmp)
                with tmp.open("rb+") as handle:
                    os.fsync(handle.fileno())
                tmp.replace(target)
            finally:
                tmp.unlink(missing_ok=True)
        return
    fs, path = fsspec.core.url_to_fs(output)
    fs.put_file(str(local), path)


def score_partition(task: PartitionTask) -> PartitionResult:
    """Score, put and commit one partition (module docstring); skip it if already committed."""
    registry = _registry(task.config)
    result = PartitionResult(task.partition, worker=_worker_name())
    if _committed(registry, task):
        result.skipped = True
        return result
    sink = _Sink()
    model = _model(registry, task, sink)
    with tempfile.TemporaryDirectory(prefix="tessera-partition-") as tmp:
        source = _local_input(task.partition, Path(tmp))
        scored = Path(tmp) / "scored.parquet"
        batches: list[Any] = []

        def keep(batch: Any, first_row: int) -> None:
            if task.options.store:
                batches.append((batch, first_row))

        file = score_file(
            model,
            source,
            scored,
            feature_schema=task.options.feature_schema,
            require_stage=task.options.require_stage,
            events=sink,
            batch_size=task.options.batch_size,
            on_batch=keep,
        )
        result.rows = file.rows
        result.counts = {
            RERANKER: file.stats.by_source[RERANKER],
            FALLBACK: file.stats.by_source[FALLBACK],
        }
        result.events = [{"event": e.name, "level": e.level, **e.fields} for e in sink.events]
        result.fallback = _fallback_reason(sink.events, result.counts)
        _put_output(scored, task.output)
        pause_point(f"partition.{posixpath.basename(task.partition)}.before_commit")
        result.child_job_id = _commit(registry, task, source, result, batches, model.cells[0].name)
    return result


def _local_input(partition: str, tmp: Path) -> Path:
    if "://" not in partition:
        return Path(partition)
    fs, path = fsspec.core.url_to_fs(partition)
    local = tmp / "input.parquet"
    fs.get_file(path, str(local))
    return local


def _commit(
    registry: Registry,
    task: PartitionTask,
    source: Path,
    result: PartitionResult,
    batches: list[Any],
    model_name: str,
) -> int | None:
    """The partition's one transaction: child job, stored scores, partition record."""
    sha = file_sha256(source)
    uri = None
    if task.options.store:
        stored_sha = registry.store.put_file(source)
        uri = registry.store.uri(stored_sha)
    try:
        with registry.transaction() as session:
            child = ScoringJob(
                kind="score",
                status="succeeded",
                model_ref=task.model_ref,
                model_name=model_name,
                input_path=task.partition,
                input_sha256=sha,
                input_uri=uri,
                output_path=task.output,
                stored=task.options.store,
                rows=result.rows,
                counts={**result.counts, "parent_job_id": task.job_id},
                finished_at=utcnow(),
            )
            session.add(child)
            session.flush()
            record = ScorePartition(
                batch_key=task.batch_key,
                partition=task.partition,
                job_id=task.job_id,
                input_sha256=sha,
                output_uri=task.output,
                rows=result.rows,
                counts=result.counts,
                fallback=None if result.fallback is None else {"reason": result.fallback},
                worker=result.worker,
            )
            session.add(record)
            session.flush()  # first: a concurrent duplicate waits here, then conflicts
            if task.options.store:
                result.counts["stored"] = _store_batches(session, batches, model_name, child.id)
                record.counts = dict(result.counts)
            return int(child.id)
    except UniqueConflict:
        result.skipped = True  # a duplicate attempt of a partition another attempt committed
        return None


def _store_batches(session: Session, batches: list[Any], model_name: str, job_id: int) -> int:
    """Store the partition's scored batches as the child job's current scores."""
    stored = 0
    for batch, first_row in batches:
        stored += store_scores(
            session,
            model_name=model_name,
            job_id=job_id,
            input_job_id=job_id,
            rows=rows_from_batch(batch, first_row),
        )
    return stored
