"""A ``score`` job end to end: resolve the model, open a job, score the file, store, finish.

The Python API behind ``tessera-serve score``. With ``store=True`` the input file is put in
the artifact store (content-addressed, so ``rescore`` can re-read its features later), each
output batch is staged (invisible), and once the output file is in place the job publishes
every score in one transaction (``staging``): a job that fails or dies stores nothing, and
its rerun writes exactly one audit row per score.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tessera_contracts import sha256_stream
from tessera_serving.errors import ScoringError
from tessera_serving.registry import Registry
from tessera_serving.scoring import events as ev
from tessera_serving.scoring.guard import FeatureSchema, ModelCell
from tessera_serving.scoring.input_hash import InputHash, cache_dir_for, identity_of
from tessera_serving.scoring.input_hash_cache import FileIdentity
from tessera_serving.scoring.jobs import JobEventRecorder, create_job, finish_job, update_job
from tessera_serving.scoring.liveness import Heartbeat
from tessera_serving.scoring.model_ref import (
    check_stage,
    explicit_version_event,
    registry_model,
    resolve_cells,
)
from tessera_serving.scoring.output_file import check_output_path
from tessera_serving.scoring.parquet_io import DEFAULT_BATCH_SIZE, FileResult, score_file
from tessera_serving.scoring.receipts import ScoringReceipt
from tessera_serving.scoring.scorer import FALLBACK, RERANKER
from tessera_serving.scoring.staging import discard, publish, stage_rows
from tessera_serving.scoring.stored_scores import rows_from_batch
from tessera_serving.testhooks import pause_point


@dataclass(frozen=True)
class ScoreOptions:
    """How to score: the guard's stage requirement, the schema override, the backend."""

    require_stage: str | None = None
    feature_schema: FeatureSchema | None = None
    batch_size: int = DEFAULT_BATCH_SIZE
    backend: str = "auto"
    num_threads: int | None = None
    store: bool = False


@dataclass
class ScoreJobResult:
    """The finished job: id, rows, counts by source, and every event it recorded."""

    job_id: int
    rows: int
    counts: dict[str, int]
    events: list[ev.Event] = field(default_factory=list)
    input_sha256: str = ""
    input_bytes: int = 0

    @property
    def fallback_rows(self) -> int:
        return self.counts.get(FALLBACK, 0)


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes, streamed."""
    try:
        with path.open("rb") as fh:
            return sha256_stream(fh)[0]
    except FileNotFoundError as exc:
        raise ScoringError(f"input {path}: no such file") from exc


class _JobRun:
    """One job's progress: heartbeats, staged batches, and publishing at the end."""

    def __init__(self, registry: Registry, job_id: int, model_name: str, store: bool) -> None:
        self.registry, self.job_id, self.model_name, self.store = (
            registry,
            job_id,
            model_name,
            store,
        )
        self.heartbeat = Heartbeat(registry, job_id)
        self.batches = 0
        self.published = False
        self.counts: dict[str, int] = {}

    def on_batch(self, batch: Any, first_row: int) -> None:
        self.batches += 1
        if not self.store:
            self.heartbeat.beat()
            return
        with self.registry.transaction() as session:
            stage_rows(session, self.job_id, rows_from_batch(batch, first_row))
            self.heartbeat.beat(session)
        pause_point(f"score.batch.{self.batches}.staged")

    def on_complete(self, result: FileResult) -> None:
        self.counts = {
            RERANKER: result.stats.by_source[RERANKER],
            FALLBACK: result.stats.by_source[FALLBACK],
        }
        if not self.store:
            return
        self.counts["stored"] = publish(
            self.registry,
            self.job_id,
            model_name=self.model_name,
            rows=result.rows,
            counts=self.counts,
            live_schema_sha=result.live_sha,
        )
        self.published = True

    def fail(self, exc: Exception, input_sha: str | None) -> None:
        """Record the failure; a failed job's staged scores are dropped, none become current."""
        if self.published:
            return
        if self.store:
            discard(self.registry, self.job_id)
        if input_sha is not None:
            update_job(self.registry, self.job_id, input_sha256=input_sha)
        finish_job(self.registry, self.job_id, status="failed", error=str(exc).splitlines()[0])


def _open_job(
    registry: Registry,
    model_ref: str,
    cells: list[ModelCell],
    options: ScoreOptions,
    paths: tuple[Path, Path],
    stored_input: tuple[str, str] | None,
) -> int:
    first = cells[0]
    return create_job(
        registry,
        kind="score",
        model_ref=model_ref,
        model_name=first.name,
        model_version=first.version,
        model_stage=first.stage,
        model_ids=[c.model_id for c in cells],
        model_sha256s=[c.artifact_sha256 for c in cells],
        require_stage=options.require_stage,
        backend=options.backend,
        num_threads=options.num_threads,
        input_path=str(paths[0].absolute()),
        input_sha256=None if stored_input is None else stored_input[0],
        input_uri=None if stored_input is None else stored_input[1],
        feature_schema=None if options.feature_schema is None else dict(options.feature_schema),
        output_path=str(paths[1].absolute()),
        stored=options.store,
    )


def run_score_job(
    registry: Registry,
    model_ref: str,
    input_path: Path,
    output_path: Path,
    options: ScoreOptions = ScoreOptions(),
    *,
    on_created: Callable[[int], None] | None = None,
) -> ScoreJobResult:
    """Score ``input_path`` into ``output_path`` with ``model_ref`` as one recorded job.

    Leaves a ``scoring`` receipt linked to the job (``scoring/receipts.py``).
    """
    with ScoringReceipt(registry, model_ref, input_path, options, on_created) as receipt:
        result = _score_job(
            registry, model_ref, input_path, output_path, options, on_created=receipt.on_created
        )
        receipt.scored(result, output_path)
    return result


def _score_job(
    registry: Registry,
    model_ref: str,
    input_path: Path,
    output_path: Path,
    options: ScoreOptions,
    *,
    on_created: Callable[[int], None],
) -> ScoreJobResult:
    check_stage(options.require_stage)
    cells = resolve_cells(registry, model_ref)
    if not input_path.is_file():
        raise ScoringError(f"input {input_path}: no such file")
    check_output_path(output_path, input_path)
    stored_input: tuple[str, str] | None = None
    hashing: InputHash | None = None
    if options.store:  # storing hashes the input; don't read it once more
        identity = identity_of(input_path)
        sha = registry.store.put_file(input_path)
        stored_input = (sha, registry.store.uri(sha))
    else:  # cached by file identity, or hashed in idle time and finished after scoring
        hashing = InputHash(input_path, cache_dir_for(registry.config.state_dir))
        identity = hashing.identity
    input_bytes = identity.size
    job_id = _open_job(registry, model_ref, cells, options, (input_path, output_path), stored_input)
    on_created(job_id)
    recorder = JobEventRecorder(registry, job_id)
    run = _JobRun(registry, job_id, cells[0].name, options.store)
    try:
        if (explicit := explicit_version_event(cells)) is not None:
            recorder(explicit)
        model = registry_model(
            registry, cells, backend=options.backend, num_threads=options.num_threads, sink=recorder
        )
        result = score_file(
            model,
            input_path,
            output_path,
            feature_schema=options.feature_schema,
            require_stage=options.require_stage,
            events=recorder,
            batch_size=options.batch_size,
            on_batch=run.on_batch,
            on_complete=lambda result: _complete(run, result, hashing, identity, input_path),
        )
    except Exception as exc:
        run.fail(exc, hashing.cancel() if hashing is not None else None)
        raise
    if stored_input is not None:  # published: the job finished in that transaction
        final_sha = stored_input[0]
    else:
        final_sha = hashing.result() if hashing is not None else ""
        update_job(registry, job_id, live_schema_sha=result.live_sha, input_sha256=final_sha)
        finish_job(registry, job_id, status="succeeded", rows=result.rows, counts=run.counts)
    return ScoreJobResult(job_id, result.rows, run.counts, recorder.events, final_sha, input_bytes)


def _complete(
    run: _JobRun,
    result: FileResult,
    hashing: InputHash | None,
    identity: FileIdentity,
    path: Path,
) -> None:
    """Before the output counts: the input's hash, and proof the scored bytes are the hashed."""
    if hashing is not None:
        hashing.result()  # finishes the hash and refuses an input that changed meanwhile
    elif not identity_of(path).same_file_state(identity):
        raise ScoringError(f"input {path} changed while the job read it; rerun once it is complete")
    run.on_complete(result)
