"""``tune``: a time budget beside n_trials, the run name checked before any work, and the
best parameters printed at the end (real subprocesses, a real journal study)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from tessera_contracts import load_run_record

SpecFactory = Callable[..., Path]
CliRunner = Callable[..., subprocess.CompletedProcess[str]]
SEARCH: dict[str, Any] = {
    "space": {"num_leaves": {"type": "int", "low": 4, "high": 16}},
    "n_trials": 100_000,
    "sampler": {"n_startup_trials": 2},
    "pruner": {"type": "none"},
}


def trials_in(journal: Path) -> int:
    storage = JournalStorage(JournalFileBackend(str(journal)))
    [summary] = optuna.get_all_study_summaries(storage)
    return summary.n_trials


def test_the_time_budget_ends_the_search_and_the_best_parameters_are_printed(
    graded_dataset: Path, make_spec: SpecFactory, run_cli: CliRunner, tmp_path: Path
) -> None:
    spec = make_spec(graded_dataset, search={**SEARCH, "timeout_s": 600})
    journal = tmp_path / "budget.journal"
    result = run_cli(
        "tune", spec, "--timeout", "2", "--storage", f"journal:{journal}", "--name", "b",
        "--runs-dir", tmp_path / "runs",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    finished = trials_in(journal)
    assert 1 <= finished < 1000  # the 2 s budget, not n_trials (nor the spec's 600 s), ended it
    tuning = load_run_record(tmp_path / "runs" / "b" / "run.json").tuning
    assert tuning is not None and tuning.n_trials == finished
    best = [line for line in result.stderr.splitlines() if line.startswith("best parameters")]
    assert best, result.stderr  # the study's closing line, on the progress stream
    assert best[-1].startswith(
        f"best parameters of study {tuning.study_name} (trial {tuning.best_trial} of {finished}, "
    )
    assert best[-1].endswith(f"num_leaves={tuning.best_params['num_leaves']!r}")


def test_the_spec_budget_alone_ends_the_search(
    graded_dataset: Path, make_spec: SpecFactory, run_cli: CliRunner, tmp_path: Path
) -> None:
    spec = make_spec(graded_dataset, search={**SEARCH, "timeout_s": 1.5})
    journal = tmp_path / "spec.journal"
    result = run_cli("tune", spec, "--storage", f"journal:{journal}", "--trials-only", "--quiet")
    assert result.returncode == 0, result.stderr
    assert 1 <= trials_in(journal) < 1000


def test_a_taken_run_name_fails_before_any_work(
    graded_dataset: Path, make_spec: SpecFactory, run_cli: CliRunner, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    (runs / "taken").mkdir(parents=True)
    (runs / "cells--BPO").mkdir()
    for name, fields in (
        ("taken", {}),
        ("cells", {"protocol": {"cells": "per_category"}}),
    ):
        spec = make_spec(graded_dataset, f"{name}.yaml", search={**SEARCH, "n_trials": 2}, **fields)
        result = run_cli("tune", spec, "--name", name, "--runs-dir", runs)
        assert result.returncode == 1, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "run directory already exists" in lines[0], lines
        assert not (runs / ".optuna").exists()  # no study was opened, no trial run
    bad = run_cli("tune", make_spec(graded_dataset, search=SEARCH), "--name", "bad name")
    assert bad.returncode == 1
    assert "run name 'bad name' contains ' ': expected a letter or digit" in bad.stderr


def test_a_bad_timeout_is_a_usage_error(
    graded_dataset: Path, make_spec: SpecFactory, run_cli: CliRunner, tmp_path: Path
) -> None:
    spec = make_spec(graded_dataset, search=SEARCH)
    result = run_cli("tune", spec, "--timeout", "0", "--runs-dir", tmp_path / "runs")
    assert result.returncode == 2
    assert "--timeout: expected seconds (a number > 0), found '0'" in result.stderr
    spec_error = run_cli(
        "tune", make_spec(graded_dataset, "t.yaml", search={**SEARCH, "timeout_s": -1}),
        "--runs-dir", tmp_path / "runs",
    )  # fmt: skip
    assert spec_error.returncode == 1
    assert "search.timeout_s: Input should be greater than 0" in spec_error.stderr
    assert not (tmp_path / "runs").exists()
