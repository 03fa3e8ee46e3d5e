"""Jobs submitted as payloads (the HTTP service's ``POST /jobs``): score, rescore, backfill.

Each runs the same function as its CLI command, records a job row, and hands the job id to
``on_created`` as soon as the row exists. A score job's input is a Parquet path the process
can read or a URI of the artifact store; its output (the prediction set) is written under
``<state>/prediction-sets/`` by rename, as the CLI writes its output.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from tessera_serving.errors import ConfigurationError, NotFoundError
from tessera_serving.registry import Registry
from tessera_serving.registry.backfill import backfill_schema_sha_v2
from tessera_serving.scoring import events as ev
from tessera_serving.scoring.jobs import JobEventRecorder, create_job, finish_job, get_job
from tessera_serving.scoring.rescore import DEFAULT_PAGE_SIZE, run_rescore
from tessera_serving.scoring.score_job import ScoreOptions, run_score_job
from tessera_serving.scoring.sweep_pages import Pace

OPERATIONS = ("score", "rescore", "backfill_schema_sha_v2")
BACKFILL_KIND = "backfill"
BACKFILLED = "registry.schema_sha_v2_backfilled"
OnCreated = Callable[[int], None]


def run_payload_job(
    registry: Registry,
    operation: str,
    payload: Mapping[str, Any],
    *,
    backend: str = "auto",
    num_threads: int | None = None,
    pace_s: float = 0.0,
    on_created: OnCreated | None = None,
) -> int:
    """Run one job described by ``operation`` and ``payload``; return its job id."""
    if operation == "score":
        return _score(registry, payload, backend, num_threads, on_created)
    if operation == "rescore":
        result = run_rescore(
            registry,
            _text(payload, "model"),
            jobs=payload.get("jobs"),
            page_size=int(payload.get("page_size") or DEFAULT_PAGE_SIZE),
            backend=backend,
            num_threads=num_threads,
            pace=_pace(payload.get("pace"), pace_s),
            on_created=on_created,
        )
        return int(result.job_id)
    if operation == "backfill_schema_sha_v2":
        return _backfill(registry, bool(payload.get("dry_run", False)), on_created)
    raise ConfigurationError(f"operation {operation!r}: expected one of {list(OPERATIONS)}")


def _pace(given: Any, default_pause_s: float) -> Pace | None:
    """A payload's ``pace``: seconds between pages (number) or ``"20000/s"``/``"200ms"``."""
    if isinstance(given, str):
        return Pace.parse(given)
    if given is None:
        return Pace(pause_s=default_pause_s) if default_pause_s > 0 else None
    if isinstance(given, bool) or not isinstance(given, int | float) or given < 0:
        raise ConfigurationError(
            f"payload field 'pace': expected seconds >= 0 or a string such as '200ms', "
            f"found {given!r}"
        )
    return Pace(pause_s=float(given)) if given > 0 else None


def _text(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"payload field {key!r}: expected a non-empty string")
    return value


def _score(
    registry: Registry,
    payload: Mapping[str, Any],
    backend: str,
    num_threads: int | None,
    on_created: OnCreated | None,
) -> int:
    model, source = _text(payload, "model"), _text(payload, "input")
    out_dir = registry.config.state_dir / "prediction-sets"
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / f"{uuid.uuid4().hex}.parquet"
    options = ScoreOptions(
        store=bool(payload.get("store", False)), backend=backend, num_threads=num_threads
    )
    with tempfile.TemporaryDirectory(prefix="tessera-input-") as tmp:
        path = _input_path(registry, source, Path(tmp))
        result = run_score_job(registry, model, path, output, options, on_created=on_created)
    return int(result.job_id)


def _input_path(registry: Registry, source: str, tmp: Path) -> Path:
    """A local file for ``source``: a store URI is fetched (and verified), a path used as is."""
    if "://" in source:
        return registry.store.fetch(registry.store.sha256_from_uri(source), tmp)
    path = Path(source)
    if not path.is_file():
        raise NotFoundError(f"score input {source}: no such file readable by the server")
    return path


def _backfill(registry: Registry, dry_run: bool, on_created: OnCreated | None) -> int:
    job_id = create_job(registry, kind=BACKFILL_KIND, model_ref="*", model_name="*")
    if on_created is not None:
        on_created(job_id)
    try:
        changes = backfill_schema_sha_v2(registry, dry_run=dry_run)
    except Exception as exc:
        finish_job(registry, job_id, status="failed", error=str(exc).splitlines()[0])
        raise
    recorder = JobEventRecorder(registry, job_id)
    for change in changes:
        fields = {
            "table": change.table,
            "id": change.id,
            "label": change.label,
            "schema_sha_v2": change.schema_sha_v2,
            "dry_run": dry_run,
        }
        recorder(ev.Event(BACKFILLED, "info", fields))
    finish_job(
        registry,
        job_id,
        status="succeeded",
        rows=len(changes),
        counts={"would_change" if dry_run else "changed": len(changes)},
    )
    return job_id


def prediction_set(registry: Registry, job_id: int) -> pq.ParquetFile:
    """The scored rows a job wrote (its output file), opened for streaming."""
    job = get_job(registry, job_id)
    output = job.get("output_path")
    if job["status"] != "succeeded" or not output or not Path(output).is_file():
        raise NotFoundError(
            f"scoring job {job_id} has no prediction set (status {job['status']}; only "
            "finished score jobs with an output file have one)"
        )
    return pq.ParquetFile(output, pre_buffer=False)
