"""Optuna studies on the local PostgreSQL server, shared by several ``tune`` processes.

Each test gets its own schema (dropped afterwards). Without the server the tests skip,
except under ``CI=true``, where a missing server is a failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from tessera_contracts import load_run_record

pytestmark = pytest.mark.postgres

SpecFactory = Callable[..., Path]
PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=3"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CLI = Path(sys.executable).parent / "tessera-lab"
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
SEARCH: dict[str, Any] = {
    "space": {
        "num_leaves": {"type": "int", "low": 4, "high": 16, "log": True},
        "learning_rate": {"type": "float", "low": 0.05, "high": 0.3, "log": True},
    },
    "n_trials": 6,
    "sampler": {"n_startup_trials": 2},
    "pruner": {"type": "none"},
}


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL whose connections see only a fresh schema (skip, or fail under CI=true)."""
    try:
        import psycopg

        with psycopg.connect(PG_DSN, autocommit=True) as connection:
            connection.execute("SELECT 1")
    except Exception as exc:
        reason = f"PostgreSQL at 127.0.0.1:5432 unreachable: {exc}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    schema = f"tessera_lab_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(PG_DSN, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}&application_name={schema}"
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as connection:
            connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE pid <> pg_backend_pid() AND application_name = %s",
                (schema,),
            )
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


def study_trials(url: str, name: str) -> list[optuna.trial.FrozenTrial]:
    storage = optuna.storages.RDBStorage(url)
    try:
        return optuna.load_study(study_name=name, storage=storage).get_trials()
    finally:
        storage.remove_session()
        storage.engine.dispose()


def tune(spec: Path, url: str, *args: str | Path) -> subprocess.Popen[str]:
    command = [str(CLI), "tune", str(spec), "--storage", url, "--study", "shared", "--quiet"]
    env = dict(os.environ, OMP_WAIT_POLICY="passive")
    return subprocess.Popen(
        [*command, *map(str, args)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_two_tune_processes_share_one_study_and_its_budget(
    graded_dataset: Path, make_spec: SpecFactory, postgres_url: str, tmp_path: Path
) -> None:
    spec = make_spec(graded_dataset, search=SEARCH)
    runs = tmp_path / "runs"
    workers = [tune(spec, postgres_url, "--name", f"w{i}", "--runs-dir", runs) for i in (1, 2)]
    for worker in workers:
        _, err = worker.communicate(timeout=600)
        assert worker.returncode == 0, err
        assert err == "", err
    trials = study_trials(postgres_url, "shared")
    finished = [t for t in trials if t.state in FINISHED]
    assert len(finished) == 6  # exactly the budget, not one extra per process
    owners = {int(t.user_attrs["tessera_worker"].split("/")[1]) for t in finished}
    assert owners <= {w.pid for w in workers}  # (a loaded machine may start one late)
    assert all(t.user_attrs.get("tessera_surplus") for t in trials if t.state not in FINISHED)
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    records = [load_run_record(runs / f"w{i}" / "run.json") for i in (1, 2)]
    summaries = [r.tuning for r in records]
    assert summaries[0] is not None and summaries[0] == summaries[1]  # both saw the whole study
    assert summaries[0].n_trials == 6 and summaries[0].storage.startswith(PG_URL)
    best = max((t for t in finished if t.state == TrialState.COMPLETE), key=lambda t: t.value or 0)
    assert summaries[0].best_trial == best.number
    m1, m2 = ((runs / f"w{i}" / "model.txt").read_bytes() for i in (1, 2))
    assert m1 == m2  # the same best parameters retrain the same model


def test_a_finished_study_on_postgres_runs_no_more_trials(
    graded_dataset: Path, make_spec: SpecFactory, postgres_url: str, tmp_path: Path
) -> None:
    spec = make_spec(graded_dataset, search={**SEARCH, "n_trials": 3})
    first = tune(spec, postgres_url, "--trials-only")
    assert first.wait(timeout=600) == 0
    again = tune(spec, postgres_url, "--name", "joined", "--runs-dir", tmp_path / "runs")
    _, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    assert len(study_trials(postgres_url, "shared")) == 3
    tuning = load_run_record(tmp_path / "runs" / "joined" / "run.json").tuning
    assert tuning is not None and tuning.n_trials == 3
