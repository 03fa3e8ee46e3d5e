"""Scoring stage receipts (DESIGN.md section 7): scoring and re-scoring.

Each decorator wraps one stage's API entry point. The receipt is stored in the registry,
linked to the job, and written under ``$TESSERA_RECEIPTS_DIR`` when set. Re-scores are
recorded as the resulting current scores (content only, no ids or timestamps).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import select

from tessera_contracts import FileRef, ReceiptRecorder
from tessera_serving.registry.engine import Registry
from tessera_serving.registry.receipt_store import JobLink, bind_call, serving_recorder
from tessera_serving.registry.scoring_tables import CurrentScore, ScoringJob

P = ParamSpec("P")


R = TypeVar("R")


def _parquet_rows(path: Path) -> int | None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return int(pq.ParquetFile(path).metadata.num_rows)
    except (OSError, pa.ArrowException):
        return None


def _model_input(rec: ReceiptRecorder, registry: Registry, job_id: int) -> ScoringJob | None:
    with registry.transaction(readonly=True) as session:
        job = session.get(ScoringJob, job_id)
    if job is not None:
        rec.add_input_data(
            "model", {"name": job.model_name, "artifact_sha256s": sorted(job.model_sha256s)}
        )
    return job


def recorded_scoring(fn: Callable[P, Any]) -> Callable[P, Any]:
    """Decorate ``run_score_job``: input file and model in, output file out, rows by source."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
        bound = bind_call(fn, args, kwargs)
        registry: Registry = bound.arguments["registry"]
        link, callback = JobLink(), bound.arguments.get("on_created")

        def on_created(job_id: int) -> None:
            link(job_id)
            if callback is not None:
                callback(job_id)

        bound.arguments["on_created"] = on_created
        input_path, output_path = (
            Path(bound.arguments["input_path"]),
            bound.arguments["output_path"],
        )
        options = bound.arguments["options"]
        rec = serving_recorder(registry, "scoring", unit="rows", link=link)
        with rec:
            rows = _parquet_rows(input_path)
            rec.param("model_ref", bound.arguments["model_ref"])
            rec.param("require_stage", getattr(options, "require_stage", None))
            rec.param("store", bool(getattr(options, "store", False)))
            if getattr(options, "feature_schema", None) is not None:
                rec.add_input_data("feature_schema", dict(options.feature_schema))
            try:
                result = fn(*bound.args, **bound.kwargs)
            except Exception:
                if input_path.is_file():
                    rec.add_input(input_path, name="input.parquet", records=rows)
                rec.count(records_in=rows or 0, rejected=rows or 0)
                raise
            # the job hashed its input already: one read of a large file, not two
            rec.add_input_ref(
                FileRef(
                    path="input.parquet", kind="file", sha256=result.input_sha256,
                    bytes=result.input_bytes, records=rows,
                )
            )  # fmt: skip
            _model_input(rec, registry, result.job_id)
            rec.add_output(output_path, name="output.parquet", records=result.rows)
            fallback = result.fallback_rows
            rec.count(
                records_in=rows if rows is not None else result.rows,
                accepted=result.rows - fallback,
                skipped=fallback,
            )
            if fallback:
                rec.warn(f"{fallback} of {result.rows} rows kept the base_score ordering")
        return result

    return wrapper


def _current_scores_ref(registry: Registry, model_name: str) -> FileRef:
    """The current scores of ``model_name`` as one content hash (sorted by query, candidate)."""
    digest, count, size = hashlib.sha256(), 0, 0
    with registry.transaction(readonly=True) as session:
        query = (
            select(
                CurrentScore.query_id,
                CurrentScore.candidate_id,
                CurrentScore.score,
                CurrentScore.source,
                CurrentScore.model_sha256,
            )
            .where(CurrentScore.model_name == model_name)
            .order_by(CurrentScore.query_id, CurrentScore.candidate_id)
        )
        for row in session.execute(query).yield_per(10_000):
            line = json.dumps(list(row), separators=(",", ":")).encode() + b"\n"
            digest.update(line)
            count, size = count + 1, size + len(line)
    return FileRef(
        path=f"current_scores/{model_name}", kind="data", sha256=digest.hexdigest(),
        bytes=size, records=count,
    )  # fmt: skip


def recorded_rescoring(fn: Callable[P, Any]) -> Callable[P, Any]:
    """Decorate ``run_rescore``: stored inputs and model in, the resulting current scores out."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
        bound = bind_call(fn, args, kwargs)
        registry: Registry = bound.arguments["registry"]
        jobs = bound.arguments.get("jobs")
        link = JobLink()
        rec = serving_recorder(registry, "rescoring", unit="rows", link=link)
        with rec:
            rec.param("model_ref", bound.arguments["model_ref"])
            rec.param("jobs", None if jobs is None else ",".join(map(str, sorted(set(jobs)))))
            rec.param("page_size", bound.arguments.get("page_size"))
            result = fn(*bound.args, **bound.kwargs)
            link(result.job_id)
            job = _model_input(rec, registry, result.job_id)
            if job is not None:
                with registry.transaction(readonly=True) as session:
                    shas = session.scalars(
                        select(ScoringJob.input_sha256)
                        .join(CurrentScore, CurrentScore.input_job_id == ScoringJob.id)
                        .where(CurrentScore.model_name == job.model_name)
                        .distinct()
                    ).all()
                rec.add_input_data("stored_inputs", sorted(s for s in shas if s))
                rec.add_output_ref(_current_scores_ref(registry, job.model_name))
            total = result.rescored + result.unchanged
            rec.count(records_in=total, accepted=result.rescored, skipped=result.unchanged)
        return result

    return wrapper
