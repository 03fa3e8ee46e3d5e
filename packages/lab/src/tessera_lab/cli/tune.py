"""``tessera-lab tune SPEC``: run (or join, or resume) the spec's Optuna study, then retrain.

Several ``tune`` processes on one storage share the study; ``--trials-only`` runs trials
without retraining the best one (for extra workers).
"""

from __future__ import annotations

import argparse
from typing import Any

from tessera_lab.cli.train import add_run_arguments, print_runs
from tessera_lab.errors import SpecError
from tessera_lab.runs import load_run
from tessera_lab.spec import load_spec
from tessera_lab.threads import prefer_passive_wait


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected seconds (a number > 0), found {text!r}"
        ) from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected seconds (a number > 0), found {text!r}")
    return value


def _tune(args: argparse.Namespace) -> int:
    prefer_passive_wait()
    if load_spec(args.spec).search is None:
        raise SpecError(f"{args.spec}: search: the spec has no search block; use 'train'")
    from tessera_lab.training import train_run
    from tessera_lab.tuning import StudyOptions

    options = StudyOptions(
        storage=args.storage, study_name=args.study, n_trials=args.n_trials, timeout_s=args.timeout
    )
    paths = train_run(
        args.spec,
        name=args.name,
        runs_dir=args.runs_dir,
        quiet=args.quiet,
        study=options,
        retrain=not args.trials_only,
    )
    if args.trials_only:
        print("trials done (no run written: --trials-only)")
    print_runs(paths)
    for path in paths:
        tuning = load_run(path).tuning
        if tuning is not None:
            params = ", ".join(f"{k}={v!r}" for k, v in sorted(tuning.best_params.items()))
            print(
                f"best parameters of {path.name} (trial {tuning.best_trial} of "
                f"{tuning.n_trials}, {tuning.metric} {tuning.best_value:.5f}): {params}"
            )
    return 0


def add_parser(subparsers: Any) -> None:
    """Register ``tune``."""
    parser = subparsers.add_parser(
        "tune",
        help="run the spec's Optuna search and train the best trial",
        description="Run, join or resume the spec's Optuna study; retrain the best trial.",
    )
    add_run_arguments(parser)
    parser.add_argument("--storage", help="Optuna storage: journal:<path> or an RDB URL")
    parser.add_argument("--study", help="study name (default: <spec stem>-<spec hash>)")
    parser.add_argument("--n-trials", type=int, help="finished trials the study should reach")
    parser.add_argument(
        "--timeout",
        type=_positive_seconds,
        metavar="SECONDS",
        help="time budget: no new trial starts after this (default: search.timeout_s)",
    )
    parser.add_argument(
        "--trials-only", action="store_true", help="run trials only; do not write a run"
    )
    parser.set_defaults(func=_tune)
