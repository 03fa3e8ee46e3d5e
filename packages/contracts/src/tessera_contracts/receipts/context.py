"""Where a receipt belongs: its run id, pipeline and code commit, from arguments or environment.

Every process of one pipeline run shares ``$TESSERA_RUN_ID`` and ``$TESSERA_PIPELINE``; a run
id defaults to the UTC start time plus random digits, a pipeline to ``default``.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from tessera_contracts._errors import ContractError
from tessera_contracts._values import GIT_SHA_PATTERN, NAME_PATTERN

RUN_ID_ENV = "TESSERA_RUN_ID"
PIPELINE_ENV = "TESSERA_PIPELINE"
RECEIPTS_DIR_ENV = "TESSERA_RECEIPTS_DIR"
DEFAULT_PIPELINE = "default"
_NAME_RE = re.compile(NAME_PATTERN)
_GIT_RE = re.compile(GIT_SHA_PATTERN)


@lru_cache(maxsize=32)
def git_commit(code_dir: str | Path) -> str | None:
    """``git rev-parse HEAD`` in ``code_dir``; None outside a checkout or without git."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=code_dir,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    sha = result.stdout.strip()
    return sha if result.returncode == 0 and _GIT_RE.fullmatch(sha) else None


def _new_run_id(now: datetime | None = None) -> str:
    """A fresh run id: UTC start time plus 8 random hex digits (sortable, unique)."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


def _checked_name(value: str, what: str) -> str:
    if _NAME_RE.fullmatch(value) is None:
        raise ContractError(f"{what} {value!r} is not a valid name: expected {NAME_PATTERN}")
    return value


def resolve_run_id(run_id: str | None = None) -> str:
    """The explicit run id, else ``$TESSERA_RUN_ID``, else a new one."""
    if run_id is not None:
        return _checked_name(run_id, "run id")
    from_env = os.environ.get(RUN_ID_ENV, "").strip()
    return _checked_name(from_env, f"${RUN_ID_ENV}") if from_env else _new_run_id()


def resolve_pipeline(pipeline: str | None = None) -> str:
    """The explicit pipeline name, else ``$TESSERA_PIPELINE``, else ``default``."""
    if pipeline is not None:
        return _checked_name(pipeline, "pipeline")
    from_env = os.environ.get(PIPELINE_ENV, "").strip()
    return _checked_name(from_env, f"${PIPELINE_ENV}") if from_env else DEFAULT_PIPELINE
