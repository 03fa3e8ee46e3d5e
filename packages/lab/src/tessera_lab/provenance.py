"""Who produced a file: the lab's name, version and the git commit of its checkout.

Shared by every writer of contract files (dataset manifests, run records) so that
``producer`` means the same thing everywhere.
"""

from __future__ import annotations

import re
import subprocess
from functools import lru_cache
from pathlib import Path

from tessera_contracts import Producer
from tessera_lab import __version__

PRODUCER_NAME = "tessera-lab"
_SHA_RE = re.compile(r"^[0-9a-f]{7,40}$")


@lru_cache(maxsize=1)
def code_git_sha() -> str | None:
    """``git rev-parse HEAD`` of the checkout this code runs from, or None.

    None when the code is installed from a wheel (no checkout), git is missing,
    or the command fails; provenance is best-effort and never blocks writing.
    """
    here = Path(__file__).resolve().parent
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    sha = result.stdout.strip()
    if result.returncode != 0 or _SHA_RE.fullmatch(sha) is None:
        return None
    return sha


def lab_producer() -> Producer:
    """The ``producer`` block for files the lab writes."""
    return Producer(name=PRODUCER_NAME, version=__version__, git_sha=code_git_sha())
