"""Several ``rescore`` processes share one sweep on PostgreSQL: pages are claimed with
``FOR UPDATE SKIP LOCKED``, so each page (and so each stored score) is re-scored exactly once.

The processes are real CLI subprocesses. Each parks inside its first page's transaction (the
test pause hook) until all three are parked: three pages held at once, which a plain
``FOR UPDATE`` claim could never reach (the second worker would wait on the first's page).
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pyarrow as pa
import pytest
from cli_runner import Cli
from sqlalchemy import func, select

from tessera_serving.config import ServingConfig
from tessera_serving.errors import ScoringError
from tessera_serving.registry import open_registry, upgrade
from tessera_serving.registry.engine import create_registry_engine
from tessera_serving.registry.scale_tables import RescorePage
from tessera_serving.registry.scoring_tables import CurrentScore, ScoreAudit
from tessera_serving.scoring.sweep_pages import Pace
from tessera_serving.testhooks import PAUSE_AT_ENV, PAUSE_FILE_ENV, RELEASE_FILE_ENV

from .conftest import candidates_table, stored_for_rescore, write_candidates

ROWS = 100_000
RESCORE = ("rescore", "--model", "rr#2", "--backend", "lightgbm", "--threads", "1", "--json")


def _config(tmp_path: Path, url: str) -> ServingConfig:
    config = ServingConfig.from_env(
        state_dir=tmp_path / "home", database_url=url, artifacts_url=str(tmp_path / "artifacts")
    )
    engine = create_registry_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return config


def _wait_for(paths: list[Path], procs: list[subprocess.Popen[str]]) -> None:
    deadline = time.monotonic() + 240
    while not all(p.exists() for p in paths):
        for proc in procs:
            assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the workers never all held a page at once"
        time.sleep(0.05)


@pytest.mark.postgres
@pytest.mark.slow
def test_three_rescore_processes_share_a_sweep_each_row_once(
    postgres_url: str, tmp_path: Path
) -> None:
    config = _config(tmp_path, postgres_url)
    table = candidates_table(n_queries=ROWS // 9 + 200).slice(0, ROWS)
    with open_registry(config) as registry:
        v2, stored = stored_for_rescore(registry, table, tmp_path)
    assert stored == ROWS

    cli = Cli(config, tmp_path)
    release = tmp_path / "release"
    markers = [tmp_path / f"parked-{i}" for i in range(3)]
    procs = [
        cli.popen(
            *RESCORE,
            **{
                PAUSE_AT_ENV: "rescore.page.1.before_commit",
                PAUSE_FILE_ENV: str(marker),
                RELEASE_FILE_ENV: str(release),
            },
        )
        for marker in markers
    ]
    try:
        _wait_for(markers, procs)
        release.touch()
        outs = [proc.communicate(timeout=300) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    summaries = []
    for proc, (stdout, stderr) in zip(procs, outs, strict=True):
        assert proc.returncode == 0, stderr
        events = [json.loads(line) for line in stderr.splitlines() if line.strip()]
        # no error or warning output, but the one warning that the sweep names a version
        # outside production (rr#2, in staging), which the job must record
        noisy = {e["event"] for e in events if e["level"] != "info"}
        assert noisy <= {"model.explicit_version"}, stderr
        summaries.append(json.loads(stdout))
    assert len({s["sweep_id"] for s in summaries}) == 1
    assert sorted(s["resumed"] for s in summaries).count(True) >= 2
    assert all(s["pages"] >= 1 for s in summaries)  # each held a page at the same moment
    assert sum(s["rescored"] for s in summaries) == ROWS

    with open_registry(config) as registry, registry.transaction(readonly=True) as s:
        sweep_id = summaries[0]["sweep_id"]
        audits = s.execute(
            select(func.count(), func.count(ScoreAudit.current_id.distinct())).where(
                ScoreAudit.sweep_id == sweep_id
            )
        ).one()
        assert tuple(audits) == (ROWS, ROWS)
        shas = s.scalars(select(CurrentScore.model_sha256).distinct()).all()
        assert shas == [v2.sha256]
        pages = s.execute(
            select(RescorePage.status, RescorePage.job_id, func.sum(RescorePage.rescored))
            .where(RescorePage.sweep_id == sweep_id)
            .group_by(RescorePage.status, RescorePage.job_id)
        ).all()
        assert {p.status for p in pages} == {"done"}
        assert {p.job_id for p in pages} == {s_["job_id"] for s_ in summaries}
        assert sum(p[2] for p in pages) == ROWS


@pytest.mark.postgres
def test_a_killed_worker_page_goes_to_another_worker(postgres_url: str, tmp_path: Path) -> None:
    config = _config(tmp_path, postgres_url)
    table = candidates_table(n_queries=60)
    with open_registry(config) as registry:
        stored_for_rescore(registry, table, tmp_path)
    cli = Cli(config, tmp_path)
    marker = tmp_path / "parked"
    args = (*RESCORE, "--page-size", "50")
    doomed = cli.popen(
        *args, **{PAUSE_AT_ENV: "rescore.page.2.before_commit", PAUSE_FILE_ENV: str(marker)}
    )
    try:
        _wait_for([marker], [doomed])
        survivor = cli(*args)  # the doomed worker still holds page 2: skipped, not waited on
        assert survivor.returncode == 0, survivor.stderr
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait(timeout=30)
    finally:
        if doomed.poll() is None:
            doomed.kill()
            doomed.wait()
    first = json.loads(survivor.stdout)
    rerun = json.loads(cli(*args).stdout)  # the killed worker's page is pending again
    assert rerun["resumed"] is True and rerun["pages"] == 1 and rerun["rescored"] > 0
    committed_by_doomed = table.num_rows - first["rescored"] - rerun["rescored"]
    assert committed_by_doomed > 0  # its first page, committed before it parked in the second
    with open_registry(config) as registry, registry.transaction(readonly=True) as s:
        done = s.execute(
            select(func.count(), func.count(ScoreAudit.current_id.distinct())).where(
                ScoreAudit.sweep_id == first["sweep_id"]
            )
        ).one()
        assert tuple(done) == (table.num_rows, table.num_rows)
        statuses = s.scalars(
            select(RescorePage.status).where(RescorePage.sweep_id == first["sweep_id"])
        ).all()
        assert set(statuses) == {"done"}


def test_pace_parses_rates_and_pauses() -> None:
    assert Pace.parse("20000/s").rows_per_s == 20000
    assert Pace.parse("0.5s").pause_s == 0.5
    assert Pace.parse("200ms").pause_s == pytest.approx(0.2)
    for bad in ["fast", "-1/s", "0/s", "10", "1 min"]:
        with pytest.raises(ValueError, match="pace must be ROWS/s"):
            Pace.parse(bad)


def test_rescore_cli_refuses_a_bad_pace(sqlite_cli: Cli) -> None:
    result = sqlite_cli("rescore", "--model", "rr", "--pace", "quickly")
    assert result.returncode == 2
    assert "--pace" in result.stderr and "pace must be ROWS/s" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("plan_batch", [7, 64, 262_144])
def test_pages_are_whole_queries_across_read_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, plan_batch: int
) -> None:
    from tessera_serving.scoring import sweep_pages

    monkeypatch.setattr(sweep_pages, "_PLAN_BATCH", plan_batch)
    table = candidates_table(n_queries=50, seed=2)
    path = write_candidates(tmp_path / "in.parquet", table)
    qid = table.column("query_id").to_pylist()
    starts = {i for i in range(len(qid)) if i == 0 or qid[i] != qid[i - 1]}
    bounds = list(sweep_pages.page_bounds(path, 40))
    assert bounds[0][0] == 0 and bounds[-1][1] == len(qid)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    assert all(first in starts for first, _ in bounds)  # every page starts a query
    assert all(end - first >= 40 for first, end in bounds[:-1])
    assert all(end - first < 40 + 15 for first, end in bounds)  # at most one query over


def test_forward_rows_reads_ranges_across_batches_and_goes_back(tmp_path: Path) -> None:
    from tessera_serving.scoring.sweep_pages import ForwardRows

    table = candidates_table(n_queries=30, seed=5)
    path = write_candidates(tmp_path / "in.parquet", table)
    reader = ForwardRows(path, ["query_id", "candidate_id", "knn_votes"], batch_size=16)
    for first, end in [(0, 5), (5, 40), (100, 150), (10, 20), (60, table.num_rows)]:
        got = reader.rows(first, end)
        want = table.select(["query_id", "candidate_id", "knn_votes"]).slice(first, end - first)
        assert pa.Table.from_batches([got]).equals(want)
    with pytest.raises(ScoringError, match="a stored page needs row"):
        reader.rows(table.num_rows, table.num_rows + 5)
