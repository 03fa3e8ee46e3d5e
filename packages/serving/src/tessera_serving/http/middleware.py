"""One ASGI middleware for what every request gets: a request id, the body-size limit, a
problem document instead of a traceback, the JSON access-log line and the request metrics.

Written against raw ASGI (not ``BaseHTTPMiddleware``) so a response streams through
untouched and the per-request cost stays a few microseconds.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException

from .metrics import ServiceMetrics
from .problems import PROBLEM_JSON, Problem, problem_body

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

REQUEST_ID_HEADER = "x-request-id"
_VALID_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
ACCESS_LOGGER = "tessera.http.access"
_LOG = logging.getLogger("tessera.http")


class BodyTooLarge(HTTPException):
    """The request body passed the configured limit while it was being read.

    An ``HTTPException`` so FastAPI's body reader lets it through to the problem handler.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            f"request body is over the server's limit of {limit} bytes; "
            "send fewer rows per request or submit a job",
        )


class ServiceMiddleware:
    """Request id, body limit, error shield, access log and metrics around ``app``."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, metrics: ServiceMetrics) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics
        self.access = logging.getLogger(ACCESS_LOGGER)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = rid
        state: dict[str, Any] = {"status": 500, "started": False, "bytes_in": 0}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                state["started"] = True
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", rid.encode("ascii")))
                message["headers"] = headers
            await send(message)

        async def receive_wrapper() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                state["bytes_in"] += len(message.get("body", b""))
                if state["bytes_in"] > self.max_body_bytes:
                    raise BodyTooLarge(self.max_body_bytes)
            return message

        try:
            if _declared_length(scope) > self.max_body_bytes:
                raise BodyTooLarge(self.max_body_bytes)
            await self.app(scope, receive_wrapper, send_wrapper)
        except BodyTooLarge as exc:
            too_large = Problem(413, "body_too_large", "Request body too large", str(exc.detail))
            await self._refuse(send_wrapper, state, rid, too_large)
        except Exception as exc:
            _LOG.error("unhandled error in request %s", rid, exc_info=exc)
            await self._refuse(send_wrapper, state, rid, _internal(rid))
        finally:
            self._record(scope, state, rid, time.perf_counter() - started)

    async def _refuse(self, send: Send, state: dict[str, Any], rid: str, problem: Problem) -> None:
        if state["started"]:  # too late for a problem document: the client sees a cut stream
            return
        body = json.dumps(problem_body(problem, rid)).encode("utf-8")
        headers = [
            (b"content-type", PROBLEM_JSON.encode("ascii")),
            (b"content-length", str(len(body)).encode("ascii")),
        ]
        if problem.status == 413:
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": problem.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _record(self, scope: Scope, state: dict[str, Any], rid: str, seconds: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        method, status = scope.get("method", ""), int(state["status"])
        self.metrics.observe_request(template, method, status, seconds)
        line = {
            "event": "http.request",
            "request_id": rid,
            "method": method,
            "path": scope.get("path", ""),
            "route": template,
            "status": status,
            "duration_ms": round(seconds * 1000, 3),
            "bytes_in": state["bytes_in"],
            "client": (scope.get("client") or ("", 0))[0],
        }
        self.access.info(json.dumps(line, sort_keys=True))


def _request_id(scope: Scope) -> str:
    for key, value in scope.get("headers", ()):
        if key == b"x-request-id":
            text = str(value.decode("latin-1"))
            if _VALID_ID.match(text):
                return text
    return uuid.uuid4().hex


def _declared_length(scope: Scope) -> int:
    for key, value in scope.get("headers", ()):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


def _internal(rid: str) -> Problem:
    return Problem(
        500,
        "internal_error",
        "Internal error",
        f"unexpected server error; the server log has it under request id {rid}",
    )
