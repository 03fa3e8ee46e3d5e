"""Pause points for crash tests: inert unless ``TESSERA_TEST_PAUSE_AT`` names the point.

A test sets ``TESSERA_TEST_PAUSE_AT=<point>`` and ``TESSERA_TEST_PAUSE_FILE=<path>`` on a
subprocess, waits for the file to appear (the process is now parked at the point), then
kills it with SIGKILL to prove that an interruption there leaves nothing half-done. With
``TESSERA_TEST_RELEASE_FILE=<path>`` the process resumes once that file exists (to line
up two processes at the same point for a race).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

PAUSE_AT_ENV = "TESSERA_TEST_PAUSE_AT"
PAUSE_FILE_ENV = "TESSERA_TEST_PAUSE_FILE"
RELEASE_FILE_ENV = "TESSERA_TEST_RELEASE_FILE"
MAX_PAUSE_S = 300.0


def pause_point(name: str) -> None:
    """Park this process at ``name`` if the environment asks for it; otherwise do nothing."""
    if os.environ.get(PAUSE_AT_ENV) != name:
        return
    marker = os.environ.get(PAUSE_FILE_ENV)
    if marker:
        Path(marker).write_text(f"{os.getpid()}\n", encoding="utf-8")
    release = os.environ.get(RELEASE_FILE_ENV)
    deadline = time.monotonic() + MAX_PAUSE_S
    while time.monotonic() < deadline:
        if release and Path(release).exists():
            return
        time.sleep(0.02)
