"""Job routes: submit work to the server's pool, list jobs, read a job, its events and its
prediction set (streamed as TSV in bounded memory)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal

import pyarrow as pa
import pyarrow.csv as pacsv
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from . import _service as api
from .auth import read_access, write_access
from .ops import service

router = APIRouter(tags=["jobs"])
TSV_COLUMNS = ("query_id", "candidate_id", "score", "rank", "source", "model_sha256")
TSV_BATCH_ROWS = 65_536
_EVENT_KEYS = ("seq", "event", "level", "created_at")
MAX_ID = 2**31 - 1  # registry ids are 32-bit integers (PostgreSQL INTEGER)
JobId = Annotated[int, Path(ge=1, le=MAX_ID, description="a job id")]


class JobSubmission(BaseModel):
    """A job for the server's worker pool."""

    model_config = ConfigDict(extra="forbid")

    operation: Literal["score", "rescore", "backfill_schema_sha_v2"]
    payload: dict[str, Any] = Field(
        default_factory=dict,
        description="score: {model, input, store?}; rescore: {model, jobs?, page_size?, "
        "pace?}; backfill_schema_sha_v2: {dry_run?}",
    )


@router.post(
    "/jobs",
    status_code=202,
    summary="Run a job in the server's worker pool",
    dependencies=[Depends(write_access)],
)
async def submit(body: JobSubmission, request: Request) -> JSONResponse:
    pool = service(request).jobs
    job_id = await run_in_threadpool(pool.submit, body.operation, dict(body.payload))
    return JSONResponse(
        {"job_id": job_id, "operation": body.operation, "href": f"/jobs/{job_id}"},
        status_code=202,
        headers={"Location": f"/jobs/{job_id}"},
    )


@router.get(
    "/jobs",
    summary="Jobs, newest first (filter by status, model, kind)",
    dependencies=[Depends(read_access)],
)
async def list_jobs(
    request: Request,
    status: str | None = None,
    model: str | None = None,
    kind: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
    before: int | None = Query(
        None, ge=1, le=MAX_ID, description="only jobs with a smaller id (paging)"
    ),
) -> dict[str, Any]:
    registry = service(request).registry
    jobs = await run_in_threadpool(
        lambda: api.list_jobs(
            registry, status=status, model=model, kind=kind, limit=limit, before=before
        )
    )
    return {"jobs": jobs}


@router.get("/jobs/{job_id}", summary="One job", dependencies=[Depends(read_access)])
async def get_job(job_id: JobId, request: Request) -> dict[str, Any]:
    job: dict[str, Any] = await run_in_threadpool(api.get_job, service(request).registry, job_id)
    return job


@router.get(
    "/jobs/{job_id}/events", summary="A job's events in order", dependencies=[Depends(read_access)]
)
async def get_events(job_id: JobId, request: Request) -> dict[str, Any]:
    rows = await run_in_threadpool(api.job_events, service(request).registry, job_id)
    events = [
        {
            "seq": row["seq"],
            "event": row["event"],
            "level": row["level"],
            "fields": {k: v for k, v in row.items() if k not in _EVENT_KEYS},
            "at": row["created_at"],
        }
        for row in rows
    ]
    return {"job_id": job_id, "events": events}


@router.get(
    "/scoring/prediction-sets/{job_id}/score.tsv",
    summary="A job's scored rows as TSV (streamed)",
    dependencies=[Depends(read_access)],
    response_class=StreamingResponse,
)
async def prediction_set_tsv(job_id: JobId, request: Request) -> StreamingResponse:
    parquet = await run_in_threadpool(api.prediction_set, service(request).registry, job_id)
    return StreamingResponse(
        _tsv(parquet), media_type="text/tab-separated-values; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="job-{job_id}-score.tsv"'},
    )  # fmt: skip


def _tsv(parquet: Any) -> Iterator[bytes]:
    """The header, then one TSV chunk per record batch (memory bounded by one batch).

    Values are not quoted; an id holding a tab or a line break makes Arrow refuse the
    batch (the stream ends early) rather than emit a row that parses differently.
    """
    yield ("\t".join(TSV_COLUMNS) + "\n").encode("utf-8")
    options = pacsv.WriteOptions(include_header=False, delimiter="\t", quoting_style="none")
    for batch in parquet.iter_batches(batch_size=TSV_BATCH_ROWS, columns=list(TSV_COLUMNS)):
        sink = pa.BufferOutputStream()
        pacsv.write_csv(batch, sink, write_options=options)
        yield sink.getvalue().to_pybytes()
