"""Optuna search: tuned runs, several processes on one journal, and resuming a killed study."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from tessera_contracts import load_run_record
from tessera_lab.training import train_run

SpecFactory = Callable[..., Path]
CliRunner = Callable[..., subprocess.CompletedProcess[str]]
SEARCH: dict[str, Any] = {
    "space": {
        "num_leaves": {"type": "int", "low": 4, "high": 16, "log": True},
        "learning_rate": {"type": "float", "low": 0.05, "high": 0.3, "log": True},
        "min_data_in_leaf": {"type": "categorical", "choices": [5, 20]},
    },
    "n_trials": 4,
    "sampler": {"n_startup_trials": 2},
    "pruner": {"n_startup_trials": 1, "n_warmup_steps": 3},
}
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
CLI = Path(sys.executable).parent / "tessera-lab"


def finished_trials(journal: Path) -> list[optuna.trial.FrozenTrial]:
    storage = JournalStorage(JournalFileBackend(str(journal)))
    [summary] = optuna.get_all_study_summaries(storage)
    study = optuna.load_study(study_name=summary.study_name, storage=storage)
    return study.get_trials(states=FINISHED)


def test_tuned_run_records_the_study(
    graded_dataset: Path, make_spec: SpecFactory, tmp_path: Path
) -> None:
    spec = make_spec(graded_dataset, search=SEARCH)
    runs = tmp_path / "runs"
    [run] = train_run(spec, name="tuned", runs_dir=runs, quiet=True)
    record = load_run_record(run / "run.json")
    tuning = record.tuning
    assert tuning is not None
    assert tuning.n_trials == 4 and tuning.n_complete + tuning.n_pruned == 4
    assert tuning.metric == "ndcg@10" and tuning.direction == "maximize"
    assert set(tuning.best_params) == set(SEARCH["space"])
    assert tuning.storage.startswith("journal:") and f"{runs}/.optuna/" in tuning.storage
    assert not list(run.glob("**/*.journal"))  # the study lives outside the run directory
    study = json.loads((run / "report" / "study.json").read_text("utf-8"))
    assert [t["number"] for t in study["trials"]] == [0, 1, 2, 3]
    resolved = yaml.safe_load((run / "spec.yaml").read_text("utf-8"))
    assert resolved["search"] is None
    assert {k: resolved["params"][k] for k in tuning.best_params} == tuning.best_params
    # the resolved spec retrains the best trial's model exactly, without searching again
    [again] = train_run(run / "spec.yaml", name="again", runs_dir=runs, quiet=True)
    assert (again / "model.txt").read_bytes() == (run / "model.txt").read_bytes()
    # the same spec joins the same study: no new trials, the same best trial
    [second] = train_run(spec, name="second", runs_dir=runs, quiet=True)
    assert load_run_record(second / "run.json").tuning == tuning


def test_two_processes_share_one_journal(
    graded_dataset: Path, make_spec: SpecFactory, run_cli: CliRunner, tmp_path: Path
) -> None:
    spec = make_spec(graded_dataset, search=SEARCH)
    journal = tmp_path / "shared.journal"
    args = ["tune", spec, "--storage", f"journal:{journal}", "--n-trials", "6", "--quiet"]
    env = dict(os.environ, OMP_WAIT_POLICY="passive")
    command = [str(CLI), *map(str, args), "--trials-only"]
    workers = [
        subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    for worker in workers:
        out, err = worker.communicate(timeout=600)
        assert worker.returncode == 0, err
        assert "--trials-only" in out
    trials = finished_trials(journal)
    assert len(trials) == 6  # the budget is exact: no process runs "one more"
    assert len({t.number for t in trials}) == len(trials)
    result = run_cli(*args, "--name", "joined", "--runs-dir", tmp_path / "runs")
    assert result.returncode == 0, result.stderr
    tuning = load_run_record(tmp_path / "runs" / "joined" / "run.json").tuning
    assert tuning is not None and tuning.n_trials == len(trials)  # nothing re-run


def test_killed_study_resumes(
    graded_dataset: Path, make_spec: SpecFactory, run_cli: CliRunner, tmp_path: Path
) -> None:
    spec = make_spec(graded_dataset, search={**SEARCH, "n_trials": 200})
    journal = tmp_path / "resume.journal"
    storage = f"journal:{journal}"
    env = dict(os.environ, OMP_WAIT_POLICY="passive")
    worker = subprocess.Popen(
        [str(CLI), "tune", str(spec), "--storage", storage,
         "--trials-only", "--quiet"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        while worker.poll() is None:
            if journal.exists() and len(finished_trials(journal)) >= 2:
                break
            time.sleep(0.2)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    killed_at = len(finished_trials(journal))
    assert 2 <= killed_at < 10
    result = run_cli(
        "tune", spec, "--storage", storage, "--n-trials", "10", "--name", "resumed",
        "--runs-dir", tmp_path / "runs", "--quiet",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    trials = finished_trials(journal)
    assert len(trials) == 10
    tuning = load_run_record(tmp_path / "runs" / "resumed" / "run.json").tuning
    assert tuning is not None and tuning.n_trials == 10


def test_tune_needs_a_search(
    graded_dataset: Path, make_spec: SpecFactory, run_cli: CliRunner, tmp_path: Path
) -> None:
    result = run_cli("tune", make_spec(graded_dataset), "--runs-dir", tmp_path / "runs")
    assert result.returncode == 1
    assert "search: the spec has no search block" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_unreachable_database_storage_is_a_one_line_error(
    graded_dataset: Path, make_spec: SpecFactory, run_cli: CliRunner, tmp_path: Path
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql+psycopg://lab:secret@127.0.0.1:{port}/none?connect_timeout=2"
    spec = make_spec(graded_dataset, search=SEARCH)
    result = run_cli("tune", spec, "--storage", url, "--runs-dir", tmp_path / "runs", "--quiet")
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(
        "tessera-lab: error: search.storage: cannot open the Optuna storage "
        f"postgresql+psycopg://lab:***@127.0.0.1:{port}/none"
    )
    assert "secret" not in result.stderr and not (tmp_path / "runs").exists()
