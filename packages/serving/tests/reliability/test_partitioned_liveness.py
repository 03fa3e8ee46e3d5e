"""A partitioned job's coordinator heartbeats while it waits for its workers; killed with
``kill -9`` (the coordinator alone), its pool workers end too (one was parked before its
commit), the job does not stay ``running``: the rerun marks it ``abandoned``, completes only
the missing partition (removing the temporary a dead writer left), stores each score once
and leaves one receipt listing every partition.
On SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scoring.conftest import Booster, register, write_candidates
from sqlalchemy import func, select

from tessera_serving.registry import Registry
from tessera_serving.registry.receipt_store import receipts_for_job
from tessera_serving.registry.scale_tables import ScorePartition
from tessera_serving.registry.scoring_tables import ScoringJob
from tessera_serving.scoring.liveness import this_host

from .conftest import LGB_FLAGS, counts, start_paused

PARTS = 4
PARKED = "partition.part-3.parquet.before_commit"


def _partitions(tmp_path: Path, table: pa.Table) -> Path:
    """``table`` cut at query boundaries into PARTS files."""
    qid = table.column("query_id").to_pylist()
    starts = [i for i in range(len(qid)) if i == 0 or qid[i] != qid[i - 1]]
    cuts = [starts[len(starts) * k // PARTS] for k in range(PARTS)] + [len(qid)]
    parts = tmp_path / "parts"
    parts.mkdir()
    for k in range(PARTS):
        write_candidates(parts / f"part-{k}.parquet", table.slice(cuts[k], cuts[k + 1] - cuts[k]))
    return parts


def _parent(registry: Registry, parts: Path) -> list[ScoringJob]:
    query = select(ScoringJob).where(ScoringJob.input_path == str(parts)).order_by(ScoringJob.id)
    with registry.transaction(readonly=True) as s:
        return list(s.scalars(query))


def _committed(registry: Registry) -> int:
    with registry.transaction(readonly=True) as s:
        return int(s.scalar(select(func.count(ScorePartition.id))) or 0)


def _wait_until(what: str, done: Any, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, f"{what} did not happen in {seconds} s"
        time.sleep(0.1)


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def _gone(pid: int) -> bool:
    """The process has exited (a zombie left to an init that does not reap counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0]
    except (FileNotFoundError, IndexError):
        return True
    return state in "ZX"


@pytest.mark.slow
def test_killed_coordinator_is_abandoned_and_the_rerun_duplicates_nothing(
    cli: Any, registry: Registry, tmp_path: Path, table: pa.Table, booster: Booster
) -> None:
    register(registry, booster)
    parts, out = _partitions(tmp_path, table), tmp_path / "out"
    out.mkdir()
    args = ("score", "--model", "rr", "--input", parts, "--output", out, "--store", *LGB_FLAGS,
            "--workers", "2", "--json")  # fmt: skip
    proc = start_paused(cli, tmp_path, PARKED, *args)
    orphan = int((tmp_path / f"paused-{PARKED}").read_text())
    try:
        (job,) = _parent(registry, parts)
        assert job.status == "running" and job.pid == proc.pid
        first_beat = job.heartbeat_at
        _wait_until(  # the coordinator only waits on its workers, yet its heartbeat moves
            "a heartbeat", lambda: _parent(registry, parts)[0].heartbeat_at != first_beat
        )
        _wait_until("the other partitions' commits", lambda: _committed(registry) == PARTS - 1)
        os.kill(proc.pid, signal.SIGKILL)  # the coordinator alone
        proc.wait(timeout=30)
        _wait_until("the parked worker's exit", lambda: _gone(orphan), seconds=30)
        assert _committed(registry) == PARTS - 1
        stale = out / f".part-3.parquet.tmp-{this_host()}-{_dead_pid()}"
        stale.write_bytes(b"a temporary its dead writer left half-copied")
        rerun = cli(*args)
        assert rerun.returncode == 0, rerun.stderr
        summary = json.loads(rerun.stdout)
        assert (summary["counts"]["committed"], summary["counts"]["skipped_committed_before"]) == (
            1,
            PARTS - 1,
        )
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if not _gone(orphan):
            os.kill(orphan, signal.SIGKILL)
    killed, rerun_job = _parent(registry, parts)
    assert killed.status == "abandoned" and "is gone" in (killed.error or "")
    assert rerun_job.status == "succeeded" and rerun_job.id == summary["job_id"]
    state = counts(registry)
    assert "running" not in state.jobs and _committed(registry) == PARTS
    assert (state.current, state.audit, state.distinct_audited) == (table.num_rows,) * 3
    outputs = sorted(p.name for p in out.iterdir())
    assert outputs == [f"part-{k}.parquet" for k in range(PARTS)]  # the dead writer's is gone
    assert sum(pq.read_metadata(out / name).num_rows for name in outputs) == table.num_rows
    (receipt,) = receipts_for_job(registry, rerun_job.id)
    assert receipt.validation.passed and receipt.stats.records_in == table.num_rows
    listed = {f.path: f.records for f in receipt.inputs.files}
    assert listed["partitions"] == table.num_rows
