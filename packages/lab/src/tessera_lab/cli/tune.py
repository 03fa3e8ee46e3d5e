"""``tessera-lab tune SPEC``: run (or join, or resume) the spec's Optuna study, then retrain.

Several ``tune`` processes on one storage share the study; ``--trials-only`` runs trials
without retraining the best one (for extra workers). The best trial's parameters are
printed as the study ends (see ``tessera_lab.Progress.best``).
"""

from __future__ import annotations

import argparse
from typing import Any

import tessera_lab as lab
from tessera_lab.cli.train import add_run_arguments, print_runs


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
    options = lab.StudyOptions(
        storage=args.storage, study_name=args.study, n_trials=args.n_trials, timeout_s=args.timeout
    )
    paths = lab.tune_run(
        args.spec,
        name=args.name,
        runs_dir=args.runs_dir,
        quiet=args.quiet,
        study=options,
        retrain=not args.trials_only,
    )
    if args.trials_only and not args.json:
        print("trials done (no run written: --trials-only)")
    print_runs(paths, as_json=args.json)
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
