"""The ASGI application: ``create_app()`` builds it from the environment.

Lifespan: open the registry and load the production models at start (SIGHUP reloads them),
flush request records and close the registry at shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from tessera_serving import __version__

from . import _service as api
from . import jobs, models, ops, problems, score
from .metrics import ServiceMetrics
from .middleware import ServiceMiddleware
from .settings import HttpSettings
from .state import ServiceState

_LOG = logging.getLogger("tessera.http")

DESCRIPTION = (
    "Schema-guarded scoring of registered LightGBM re-rankers, the registry and scoring jobs. "
    "Errors are RFC 9457 problem documents; every POST needs `Authorization: Bearer TOKEN`."
)


def create_app(settings: HttpSettings | None = None) -> FastAPI:
    """The service for ``settings`` (default: read from the environment at start)."""
    api.configure()
    resolved = settings if settings is not None else HttpSettings.from_env()
    metrics = ServiceMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = await asyncio.to_thread(ServiceState.open, resolved, metrics)
        app.state.service = state
        _install_sighup(state)
        try:
            yield
        finally:
            await asyncio.to_thread(state.close)

    app = FastAPI(
        title="Tessera serving",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    problems.install(app)
    _document_bodies(app)
    for module in (ops, models, score, jobs):
        app.include_router(module.router)
    app.add_middleware(ServiceMiddleware, max_body_bytes=resolved.max_body_bytes, metrics=metrics)
    return app


def _document_bodies(app: FastAPI) -> None:
    """Generate the OpenAPI document once, with the scoring routes' body schemas."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = score.add_body_schemas(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _install_sighup(state: ServiceState) -> None:
    """Reload the served models on SIGHUP, on a thread so requests keep flowing."""

    def on_hup() -> None:
        _LOG.info("SIGHUP: reloading the served models")
        threading.Thread(target=state.models.reload, name="tessera-reload", daemon=True).start()

    try:
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, on_hup)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread / platform
        _LOG.warning("SIGHUP reload not available in this process")
