"""A storing job is atomic as seen from outside (DESIGN.md section 6), on SQLite and PostgreSQL.

Failed or killed with ``kill -9`` at any of its pause points, ``score --store`` leaves no
current score, no audit row and no job ``running`` (the next command marks it ``abandoned``);
rerunning the same command stores every score with exactly one audit row.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scoring.conftest import Booster, register, write_candidates
from sqlalchemy import update

from tessera_serving.registry import Registry, utcnow
from tessera_serving.registry.scoring_tables import ScoringJob

from .conftest import (
    LGB_FLAGS,
    counts,
    job_row,
    json_lines,
    kill_at,
    latest_job_id,
    one_line_error,
    start_paused,
)


def store_args(path: Path, out: Path, *extra: str) -> tuple[str | Path, ...]:
    return ("score", "--model", "rr", "--input", path, "--output", out, "--store", *LGB_FLAGS,
            "--batch-size", "100", "--json", *extra)  # fmt: skip


def test_a_failed_store_job_leaves_nothing_and_its_receipt_says_so(
    cli: Any, registry: Registry, tmp_path: Path, table: pa.Table, booster: Booster
) -> None:
    register(registry, booster)
    qids = table.column("query_id").to_pylist()
    qids[-1] = None  # the last batch fails, after earlier batches were scored
    bad = table.set_column(0, "query_id", pa.array(qids, pa.string()))
    path = write_candidates(tmp_path / "in.parquet", bad)
    out = tmp_path / "out.parquet"
    result = cli(*store_args(path, out))
    assert result.returncode == 1
    assert "null" in one_line_error(result)
    state = counts(registry)
    assert (state.current, state.audit, state.staged) == (0, 0, 0)
    assert state.jobs == {"failed": 1}
    assert not out.exists() and list(tmp_path.glob(".out.parquet.tmp-*")) == []
    receipts = cli("receipts", "show", str(latest_job_id(registry)), "--json")
    assert receipts.returncode == 0, receipts.stderr
    (receipt,) = json.loads(receipts.stdout)
    assert receipt["stats"]["accepted"] == 0
    assert receipt["stats"]["rejected"] == bad.num_rows


POINTS = [
    "score.batch.2.staged",  # some batches staged, more to come
    "score.output.before_rename",  # every row staged, the output not yet in place
    "score.publish.before_commit",  # inside the publishing transaction
]


@pytest.mark.parametrize("point", POINTS)
def test_kill_9_then_rerun_stores_each_score_once(
    cli: Any, registry: Registry, tmp_path: Path, table: pa.Table, booster: Booster, point: str
) -> None:
    register(registry, booster)
    path = write_candidates(tmp_path / "in.parquet", table)
    out = tmp_path / "out.parquet"
    kill_at(cli, tmp_path, point, *store_args(path, out))
    state = counts(registry)
    assert (state.current, state.audit) == (0, 0)  # nothing current while it ran or after
    killed = latest_job_id(registry)
    if point == "score.output.before_rename":
        assert len(list(tmp_path.glob(".out.parquet.tmp-*"))) == 1
    listed = cli("jobs", "list", "--status", "abandoned", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [j["id"] for j in json_lines(listed.stdout)] == [killed]
    assert counts(registry).staged == 0 and "running" not in counts(registry).jobs
    assert "process" in str(job_row(registry, killed).error)
    rerun = cli(*store_args(path, out))
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    n = table.num_rows
    assert summary["counts"]["stored"] == n
    state = counts(registry)
    assert (state.current, state.audit, state.distinct_audited, state.staged) == (n, n, n, 0)
    assert state.jobs == {"abandoned": 1, "succeeded": 1}
    assert pq.read_table(out).num_rows == n
    assert list(tmp_path.glob(".out.parquet.tmp-*")) == []  # the dead writer's file is gone


def test_a_job_marked_abandoned_elsewhere_cannot_publish(
    cli: Any, registry: Registry, tmp_path: Path, table: pa.Table, booster: Booster
) -> None:
    """A job on another host whose heartbeat went stale is abandoned by the next command; if
    its process was in fact alive, it then refuses to publish: nothing is stored."""
    register(registry, booster)
    path = write_candidates(tmp_path / "in.parquet", table)
    out = tmp_path / "out.parquet"
    release = tmp_path / "release"
    proc = start_paused(cli, tmp_path, "score.batch.1.staged", *store_args(path, out),
                        release=release)  # fmt: skip
    try:
        job_id = latest_job_id(registry)
        long_ago = utcnow().replace(year=2020)
        with registry.transaction() as s:
            s.execute(
                update(ScoringJob)
                .where(ScoringJob.id == job_id)
                .values(host="another-host", heartbeat_at=long_ago)
            )
        listed = cli("jobs", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        (job,) = json_lines(listed.stdout)
        assert job["status"] == "abandoned" and "no heartbeat" in job["error"]
        release.write_text("go")
        _, stderr = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 1, stderr
    assert "abandoned" in stderr and "nothing was stored" in stderr
    state = counts(registry)
    assert (state.current, state.audit, state.staged) == (0, 0, 0)
    assert state.jobs == {"abandoned": 1}
    assert not out.exists()


@pytest.mark.parametrize("phase", ["before_commit", "after_commit"])
def test_rescore_killed_then_rerun_leaves_no_job_running(
    cli: Any, registry: Registry, tmp_path: Path, table: pa.Table, booster: Booster, phase: str
) -> None:
    from scoring.conftest import make_booster

    register(registry, booster)
    path = write_candidates(tmp_path / "in.parquet", table)
    assert cli(*store_args(path, tmp_path / "out.parquet")).returncode == 0
    register(registry, make_booster(table, rounds=6, seed=4), version=2)
    args = ("rescore", "--model", "rr#2", "--page-size", "40", *LGB_FLAGS, "--json")
    kill_at(cli, tmp_path, f"rescore.page.3.{phase}", *args)
    rerun = cli(*args)
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert summary["resumed"] is True
    n = table.num_rows
    state = counts(registry)
    assert state.current == n and state.audit == 2 * n and state.distinct_audited == n
    assert state.jobs == {"succeeded": 2, "abandoned": 1}
