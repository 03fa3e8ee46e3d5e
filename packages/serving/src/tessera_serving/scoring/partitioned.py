"""A partitioned score job: every Parquet partition of a directory or glob (local or any
fsspec URL such as ``s3://``) scored as ONE job, partitions in parallel.

Partitions run on a Dask cluster (a scheduler address, ``local`` for a local cluster, or a
``distributed.Client``) or, without one, in a local process pool (``partition_runners``).
Each partition is scored and committed once by ``partition_worker.score_partition``. Ranks
are per partition, so before any is scored the job refuses a query with rows in two of them
(``query_spans``). The coordinator heartbeats while it waits, so a living job is never taken
for dead and a killed one is marked ``abandoned`` by the next command. The job
is identified by its model, partitions, output and options (``batch_key``): run again, it
skips every partition already committed and completes only the missing ones. The job's
events carry each partition's guard events (with a ``partition`` field) and its counts name
the partitions that fell back and why.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tessera_serving.errors import ConfigurationError, ScoringError
from tessera_serving.registry import Registry
from tessera_serving.scoring import events as ev
from tessera_serving.scoring.guard import ModelCell
from tessera_serving.scoring.jobs import JobEventRecorder, create_job, finish_job
from tessera_serving.scoring.liveness import BackgroundHeartbeat
from tessera_serving.scoring.model_ref import resolve_cells
from tessera_serving.scoring.partition_receipt import PartitionedReceipt
from tessera_serving.scoring.partition_runners import on_dask, on_pool
from tessera_serving.scoring.partition_worker import PartitionResult, PartitionTask
from tessera_serving.scoring.query_spans import find_split_queries
from tessera_serving.scoring.score_job import ScoreOptions
from tessera_serving.scoring.scorer import FALLBACK, RERANKER


def list_partitions(spec: str) -> list[str]:
    """The Parquet partitions ``spec`` names, sorted (a directory means ``DIR/*.parquet``)."""
    import fsspec

    fs, path = fsspec.core.url_to_fs(spec)
    pattern = path.rstrip("/") + "/*.parquet" if fs.isdir(path) else path
    files = sorted(str(f) for f in fs.glob(pattern))
    found = [str(fs.unstrip_protocol(f)) for f in files] if "://" in spec else files
    if not found:
        raise ScoringError(f"input {spec}: no Parquet partitions (expected DIR, DIR/*.parquet)")
    return found


def output_paths(partitions: Sequence[str], output_dir: str) -> list[str]:
    """Each partition's output: its file name under ``output_dir`` (names must be unique)."""
    names = [posixpath.basename(p) for p in partitions]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ScoringError(f"input: partitions share the file name(s) {twice[:5]}; rename them")
    if "://" in output_dir:
        return [f"{output_dir.rstrip('/')}/{n}" for n in names]
    out = Path(output_dir)
    if not out.is_dir():
        raise ScoringError(f"output {output_dir}: not an existing directory")
    if any(str(out.absolute()) == str(Path(p).parent) for p in partitions if "://" not in p):
        raise ScoringError(f"output {output_dir}: is the input directory; choose another")
    return [str(out.absolute() / n) for n in names]


def batch_key(model_shas: Sequence[str], partitions: Sequence[str], output: str, o: Any) -> str:
    """The identity of a partitioned job: same model, partitions, output and options."""
    body = {
        "models": sorted(model_shas),
        "partitions": list(partitions),
        "output": output,
        "store": o.store,
        "require_stage": o.require_stage,
        "feature_schema": o.feature_schema,
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=list).encode()).hexdigest()


@dataclass
class PartitionedResult:
    """The finished partitioned job."""

    job_id: int
    rows: int
    counts: dict[str, Any]
    partitions: list[PartitionResult] = field(default_factory=list)
    events: list[ev.Event] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def fallback_rows(self) -> int:
        return int(self.counts.get(FALLBACK, 0))


def run_partitioned_job(
    registry: Registry,
    model_ref: str,
    input_spec: str,
    output_dir: str,
    options: ScoreOptions | None = None,
    *,
    dask: Any = None,
    workers: int = 2,
    allow_split_queries: bool = False,
) -> PartitionedResult:
    """Score every partition of ``input_spec`` into ``output_dir`` as one job (module doc).

    A query with rows in two partitions is an error before any partition is scored, unless
    ``allow_split_queries`` (then it is ranked within each partition, and the job says so).
    Leaves a ``scoring`` receipt linked to the job (``partition_receipt.py``).
    """
    if workers < 1:
        raise ConfigurationError(f"workers must be an integer >= 1, got {workers}")
    options = options if options is not None else ScoreOptions()
    with PartitionedReceipt(registry, model_ref, input_spec, output_dir, options) as receipt:
        cells = resolve_cells(registry, model_ref)
        partitions = list_partitions(input_spec)
        outputs = output_paths(partitions, output_dir)
        shas = tuple(c.artifact_sha256 for c in cells)
        key = batch_key(shas, partitions, output_dir, options)
        job_id = _open_job(registry, model_ref, cells, input_spec, output_dir, options)
        receipt.link(job_id, key, len(partitions))
        tasks = [
            PartitionTask(
                registry.config, f"{cells[0].name}#{cells[0].version}", shas, job_id, key, p, o,
                options,
            )
            for p, o in zip(partitions, outputs, strict=True)
        ]  # fmt: skip
        recorder = JobEventRecorder(registry, job_id)
        with BackgroundHeartbeat(registry, job_id):
            try:
                split = _split_queries(partitions, allow_split_queries, recorder)
                if allow_split_queries:
                    receipt.allowed_split_queries(split)
                result = _score(tasks, dask, workers, recorder)
            except Exception as exc:
                finish_job(registry, job_id, status="failed", error=_first_line(exc))
                raise
        if allow_split_queries:
            result.counts["split_queries"] = split
        return _finish(registry, result)


def _open_job(
    registry: Registry,
    model_ref: str,
    cells: Sequence[ModelCell],
    input_spec: str,
    output_dir: str,
    options: ScoreOptions,
) -> int:
    return create_job(
        registry,
        kind="score",
        model_ref=model_ref,
        model_name=cells[0].name,
        model_version=cells[0].version,
        model_ids=[c.model_id for c in cells],
        model_sha256s=[c.artifact_sha256 for c in cells],
        require_stage=options.require_stage,
        backend=options.backend,
        num_threads=options.num_threads,
        input_path=input_spec,
        output_path=output_dir,
        stored=options.store,
    )


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else repr(exc)


def _split_queries(partitions: Sequence[str], allow: bool, recorder: JobEventRecorder) -> int:
    """Refuse (or, when allowed, record) queries with rows in several partitions."""
    split = find_split_queries(partitions)
    if split.count and not allow:
        raise ScoringError(split.message())
    if split.count:
        recorder(
            ev.split_queries(split.count, query=split.query, partitions=list(split.partitions))
        )
    return split.count


def _score(
    tasks: list[PartitionTask], dask: Any, workers: int, recorder: JobEventRecorder
) -> PartitionedResult:
    """Run every partition; the result counts committed, skipped and failed partitions."""
    result = PartitionedResult(tasks[0].job_id, 0, {})
    failures: list[str] = []
    outcomes = on_dask(dask, workers, tasks) if dask is not None else on_pool(workers, tasks)
    _collect(outcomes, result, recorder, failures)
    result.partitions.sort(key=lambda r: r.partition)
    result.counts = _counts(result.partitions, len(tasks), failures)
    result.rows = sum(r.rows for r in result.partitions if not r.skipped)
    result.events = recorder.events
    result.failures = failures
    return result


def _finish(registry: Registry, result: PartitionedResult) -> PartitionedResult:
    if result.failures:
        error = f"{len(result.failures)} partition(s) failed, first: {result.failures[0]}"
        finish_job(registry, result.job_id, status="failed", counts=result.counts, error=error)
        raise ScoringError(f"{error}; run the job again to complete the missing partitions")
    finish_job(registry, result.job_id, status="succeeded", rows=result.rows, counts=result.counts)
    return result


def _collect(
    outcomes: Iterable[PartitionResult | BaseException],
    result: PartitionedResult,
    recorder: JobEventRecorder,
    failures: list[str],
) -> None:
    """Each partition's result and events into the job; each failure's first line."""
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            failures.append(str(outcome).splitlines()[0] if str(outcome) else repr(outcome))
            continue
        result.partitions.append(outcome)
        for fields in outcome.events:
            fields = dict(fields)
            name, level = fields.pop("event"), fields.pop("level")
            recorder(ev.Event(name, level, {**fields, "partition": outcome.partition}))


def _counts(done: list[PartitionResult], total: int, failures: list[str]) -> dict[str, Any]:
    new = [r for r in done if not r.skipped]
    counts: dict[str, Any] = {
        "partitions": total,
        "committed": len(new),
        "skipped_committed_before": len(done) - len(new),
        "failed": len(failures),
        RERANKER: sum(r.counts.get(RERANKER, 0) for r in new),
        FALLBACK: sum(r.counts.get(FALLBACK, 0) for r in new),
        "fallback_partitions": {r.partition: r.fallback for r in new if r.fallback},
    }
    if any("stored" in r.counts for r in new):
        counts["stored"] = sum(r.counts.get("stored", 0) for r in new)
    return counts
