"""``tessera-serve http``: run the HTTP service (uvicorn) on the usual environment."""

from __future__ import annotations

import argparse
import importlib.util
from typing import Any

from tessera_serving.errors import ServingError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "http",
        help="serve the HTTP API (scoring, registry, jobs); configured by the environment",
        description="Run the HTTP service. Settings: TESSERA_HOME, TESSERA_DATABASE_URL, "
        "TESSERA_ARTIFACTS_URL and the TESSERA_API_* variables (see the README).",
    )
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help=f"bind address (default {DEFAULT_HOST})"
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--workers", type=int, default=1, metavar="N", help="worker processes (default 1)"
    )
    parser.add_argument(
        "--log-level", default="info", choices=("debug", "info", "warning", "error")
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("fastapi") is None or importlib.util.find_spec("uvicorn") is None:
        raise ServingError("the HTTP service needs the http extra: install tessera-serving[http]")
    if args.workers < 1:
        raise ServingError(f"--workers must be >= 1, got {args.workers}")
    import uvicorn

    from tessera_serving import open_registry
    from tessera_serving.http.logs import configure_logging
    from tessera_serving.http.settings import HttpSettings

    settings = HttpSettings.from_env()  # a malformed setting: a one-line error, before binding
    open_registry(settings.serving, check_revision=False).close()  # no database: the same
    configure_logging(args.log_level)
    uvicorn.run(
        "tessera_serving.http.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=None,
        access_log=False,
        log_level=args.log_level,
        timeout_graceful_shutdown=30,
    )
    return 0
