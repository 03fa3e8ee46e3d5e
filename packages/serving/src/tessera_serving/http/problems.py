"""Errors as RFC 9457 problem documents (``application/problem+json``), never a traceback.

Every error response has ``type``, ``title``, ``status`` and ``detail`` (the one-line message
serving raised), plus ``request_id`` and any fields the problem carries (a schema mismatch
carries the guard event's fields). Serving's error tree maps to statuses in one table.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tessera_contracts import ContractError
from tessera_serving.errors import (
    ArtifactError,
    ConfigurationError,
    NotFoundError,
    RegistrationError,
    RegistryError,
    SchemaRevisionError,
    ScoringError,
    ServingError,
)

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:tessera:problem:"
_LOG = logging.getLogger("tessera.http")

# (error class, status, problem code, title); the first match wins, so subclasses go first.
_ERROR_TABLE: tuple[tuple[type[BaseException], int, str, str], ...] = (
    (NotFoundError, 404, "not_found", "Not found"),
    (RegistrationError, 422, "registration_refused", "Registration refused"),
    (SchemaRevisionError, 503, "registry_not_at_head", "Registry not at the code's revision"),
    (RegistryError, 503, "registry_unavailable", "Registry unavailable"),
    (ArtifactError, 503, "artifact_store_error", "Artifact store error"),
    (ScoringError, 422, "invalid_scoring_input", "Invalid scoring input"),
    (ContractError, 422, "contract_violation", "Contract violation"),
    (ConfigurationError, 422, "invalid_setting", "Invalid setting or reference"),
    (ServingError, 409, "refused", "Refused"),
)
_HTTP_CODES = {
    401: ("unauthorized", "Unauthorized"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    413: ("body_too_large", "Request body too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
}


class Problem(Exception):
    """An error the HTTP layer answers with a problem document."""

    def __init__(self, status: int, code: str, title: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.extra = extra
        self.headers: dict[str, str] = {}


def problem_body(problem: Problem, request_id: str | None) -> dict[str, Any]:
    """The problem document's JSON object."""
    return {
        "type": TYPE_PREFIX + problem.code,
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        **problem.extra,
        "request_id": request_id,
    }


def problem_response(request: Request | None, problem: Problem) -> JSONResponse:
    """The problem document for ``problem`` (with the request id when there is a request)."""
    rid = None if request is None else getattr(request.state, "request_id", None)
    body = problem_body(problem, rid)
    return JSONResponse(
        body, status_code=problem.status, media_type=PROBLEM_JSON, headers=problem.headers
    )


def from_error(exc: BaseException) -> Problem:
    """The problem for one of serving's (or the contracts') errors."""
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    for cls, status, code, title in _ERROR_TABLE:
        if isinstance(exc, cls):
            return Problem(status, code, title, detail)
    return Problem(500, "internal_error", "Internal error", "unexpected server error")


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem document."""

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return problem_response(request, exc)

    async def on_serving(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(request, from_error(exc))

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        detail = f"{'.'.join(first['loc']) or 'body'}: {first['msg']}"
        return problem_response(
            request, Problem(422, "invalid_request", "Invalid request", detail, errors=errors)
        )

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        text = str(exc.detail)
        code, title = _HTTP_CODES.get(exc.status_code, (f"http_{exc.status_code}", text))
        problem = Problem(exc.status_code, code, title, text)
        problem.headers = dict(exc.headers or {})
        return problem_response(request, problem)

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(ServingError, on_serving)
    app.add_exception_handler(ContractError, on_serving)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
