"""Logging for the server process: JSON lines on stderr (access log, events, errors)."""

from __future__ import annotations

import logging
import sys


def configure_logging(level: str = "info") -> None:
    """Send every ``tessera.*`` and uvicorn record to stderr as its bare message."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its INFO lines say nothing here
