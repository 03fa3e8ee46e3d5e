"""Scoring stage receipts (DESIGN.md section 7): scoring and re-scoring.

``run_score_job`` and ``run_rescore`` each open one of these recorders and tell it what
they did; nothing here re-reads the input the job already hashed. The receipt is stored in
the registry, linked to the job, and written under ``$TESSERA_RECEIPTS_DIR`` when set.
Re-scores are recorded as the rows the job wrote (content only, no ids or timestamps).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

import pyarrow as pa
from sqlalchemy import select

from tessera_contracts import FileRef
from tessera_contracts.receipts import ReceiptRecorder
from tessera_serving.errors import ServingError
from tessera_serving.registry.engine import Registry
from tessera_serving.registry.receipt_store import JobLink, serving_recorder
from tessera_serving.registry.scoring_tables import ScoringJob
from tessera_serving.scoring.parquet_io import open_parquet
from tessera_serving.scoring.scorer import CANDIDATE_ID, QUERY_ID, RERANKER


class ScoredFile(Protocol):
    """What a finished score job reports, as the receipt sees it."""

    @property
    def job_id(self) -> int: ...
    @property
    def rows(self) -> int: ...
    @property
    def fallback_rows(self) -> int: ...
    @property
    def input_sha256(self) -> str: ...
    @property
    def input_bytes(self) -> int: ...


def add_model_input(rec: ReceiptRecorder, registry: Registry, job_id: int) -> ScoringJob | None:
    with registry.transaction(readonly=True) as session:
        job = session.get(ScoringJob, job_id)
    if job is not None:
        rec.add_input_data(
            "model", {"name": job.model_name, "artifact_sha256s": sorted(job.model_sha256s)}
        )
    return job


def _footer_rows(path: Path) -> int:
    """The input's row count from its Parquet footer (0 when unreadable): what a failure rejects."""
    try:
        return int(open_parquet(path).metadata.num_rows)
    except (ServingError, OSError, pa.ArrowException):
        return 0


def scoring_recorder(
    registry: Registry, link: JobLink, model_ref: str, options: Any
) -> ReceiptRecorder:
    """A ``scoring`` recorder with the request every score job records: the model reference,
    the required stage, whether scores are stored, and a feature schema given by the caller."""
    rec = serving_recorder(registry, "scoring", unit="rows", link=link)
    rec.param("model_ref", model_ref)
    rec.param("require_stage", getattr(options, "require_stage", None))
    rec.param("store", bool(getattr(options, "store", False)))
    if getattr(options, "feature_schema", None) is not None:
        rec.add_input_data("feature_schema", dict(options.feature_schema))
    return rec


class ScoringReceipt:
    """The ``scoring`` receipt of one score job: request, input, model, output, row counts."""

    def __init__(
        self,
        registry: Registry,
        model_ref: str,
        input_path: Path,
        options: Any,
        on_created: Callable[[int], None] | None = None,
    ) -> None:
        self.registry = registry
        self.input_path = input_path
        self._link = JobLink()
        self._callback = on_created
        self.rec = scoring_recorder(registry, self._link, model_ref, options)

    def on_created(self, job_id: int) -> None:
        """The job exists: link the receipt to it, then tell the caller."""
        self._link(job_id)
        if self._callback is not None:
            self._callback(job_id)

    def __enter__(self) -> Self:
        self.rec.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if isinstance(exc, Exception):
            rows = _footer_rows(self.input_path)
            self.rec.count(records_in=rows, rejected=rows)
        self.rec.__exit__(exc_type, exc, tb)

    def scored(self, result: ScoredFile, output_path: Path) -> None:
        """Record the finished job: its input (hashed once, by the job), model and output."""
        rec = self.rec
        rec.add_input_ref(
            FileRef(
                path="input.parquet", kind="file", sha256=result.input_sha256,
                bytes=result.input_bytes, records=result.rows,
            )
        )  # fmt: skip
        add_model_input(rec, self.registry, result.job_id)
        rec.add_output(output_path, name="output.parquet", records=result.rows)
        fallback = result.fallback_rows
        rec.count(records_in=result.rows, accepted=result.rows - fallback, skipped=fallback)
        if fallback:
            rec.warn(f"{fallback} of {result.rows} rows kept the base_score ordering")


def page_digest(output: pa.RecordBatch) -> tuple[str, int]:
    """(sha256, rows) of what a re-score page wrote: its rows the model scored, as canonical
    JSON of (query, candidate, score, model sha256); no ids, no timestamps."""
    names = (QUERY_ID, CANDIDATE_ID, "score", "model_sha256")
    keep = [s == RERANKER for s in output.column("source").to_pylist()]
    columns = [
        [v for v, k in zip(output.column(n).to_pylist(), keep, strict=True) if k] for n in names
    ]
    return hashlib.sha256(json.dumps(columns).encode()).hexdigest(), sum(keep)


def rescoring_recorder(
    registry: Registry, model_ref: str, jobs: Sequence[int] | None, page_size: int
) -> tuple[ReceiptRecorder, JobLink]:
    """The ``rescoring`` recorder of one sweep, with its parameters, and its job link."""
    link = JobLink()
    rec = serving_recorder(registry, "rescoring", unit="rows", link=link)
    rec.param("model_ref", model_ref)
    rec.param("jobs", None if jobs is None else ",".join(map(str, sorted(set(jobs)))))
    rec.param("page_size", page_size)
    return rec, link


def record_rescored(
    rec: ReceiptRecorder,
    registry: Registry,
    job_id: int,
    pages: Sequence[tuple[int, int, str, int]],
    unchanged: int,
) -> None:
    """Stored inputs and model in; out, the rows this job re-scored, one digest per page
    (``pages``: input job, first row, ``page_digest``), ordered by input content and row.

    O(rows this job wrote): a worker sharing a sweep over a large table never reads the
    model's other current scores to write its receipt."""
    add_model_input(rec, registry, job_id)
    input_jobs = sorted({page[0] for page in pages})
    with registry.transaction(readonly=True) as session:
        found = session.execute(
            select(ScoringJob.id, ScoringJob.input_sha256).where(ScoringJob.id.in_(input_jobs))
        )
        shas = {int(job): sha for job, sha in found}
    rec.add_input_data("stored_inputs", sorted({s for s in shas.values() if s}))
    digests = sorted(
        [shas.get(job) or "", first, digest, rows] for job, first, digest, rows in pages
    )
    rescored = sum(page[3] for page in pages)
    rec.add_output_data("rescored_scores", digests, records=rescored)
    rec.count(records_in=rescored + unchanged, accepted=rescored, skipped=unchanged)
