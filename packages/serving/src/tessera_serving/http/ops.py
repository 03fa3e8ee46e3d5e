"""Operations routes: liveness, readiness, metrics, and reloading the served models."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from . import _service as api
from .auth import read_access, write_access
from .state import ServiceState

router = APIRouter(tags=["operations"])


def service(request: Request) -> ServiceState:
    """The process's :class:`ServiceState`."""
    state: ServiceState = request.app.state.service
    return state


@router.get("/healthz", summary="Liveness: 200 while the process serves")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _readiness(state: ServiceState) -> tuple[bool, dict[str, Any]]:
    reasons = api.registry_problems(state.registry)
    served = state.models.describe()
    if not reasons:
        try:
            wanted = state.models.names()
        except Exception as exc:
            wanted = []
            reasons.append(f"registry: {str(exc).splitlines()[0]}")
        loaded = {m["model"].split("#")[0] for m in served["models"]}
        reasons += [f"model {n!r} not loaded" for n in wanted if n not in loaded]
        reasons += [f"model {n!r}: {why}" for n, why in served["errors"].items()]
    return not reasons, {"ready": not reasons, "reasons": reasons, **served}


@router.get(
    "/readyz",
    summary="Readiness: 200 only with the registry at head, the store answering and "
    "every production model served loaded; else 503 with the reasons",
)
async def readyz(request: Request) -> JSONResponse:
    ready, body = await run_in_threadpool(_readiness, service(request))
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics", summary="Prometheus metrics", dependencies=[Depends(read_access)])
async def metrics(request: Request) -> Response:
    state = service(request)
    return Response(state.metrics.render(), media_type=state.metrics.content_type)


@router.post(
    "/admin/reload",
    summary="Resolve NAME@production again and swap in the loaded models (as SIGHUP does)",
    dependencies=[Depends(write_access)],
)
async def reload(request: Request) -> dict[str, Any]:
    result: dict[str, Any] = await run_in_threadpool(service(request).models.reload)
    return result
