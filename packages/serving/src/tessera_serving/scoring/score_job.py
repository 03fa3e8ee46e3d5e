"""A ``score`` job end to end: resolve the model, open a job, score the file, store, finish.

The Python API behind ``tessera-serve score``. With ``store=True`` the input file is put in
the artifact store (content-addressed, so ``rescore`` can re-read its features later) and
each output batch is written to the score store in its own transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tessera_serving.backends import BackendEvent, load_predictor
from tessera_serving.errors import ScoringError
from tessera_serving.registry import Registry
from tessera_serving.registry.models import resolve_model
from tessera_serving.scoring import events as ev
from tessera_serving.scoring.guard import FeatureSchema, ModelCell
from tessera_serving.scoring.jobs import JobEventRecorder, create_job, finish_job, update_job
from tessera_serving.scoring.parquet_io import DEFAULT_BATCH_SIZE, score_file
from tessera_serving.scoring.receipts import recorded_scoring
from tessera_serving.scoring.scorer import FALLBACK, RERANKER, ScoringModel
from tessera_serving.scoring.stored_scores import rows_from_batch, store_scores

_CHUNK = 1 << 20


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


def resolve_cells(registry: Registry, ref: str) -> list[ModelCell]:
    """The boosters of ``NAME``, ``NAME@stage`` or ``NAME#VERSION`` (NotFoundError if none)."""
    resolved: Any = resolve_model(registry, ref)
    rows = getattr(resolved, "rows", resolved)
    return [ModelCell.from_row(row) for row in rows]


def backend_event(event: BackendEvent) -> ev.Event:
    """A backend's event (``backend.compiled``/``backend.fallback``) as a job event."""
    return ev.Event(event.name, event.level, dict(event.fields))


def registry_model(
    registry: Registry,
    cells: list[ModelCell],
    *,
    backend: str,
    num_threads: int | None,
    sink: ev.EventSink,
) -> ScoringModel:
    """A ``ScoringModel`` whose boosters come from the artifact store via ``load_predictor``."""

    def load(cell: ModelCell) -> Any:
        text = registry.store.read_bytes(cell.artifact_sha256).decode("utf-8")
        return load_predictor(
            text,
            backend=backend,
            num_threads=num_threads,
            model_sha256=cell.artifact_sha256,
            store=registry.store,
            cache_dir=registry.config.state_dir / "compiled",
            on_event=lambda e: sink(backend_event(e)),
        )

    return ScoringModel(cells, load)


_HASHER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tessera-input-hash")


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes, streamed."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
    except FileNotFoundError as exc:
        raise ScoringError(f"input {path}: no such file") from exc
    return digest.hexdigest()


@recorded_scoring
def run_score_job(
    registry: Registry,
    model_ref: str,
    input_path: Path,
    output_path: Path,
    options: ScoreOptions = ScoreOptions(),
    *,
    on_created: Callable[[int], None] | None = None,
) -> ScoreJobResult:
    """Score ``input_path`` into ``output_path`` with ``model_ref`` as one recorded job."""
    cells = resolve_cells(registry, model_ref)
    if not input_path.is_file():
        raise ScoringError(f"input {input_path}: no such file")
    input_bytes = input_path.stat().st_size
    input_uri = None
    hashing: Future[str] | None = None
    input_sha: str | None = None
    if options.store:  # storing hashes the input; don't read it once more
        stored_sha = registry.store.put_file(input_path)
        input_sha, input_uri = stored_sha, registry.store.uri(stored_sha)
    else:  # hash beside the scoring (hashlib releases the GIL); the job gets it at the end
        hashing = _HASHER.submit(file_sha256, input_path)
    first = cells[0]
    job_id = create_job(
        registry,
        kind="score",
        model_ref=model_ref,
        model_name=first.name,
        model_version=first.version,
        model_ids=[c.model_id for c in cells],
        model_sha256s=[c.artifact_sha256 for c in cells],
        require_stage=options.require_stage,
        backend=options.backend,
        num_threads=options.num_threads,
        input_path=str(input_path.absolute()),
        input_sha256=input_sha,
        input_uri=input_uri,
        feature_schema=None if options.feature_schema is None else dict(options.feature_schema),
        output_path=str(output_path.absolute()),
        stored=options.store,
    )
    if on_created is not None:
        on_created(job_id)
    recorder = JobEventRecorder(registry, job_id)
    stored = 0

    def store_batch(batch: Any, first_row: int) -> None:
        nonlocal stored
        with registry.transaction() as session:
            stored += store_scores(
                session,
                model_name=first.name,
                job_id=job_id,
                input_job_id=job_id,
                rows=rows_from_batch(batch, first_row),
            )

    try:
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
            on_batch=store_batch if options.store else None,
        )
    except Exception as exc:
        if hashing is not None and hashing.exception() is None:
            update_job(registry, job_id, input_sha256=hashing.result())
        finish_job(registry, job_id, status="failed", error=str(exc).splitlines()[0])
        raise
    final_sha = hashing.result() if hashing is not None else str(input_sha)
    counts = {
        RERANKER: result.stats.by_source[RERANKER],
        FALLBACK: result.stats.by_source[FALLBACK],
    }
    if options.store:
        counts["stored"] = stored
    update_job(registry, job_id, live_schema_sha=result.live_sha, input_sha256=final_sha)
    finish_job(registry, job_id, status="succeeded", rows=result.rows, counts=counts)
    return ScoreJobResult(job_id, result.rows, counts, recorder.events, final_sha, input_bytes)
