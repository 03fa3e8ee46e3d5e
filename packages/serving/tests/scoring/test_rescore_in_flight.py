"""One ``rescore`` process keeping several pages in flight (``--in-flight``, PostgreSQL):
each page still one transaction, each row re-scored once, and a loop parked inside a page
holds up nobody (the other loops claim past it with ``SKIP LOCKED``); SQLite refuses it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from cli_runner import Cli
from sqlalchemy import func, select

from tessera_serving.config import ServingConfig
from tessera_serving.errors import ConfigurationError
from tessera_serving.registry import Registry, open_registry, upgrade
from tessera_serving.registry.engine import create_registry_engine
from tessera_serving.registry.scale_tables import RescorePage
from tessera_serving.registry.scoring_tables import ScoreAudit, ScoringJob
from tessera_serving.scoring.rescore import run_rescore
from tessera_serving.testhooks import PAUSE_AT_ENV, PAUSE_FILE_ENV, RELEASE_FILE_ENV

from .conftest import candidates_table, stored_for_rescore

RESCORE = ("rescore", "--model", "rr#2", "--backend", "lightgbm", "--threads", "1", "--json")


def _stored(config: ServingConfig, tmp_path: Path, n_queries: int) -> tuple[int, str]:
    """``n_queries`` queries stored by version 1; version 2 in staging; (rows, v2 sha)."""
    engine = create_registry_engine(config.database_url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    table = candidates_table(n_queries=n_queries)
    with open_registry(config) as registry:
        v2, stored = stored_for_rescore(registry, table, tmp_path)
    assert stored == table.num_rows
    return stored, v2.sha256


def _pg_config(tmp_path: Path, url: str) -> ServingConfig:
    return ServingConfig.from_env(
        state_dir=tmp_path / "home", database_url=url, artifacts_url=str(tmp_path / "artifacts")
    )


def _pages_done(registry: Registry, sweep_id: int | None = None) -> tuple[int, int]:
    with registry.transaction(readonly=True) as s:
        query = select(RescorePage.status, func.count()).group_by(RescorePage.status)
        if sweep_id is not None:
            query = query.where(RescorePage.sweep_id == sweep_id)
        counts = {str(status): int(n) for status, n in s.execute(query)}
    return counts.get("done", 0), sum(counts.values())


@pytest.mark.postgres
def test_pages_in_flight_each_row_once_and_a_parked_page_holds_up_nobody(
    postgres_url: str, tmp_path: Path
) -> None:
    config = _pg_config(tmp_path, postgres_url)
    rows, v2_sha = _stored(config, tmp_path, n_queries=80)
    cli = Cli(config, tmp_path)
    parked, release = tmp_path / "parked", tmp_path / "release"
    proc = cli.popen(
        *RESCORE, "--page-size", "45", "--in-flight", "3",
        **{PAUSE_AT_ENV: "rescore.page.1.before_commit", PAUSE_FILE_ENV: str(parked),
           RELEASE_FILE_ENV: str(release)},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        with open_registry(config) as registry:
            while True:  # page 1's loop is parked inside its transaction; the others go on
                done, total = _pages_done(registry)
                if parked.exists() and total and done == total - 1:
                    break
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, f"{done} of {total} pages done"
                time.sleep(0.05)
        release.touch()
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    summary = json.loads(stdout)
    assert summary["rescored"] == rows and summary["pages"] == total
    with open_registry(config) as registry, registry.transaction(readonly=True) as s:
        audits = s.execute(
            select(func.count(), func.count(ScoreAudit.current_id.distinct())).where(
                ScoreAudit.sweep_id == summary["sweep_id"]
            )
        ).one()
        assert tuple(audits) == (rows, rows)
        job = s.get(ScoringJob, summary["job_id"])
        assert job is not None and job.status == "succeeded"
        assert job.counts["pages"] == total and set(job.model_sha256s) == {v2_sha}


@pytest.mark.postgres
def test_in_flight_loops_in_process_match_one_loop(postgres_url: str, tmp_path: Path) -> None:
    config = _pg_config(tmp_path, postgres_url)
    rows, _ = _stored(config, tmp_path, n_queries=60)
    with open_registry(config) as registry:
        result = run_rescore(
            registry, "rr#2", backend="lightgbm", num_threads=1, page_size=30, in_flight=4
        )
        done, total = _pages_done(registry, result.sweep_id)
    assert (result.rescored, result.unchanged, result.pages) == (rows, 0, total)
    assert done == total and len(result.page_digests) == total


def test_sqlite_refuses_pages_in_flight_before_any_job(
    sqlite_config: ServingConfig, sqlite_cli: Cli, tmp_path: Path
) -> None:
    _stored(sqlite_config, tmp_path, n_queries=10)
    with open_registry(sqlite_config) as registry:
        with pytest.raises(ConfigurationError, match="2 pages in flight need PostgreSQL"):
            run_rescore(registry, "rr#2", backend="lightgbm", num_threads=1, in_flight=2)
        with registry.transaction(readonly=True) as s:
            kinds = s.scalars(select(ScoringJob.kind)).all()
    assert kinds == ["score"]  # no rescore job was opened
    result = sqlite_cli(*RESCORE, "--in-flight", "2")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and "need PostgreSQL" in result.stderr
    zero = sqlite_cli(*RESCORE, "--in-flight", "0")
    assert zero.returncode == 2 and "--in-flight must be an integer >= 1" in zero.stderr
