"""Who produced a file: the lab's name, version and the git commit of its checkout.

Shared by every writer of contract files (dataset manifests, run records) so that
``producer`` means the same thing everywhere.
"""

from __future__ import annotations

from pathlib import Path

from tessera_contracts import Producer
from tessera_contracts.receipts import git_commit
from tessera_lab import __version__

PRODUCER_NAME = "tessera-lab"


def code_git_sha() -> str | None:
    """``git rev-parse HEAD`` of the checkout this code runs from, or None.

    None when the code is installed from a wheel (no checkout), git is missing,
    or the command fails; provenance is best-effort and never blocks writing.
    """
    return git_commit(str(Path(__file__).resolve().parent))


def lab_producer() -> Producer:
    """The ``producer`` block for files the lab writes."""
    return Producer(name=PRODUCER_NAME, version=__version__, git_sha=code_git_sha())
