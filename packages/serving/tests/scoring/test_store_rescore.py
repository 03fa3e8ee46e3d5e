"""``score --store`` and ``rescore``: current scores, the append-only audit, resumable sweeps.

The API tests run on SQLite and PostgreSQL; the kill -9 tests run the real CLI on SQLite and
park it inside (or right after) a chosen page's transaction through the test pause hook.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from sqlalchemy import func, select

from tessera_serving.registry import Registry
from tessera_serving.registry.scoring_tables import CurrentScore, RescoreSweep, ScoreAudit
from tessera_serving.scoring.rescore import run_rescore
from tessera_serving.scoring.score_job import ScoreOptions, run_score_job
from tessera_serving.testhooks import PAUSE_AT_ENV, PAUSE_FILE_ENV

from .conftest import Booster, candidates_table, make_booster, register, write_candidates

LGB = ScoreOptions(backend="lightgbm", num_threads=1, store=True)


def current(registry: Registry) -> dict[tuple[str, str], Any]:
    with registry.transaction(readonly=True) as s:
        rows = s.execute(select(CurrentScore)).scalars().all()
        return {
            (r.query_id, r.candidate_id): (r.score, r.source, r.model_sha256, r.job_id)
            for r in rows
        }


def audit(registry: Registry, sweep_id: int | None = None) -> list[ScoreAudit]:
    with registry.transaction(readonly=True) as s:
        q = select(ScoreAudit).order_by(ScoreAudit.id)
        if sweep_id is not None:
            q = q.where(ScoreAudit.sweep_id == sweep_id)
        return list(s.scalars(q).all())


@pytest.fixture
def stored(registry: Registry, tmp_path: Path, table: pa.Table, booster: Booster) -> Any:
    register(registry, booster)
    path = write_candidates(tmp_path / "in.parquet", table)
    job = run_score_job(registry, "rr", path, tmp_path / "out.parquet", LGB)
    return job, path


def test_store_keeps_current_scores_and_audits_every_write(
    registry: Registry, stored: Any, tmp_path: Path, table: pa.Table, booster: Booster
) -> None:
    job, path = stored
    n = table.num_rows
    assert job.counts == {"reranker": n, "fallback": 0, "stored": n}
    first = current(registry)
    assert len(first) == n
    assert {v[2] for v in first.values()} == {booster.sha256}
    assert [a.previous_score for a in audit(registry)] == [None] * n
    with registry.transaction(readonly=True) as s:
        from tessera_serving.registry.scoring_tables import ScoringJob

        row = s.get(ScoringJob, job.job_id)
        assert row is not None and row.input_uri and row.input_sha256
        assert registry.store.exists(row.input_sha256)
    v2 = make_booster(table, rounds=6, seed=4)
    register(registry, v2, version=2)
    again = run_score_job(registry, "rr#2", path, tmp_path / "out2.parquet", LGB)
    second = current(registry)
    assert {v[2] for v in second.values()} == {v2.sha256}
    assert {v[3] for v in second.values()} == {again.job_id}
    writes = audit(registry)
    assert len(writes) == 2 * n
    later = writes[n:]
    assert {a.previous_model_sha256 for a in later} == {booster.sha256}
    prev_scores = {a.current_id: a.previous_score for a in later}
    first_scores = {a.current_id: a.score for a in writes[:n]}
    assert prev_scores == first_scores


def test_rescore_rewrites_each_row_once_with_history(
    registry: Registry, stored: Any, table: pa.Table, booster: Booster
) -> None:
    v2 = make_booster(table, rounds=6, seed=4)
    register(registry, v2, version=2, stage="staging")
    result = run_rescore(registry, "rr#2", page_size=50, backend="lightgbm", num_threads=1)
    n = table.num_rows
    assert (result.rescored, result.unchanged, result.resumed) == (n, 0, False)
    assert result.pages >= n // 60
    rows = current(registry)
    assert {v[2] for v in rows.values()} == {v2.sha256}
    expected = dict(
        zip(
            zip(
                table.column("query_id").to_pylist(),
                table.column("candidate_id").to_pylist(),
                strict=True,
            ),
            v2.predict(table).tolist(),
            strict=True,
        )
    )
    assert {k: v[0] for k, v in rows.items()} == pytest.approx(expected, nan_ok=True)
    swept = audit(registry, result.sweep_id)
    assert len(swept) == n and len({a.current_id for a in swept}) == n
    assert {a.previous_model_sha256 for a in swept} == {booster.sha256}
    assert [e.name for e in result.events] == ["reranker.applied"]


def test_rescore_with_a_mismatched_model_changes_nothing(
    registry: Registry, stored: Any, table: pa.Table
) -> None:
    before, writes = current(registry), len(audit(registry))
    other = make_booster(table, rounds=4, seed=8)
    register(registry, other, version=2, schema_sha_v2="abcdefabcdef")
    result = run_rescore(registry, "rr#2", backend="lightgbm")
    assert result.rescored == 0 and result.unchanged == table.num_rows
    assert current(registry) == before and len(audit(registry)) == writes
    (event,) = result.events
    assert event.name == "reranker.schema_mismatch"
    assert event.fields["expected_sha"] == "abcdefabcdef"


def test_rescore_jobs_filter(
    registry: Registry, stored: Any, tmp_path: Path, booster: Booster
) -> None:
    other_table = candidates_table(n_queries=5, seed=11)
    other_table = other_table.set_column(
        0, "query_id", pa.array([f"x{q}" for q in other_table.column("query_id").to_pylist()])
    )
    path2 = write_candidates(tmp_path / "in2.parquet", other_table)
    job2 = run_score_job(registry, "rr", path2, tmp_path / "o2.parquet", LGB)
    register(registry, make_booster(other_table, rounds=3, seed=2), version=2)
    result = run_rescore(registry, "rr#2", jobs=[job2.job_id], backend="lightgbm")
    assert result.rescored == other_table.num_rows
    touched = {a.current_id for a in audit(registry, result.sweep_id)}
    with registry.transaction(readonly=True) as s:
        inputs = set(
            s.scalars(select(CurrentScore.input_job_id).where(CurrentScore.id.in_(touched))).all()
        )
    assert inputs == {job2.job_id}


@pytest.mark.parametrize("phase", ["before_commit", "after_commit"])
def test_rescore_killed_mid_sweep_resumes_exactly_once(
    sqlite_cli: Any,
    sqlite_registry: Registry,
    tmp_path: Path,
    table: pa.Table,
    booster: Booster,
    phase: str,
) -> None:
    register(sqlite_registry, booster)
    path = write_candidates(tmp_path / "in.parquet", table)
    run_score_job(sqlite_registry, "rr", path, tmp_path / "out.parquet", LGB)
    v2 = make_booster(table, rounds=6, seed=4)
    register(sqlite_registry, v2, version=2)
    marker = tmp_path / "paused"
    args = (
        "rescore",
        "--model",
        "rr#2",
        "--page-size",
        "40",
        "--backend",
        "lightgbm",
        "--threads",
        "1",
        "--json",
    )
    proc: subprocess.Popen[str] = sqlite_cli.popen(
        *args, **{PAUSE_AT_ENV: f"rescore.page.3.{phase}", PAUSE_FILE_ENV: str(marker)}
    )
    try:
        deadline = time.monotonic() + 240
        while not marker.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the rescore never reached page 3"
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with sqlite_registry.transaction(readonly=True) as s:
        sweep_id = s.scalar(select(func.max(RescoreSweep.id)))
    done = audit(sqlite_registry, sweep_id)
    assert 0 < len(done) < table.num_rows
    _whole_queries(done, sqlite_registry)
    rerun = sqlite_cli(*args)
    assert rerun.returncode == 0, rerun.stderr
    import json

    summary = json.loads(rerun.stdout)
    assert summary["resumed"] is True and summary["sweep_id"] == sweep_id
    assert summary["rescored"] == table.num_rows - len(done)
    swept = audit(sqlite_registry, sweep_id)
    assert len(swept) == table.num_rows == len({a.current_id for a in swept})
    assert {v[2] for v in current(sqlite_registry).values()} == {v2.sha256}


def _whole_queries(done: list[ScoreAudit], registry: Registry) -> None:
    """Every query is either fully re-scored by the committed pages or not at all."""
    ids = {a.current_id for a in done}
    with registry.transaction(readonly=True) as s:
        rows = s.execute(select(CurrentScore.id, CurrentScore.query_id)).all()
    per_query: dict[str, set[bool]] = defaultdict(set)
    for rid, q in rows:
        per_query[q].add(rid in ids)
    assert all(len(v) == 1 for v in per_query.values())
    assert np.any([True in v for v in per_query.values()])
