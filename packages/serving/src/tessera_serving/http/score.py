"""``POST /v1/score``: synchronous, guarded, in-process scoring of one request.

Bodies are columnar JSON (``{model, feature_schema?, rows, strict?}``) or an Arrow IPC
stream whose schema metadata carries the feature schema (``model`` and ``strict`` as query
parameters). This module only decodes and encodes: the scoring, the guard, the events and
the job record are the facade's ``score_and_record``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import _service as api
from .auth import write_access
from .ops import service
from .problems import Problem

ARROW_STREAM = "application/vnd.apache.arrow.stream"
router = APIRouter(tags=["scoring"])


class ScoreRequest(BaseModel):
    """One synchronous scoring request with columnar rows."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="NAME (= NAME@production), NAME@stage or NAME#VERSION")
    feature_schema: dict[str, list[str]] | None = Field(
        default=None, description="family -> columns the rows were computed with"
    )
    rows: dict[str, list[Any]] = Field(
        description="columns: query_id, candidate_id, base_score and the feature columns"
    )
    strict: bool = Field(default=False, description="a schema mismatch is a 422, not a fallback")


_SCORE_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/ScoreRequest"}},
            ARROW_STREAM: {"schema": {"type": "string", "format": "binary"}},
        },
    },
    "parameters": [
        {
            "name": "model",
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": "the model reference, for Arrow bodies",
        },
        {
            "name": "strict",
            "in": "query",
            "required": False,
            "schema": {"type": "boolean"},
            "description": "for Arrow bodies: a schema mismatch is a 422",
        },
    ],
}


def _decode(
    request: Request, body: bytes
) -> tuple[str, pa.Table, dict[str, list[str]] | None, bool]:
    """(model ref, table, feature schema override, strict) from either body kind."""
    kind = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if kind == ARROW_STREAM:
        model = request.query_params.get("model")
        if not model:
            raise Problem(
                422,
                "invalid_request",
                "Invalid request",
                "query parameter 'model' is required with an Arrow body",
            )
        strict = request.query_params.get("strict", "false").lower() in ("1", "true")
        try:
            table = pa.ipc.open_stream(pa.py_buffer(body)).read_all()
        except (pa.ArrowInvalid, OSError) as exc:
            raise Problem(
                422,
                "invalid_arrow",
                "Invalid Arrow stream",
                f"body is not an Arrow IPC stream: {str(exc).splitlines()[0]}",
            ) from exc
        return model, table, None, strict
    if kind != "application/json":
        raise Problem(
            415,
            "unsupported_media_type",
            "Unsupported media type",
            f"Content-Type {kind!r}: expected application/json or {ARROW_STREAM}",
        )
    try:
        parsed = ScoreRequest.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "body"
        raise Problem(
            422, "invalid_request", "Invalid request", f"{where}: {first.get('msg', 'invalid')}"
        ) from None
    try:
        table = pa.table(parsed.rows)
    except (pa.ArrowException, ValueError, TypeError) as exc:
        raise Problem(
            422,
            "invalid_rows",
            "Invalid rows",
            f"rows: {str(exc).splitlines()[0]} (columns must be equal-length lists "
            "of one type each)",
        ) from exc
    return parsed.model, table, parsed.feature_schema, parsed.strict


def _score(request: Request, body: bytes) -> tuple[int, api.ServedModel, api.TableScore]:
    state = service(request)
    model_ref, table, schema, strict = _decode(request, body)
    served = state.models.get(model_ref)
    rid = getattr(request.state, "request_id", "")
    try:
        job_id, result = api.score_and_record(
            state.recorder,
            served,
            table,
            feature_schema=schema,
            strict=strict,
            source=f"http request {rid}",
            input_sha256=hashlib.sha256(body).hexdigest(),
        )
    except api.SchemaMismatchError as exc:
        state.metrics.observe_scoring({}, [("reranker.schema_mismatch", "")])
        raise Problem(
            422,
            "schema_mismatch",
            "Feature schema mismatch",
            str(exc).splitlines()[0],
            job_id=exc.job_id,
            **exc.fields,
        ) from None
    state.metrics.observe_scoring(result.counts, api.event_reasons(result.events))
    return job_id, served, result


def _json_rows(table: pa.Table) -> dict[str, list[Any]]:
    score = table.column("score")
    clean = pc.if_else(pc.is_nan(score), pa.scalar(None, pa.float64()), score)
    return {**table.set_column(2, "score", clean).to_pydict()}


@router.post(
    "/v1/score",
    summary="Score one request behind the feature-schema guard (JSON or Arrow IPC)",
    dependencies=[Depends(write_access)],
    openapi_extra=_SCORE_OPENAPI,
    response_model=None,
)
async def score(request: Request) -> Response:
    body = await request.body()
    job_id, served, result = await run_in_threadpool(_score, request, body)
    events = [{"event": e.name, "level": e.level, "fields": e.fields} for e in result.events]
    summary = {"job_id": job_id, "model": served.version_ref, "counts": result.counts}
    if ARROW_STREAM in request.headers.get("accept", ""):
        meta = {
            b"tessera.response": json.dumps({**summary, "events": events}, default=str).encode()
        }
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, result.table.schema.with_metadata(meta)) as writer:
            writer.write_table(result.table)
        return Response(
            sink.getvalue().to_pybytes(),
            media_type=ARROW_STREAM,
            headers={"X-Tessera-Job-Id": str(job_id)},
        )
    document = {**summary, "rows": _json_rows(result.table), "events": events}
    return Response(json.dumps(document, default=str), media_type="application/json")
