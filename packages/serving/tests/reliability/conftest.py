"""Helpers for the reliability suite: real CLI subprocesses parked at pause points and killed,
and counts read straight from the registry's tables.

Everything runs the real ``tessera-serve`` on real Parquet files and a real registry; the
registry-dependent tests run on SQLite and PostgreSQL (the ``cli``/``registry`` fixtures).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from scoring.conftest import Booster, candidates_table, make_booster
from sqlalchemy import func, select

from tessera_serving.registry import Registry
from tessera_serving.registry.scoring_tables import (
    CurrentScore,
    ScoreAudit,
    ScoringJob,
    StagedScore,
)
from tessera_serving.testhooks import PAUSE_AT_ENV, PAUSE_FILE_ENV, RELEASE_FILE_ENV

LGB_FLAGS = ("--backend", "lightgbm", "--threads", "1")


@pytest.fixture(scope="session")
def table() -> pa.Table:
    return candidates_table(n_queries=40)


@pytest.fixture(scope="session")
def booster(table: pa.Table) -> Booster:
    return make_booster(table)


@dataclass(frozen=True)
class Counts:
    """What the registry holds: current scores, audit rows, staged rows, jobs by status."""

    current: int
    audit: int
    distinct_audited: int
    staged: int
    jobs: dict[str, int]


def counts(registry: Registry) -> Counts:
    with registry.transaction(readonly=True) as s:
        statuses = s.execute(
            select(ScoringJob.status, func.count()).group_by(ScoringJob.status)
        ).all()
        return Counts(
            current=int(s.scalar(select(func.count()).select_from(CurrentScore)) or 0),
            audit=int(s.scalar(select(func.count()).select_from(ScoreAudit)) or 0),
            distinct_audited=int(
                s.scalar(select(func.count(func.distinct(ScoreAudit.current_id)))) or 0
            ),
            staged=int(s.scalar(select(func.count()).select_from(StagedScore)) or 0),
            jobs={str(k): int(v) for k, v in statuses},
        )


def job_row(registry: Registry, job_id: int) -> ScoringJob:
    with registry.transaction(readonly=True) as s:
        job = s.get(ScoringJob, job_id)
        assert job is not None
        return job


def latest_job_id(registry: Registry) -> int:
    with registry.transaction(readonly=True) as s:
        return int(s.scalar(select(func.max(ScoringJob.id))) or 0)


def start_paused(
    cli: Any, tmp_path: Path, point: str, *args: str | Path, release: Path | None = None
) -> subprocess.Popen[str]:
    """Start ``tessera-serve *args`` and wait until it is parked at ``point``."""
    marker = tmp_path / f"paused-{point}"
    marker.unlink(missing_ok=True)
    env = {PAUSE_AT_ENV: point, PAUSE_FILE_ENV: str(marker)}
    if release is not None:
        env[RELEASE_FILE_ENV] = str(release)
    proc: subprocess.Popen[str] = cli.popen(*args, **env)
    deadline = time.monotonic() + 240
    while not marker.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the process ended before reaching {point}: {out}{err}")
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            pytest.fail(f"the process never reached {point}")
        time.sleep(0.05)
    return proc


def kill_at(cli: Any, tmp_path: Path, point: str, *args: str | Path) -> None:
    """Run ``tessera-serve *args`` until ``point``, then SIGKILL it."""
    proc = start_paused(cli, tmp_path, point, *args)
    try:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The stderr of a failed command, asserted to be exactly one line without a traceback."""
    lines = [line for line in result.stderr.splitlines() if not line.startswith("{")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines[0].startswith("tessera-serve: error:"), lines[0]
    return lines[0]


def json_lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]
