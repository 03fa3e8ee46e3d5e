"""``POST /v1/score``: synchronous, guarded, in-process scoring of one request.

Bodies are columnar JSON (``{model, feature_schema?, rows, strict?}``) or an Arrow IPC
stream whose schema metadata carries the feature schema (``model`` and ``strict`` as query
parameters). This module only decodes and encodes: the scoring, the guard, the events and
the job record are the facade's ``score_and_record``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
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


class RescoreRequest(ScoreRequest):
    """Rows that carry ``previous_score`` and ``previous_model_sha`` (as stored elsewhere)."""

    store: bool = Field(
        default=False, description="write current scores and the audit (as `rescore` does)"
    )


@dataclass(frozen=True)
class Decoded:
    """A request body, decoded."""

    model: str
    table: pa.Table
    feature_schema: dict[str, list[str]] | None
    strict: bool
    store: bool


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


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "false").lower() in ("1", "true")


def _decode(request: Request, body: bytes, kind_of: type[ScoreRequest]) -> Decoded:
    """Model reference, rows, schema override and flags from either body kind."""
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
        try:
            table = pa.ipc.open_stream(pa.py_buffer(body)).read_all()
        except (pa.ArrowInvalid, OSError) as exc:
            raise Problem(
                422,
                "invalid_arrow",
                "Invalid Arrow stream",
                f"body is not an Arrow IPC stream: {str(exc).splitlines()[0]}",
            ) from exc
        return Decoded(model, table, None, _flag(request, "strict"), _flag(request, "store"))
    if kind != "application/json":
        raise Problem(
            415,
            "unsupported_media_type",
            "Unsupported media type",
            f"Content-Type {kind!r}: expected application/json or {ARROW_STREAM}",
        )
    try:
        parsed = kind_of.model_validate_json(body)
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
    store = bool(getattr(parsed, "store", False))
    return Decoded(parsed.model, table, parsed.feature_schema, parsed.strict, store)


def _score(
    request: Request, body: bytes, rescore: bool = False
) -> tuple[int, api.ServedModel, api.TableScore]:
    state = service(request)
    decoded = _decode(request, body, RescoreRequest if rescore else ScoreRequest)
    served = state.models.get(decoded.model)
    rid = getattr(request.state, "request_id", "")
    source, sha = f"http request {rid}", hashlib.sha256(body).hexdigest()
    try:
        if rescore:
            job_id, result = api.rescore_and_record(
                state.recorder, state.registry, served, decoded.table,
                feature_schema=decoded.feature_schema, store=decoded.store,
                source=source, input_sha256=sha,
            )  # fmt: skip
        else:
            job_id, result = api.score_and_record(
                state.recorder, served, decoded.table, feature_schema=decoded.feature_schema,
                strict=decoded.strict, source=source, input_sha256=sha,
            )  # fmt: skip
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
    return _respond(request, *await run_in_threadpool(_score, request, body))


@router.post(
    "/v1/score/rescore",
    summary="Re-score rows that carry previous_score and previous_model_sha; echo both beside "
    "the new score; with store, write current scores and the audit before answering",
    dependencies=[Depends(write_access)],
    openapi_extra={
        **_SCORE_OPENAPI,
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/RescoreRequest"}},
                ARROW_STREAM: {"schema": {"type": "string", "format": "binary"}},
            },
        },
    },
    response_model=None,
)
async def rescore(request: Request) -> Response:
    body = await request.body()
    return _respond(request, *await run_in_threadpool(_score, request, body, True))


def _respond(
    request: Request, job_id: int, served: api.ServedModel, result: api.TableScore
) -> Response:
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


def add_body_schemas(document: dict[str, Any]) -> dict[str, Any]:
    """Put the JSON body models the scoring routes reference into the OpenAPI components."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for model in (ScoreRequest, RescoreRequest):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return document
