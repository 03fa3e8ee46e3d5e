"""Optuna search over LightGBM parameters, scored on the validation split carved from train.

Seeded TPE sampler, median pruner fed by ``optuna_integration.LightGBMPruningCallback``
(metric keys as LightGBM names them: ``ndcg@10``, ``auc``; the validation set is called
``valid``). The study lives in a storage outside any run directory: by default a journal
file ``<runs_dir>/.optuna/<study>.journal`` (Optuna's JournalStorage is safe for several
processes on one machine, unlike SQLite); any RDB URL works across machines. Processes
sharing a study load it (``load_if_exists``) and stop when the study as a whole has
``n_trials`` finished trials, so a killed study resumes where it stopped. The budget is
exact across processes (``tessera_lab.trial_budget``); database storages get Optuna's
heartbeat so a trial whose worker died on another machine is failed and run again.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState
from optuna_integration import LightGBMPruningCallback

from tessera_contracts import TuningSummary, canonical_json
from tessera_lab.booster import VALID_NAME, fit_cell, metric_direction
from tessera_lab.errors import SpecError, TrainingError
from tessera_lab.progress import Progress
from tessera_lab.protocol import Cell, cell_dir_suffix
from tessera_lab.spec import Categorical, FloatRange, IntRange, Search, Spec
from tessera_lab.study_storage import JOURNAL_SCHEME, open_storage, shown_url
from tessera_lab.trial_budget import (
    SurplusTrial,
    claim,
    fail_dead_trials,
    hide_surplus_failures,
    stop_when_full,
    used,
    wait_for_others,
)

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


@dataclass(frozen=True)
class StudyOptions:
    """Command-line overrides of the spec's search block."""

    storage: str | None = None
    study_name: str | None = None
    n_trials: int | None = None
    timeout_s: float | None = None


@dataclass(frozen=True)
class StudyResult:
    """The outcome of a search: the summary for ``run.json`` and every trial for the report."""

    summary: TuningSummary
    trials: list[dict[str, Any]]

    def report(self) -> dict[str, Any]:
        """What ``report/study.json`` holds."""
        return {"summary": self.summary.to_plain(), "trials": self.trials}


def default_study_name(spec: Spec, spec_path: Path, manifest_sha256: str, cell: str | None) -> str:
    """``<spec stem>-<hash>``: the same spec on the same data joins the same study."""
    plain = spec.model_dump(mode="json", exclude={"engine"})  # trials always train locally
    budget = ("n_trials", "timeout_s", "storage")  # how long and where, not which study
    plain["search"] = {k: v for k, v in plain["search"].items() if k not in budget}
    plain["dataset"] = manifest_sha256
    digest = hashlib.sha256(canonical_json(plain)).hexdigest()[:10]
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", spec_path.stem).strip("-._") or "study"
    name = f"{stem[:60]}-{digest}"
    return name if cell is None else f"{name}--{cell_dir_suffix(cell)}"


def storage_url(search: Search, options: StudyOptions, runs_dir: Path, study_name: str) -> str:
    """The storage URL: command line, then spec, then the journal file beside the runs."""
    url = options.storage or search.storage
    if url is None:
        journal = (runs_dir / ".optuna" / f"{study_name}.journal").resolve()
        url = f"{JOURNAL_SCHEME}{journal}"
    return url


def _suggest(trial: optuna.Trial, name: str, dim: FloatRange | IntRange | Categorical) -> Any:
    if isinstance(dim, FloatRange):
        return trial.suggest_float(name, dim.low, dim.high, log=dim.log)
    if isinstance(dim, IntRange):
        return trial.suggest_int(name, dim.low, dim.high, log=dim.log)
    return trial.suggest_categorical(name, dim.choices)


def _pruner(search: Search) -> optuna.pruners.BasePruner:
    if search.pruner.type == "none":
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(
        n_startup_trials=search.pruner.n_startup_trials,
        n_warmup_steps=search.pruner.n_warmup_steps,
    )


def _open_study(
    spec: Spec, search: Search, study_name: str, url: str, direction: str
) -> optuna.Study:
    """Create the study in its storage, or load it when another process has."""
    sampler = optuna.samplers.TPESampler(
        seed=spec.seed if search.sampler.seed is None else search.sampler.seed,
        n_startup_trials=search.sampler.n_startup_trials,
    )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(
        study_name=study_name,
        storage=open_storage(url),
        sampler=sampler,
        pruner=_pruner(search),
        direction="minimize" if direction == "minimize" else "maximize",
        load_if_exists=True,
    )


def run_study(
    cell: Cell,
    names: list[str],
    spec: Spec,
    options: StudyOptions,
    *,
    spec_path: Path,
    runs_dir: Path,
    manifest_sha256: str,
    progress: Progress | None = None,
) -> StudyResult:
    """Run (or join, or resume) the study for one cell until it has ``n_trials`` finished."""
    search, stopping = spec.search, spec.early_stopping
    if search is None or stopping is None:
        raise SpecError("search needs both a search block and early_stopping")
    metric = stopping.metric
    direction = metric_direction(metric)
    study_name = (
        options.study_name
        or search.study_name
        or default_study_name(spec, spec_path, manifest_sha256, cell.name)
    )
    url = storage_url(search, options, runs_dir, study_name)
    n_trials = options.n_trials or search.n_trials
    study = _open_study(spec, search, study_name, url, direction)

    def objective(trial: optuna.Trial) -> float:
        try:
            claim(trial, n_trials)
        except SurplusTrial:
            hidden.numbers.add(trial.number)
            raise
        overrides = {n: _suggest(trial, n, d) for n, d in search.space.items()}
        pruning = LightGBMPruningCallback(trial, metric, valid_name=VALID_NAME)
        fit = fit_cell(
            cell, names, spec, overrides=overrides, extra_callbacks=[pruning],
            label=f"trial {trial.number}",
        )  # fmt: skip
        trial.set_user_attr("best_iteration", fit.best_iteration)
        if fit.best_score is None:
            raise TrainingError(f"trial {trial.number}: no validation score was recorded")
        return fit.best_score

    def show(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if progress is not None and trial.state in FINISHED:
            best = _best_value(study)
            progress.trial(trial.number, n_trials, trial.state.name.lower(), best, study_name)

    with hide_surplus_failures() as hidden:
        _fill(study, objective, n_trials, show, options.timeout_s or search.timeout_s)
    result = _result(study, shown_url(url), metric, direction)
    if progress is not None:
        progress.best(result.summary)  # ends with the best trial's parameters
    return result


def _fill(
    study: optuna.Study,
    objective: Callable[[optuna.Trial], float],
    n_trials: int,
    show: Callable[[optuna.Study, optuna.trial.FrozenTrial], None],
    timeout_s: float | None,
) -> None:
    """Run trials here until the study's budget is taken and no live process runs one, or
    until ``timeout_s`` has passed (no new trial starts after it)."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        fail_dead_trials(study)
        missing = n_trials - used(study)
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            return
        if missing > 0:
            study.optimize(
                objective, n_trials=missing, timeout=left,
                callbacks=[stop_when_full(n_trials), show], catch=(SurplusTrial,),
            )  # fmt: skip
            continue
        wait_for_others(study)  # a worker that died meanwhile frees its place: run it here
        if used(study) >= n_trials:
            return


def _best_value(study: optuna.Study) -> float | None:
    try:
        return float(study.best_value)
    except ValueError:
        return None


def _result(study: optuna.Study, url: str, metric: str, direction: str) -> StudyResult:
    trials = study.get_trials(deepcopy=False, states=FINISHED)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if not complete:
        raise TrainingError(
            f"study {study.study_name!r}: no trial completed ({len(trials)} pruned); "
            "loosen the pruner or widen the search"
        )
    best = study.best_trial
    summary = TuningSummary(
        study_name=study.study_name,
        storage=url,
        metric=metric,
        direction="maximize" if direction == "maximize" else "minimize",
        n_trials=len(trials),
        n_complete=len(complete),
        n_pruned=len(trials) - len(complete),
        best_trial=best.number,
        best_value=float(best.value if best.value is not None else float("nan")),
        best_params=dict(best.params),
    )
    rows = [
        {
            "number": t.number,
            "state": t.state.name,
            "value": t.value,
            "params": t.params,
            "intermediate": {str(k): v for k, v in sorted(t.intermediate_values.items())},
        }
        for t in sorted(trials, key=lambda t: t.number)
    ]
    json.dumps(rows)  # trial data must be JSON-ready for report/study.json
    return StudyResult(summary=summary, trials=rows)
