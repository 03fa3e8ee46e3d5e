"""``tessera-lab train SPEC``: train a spec and write its run directories.

LightGBM is imported only when the command runs, after the OpenMP wait policy default
is set (see ``tessera_lab.threads``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tessera_lab.describe import describe_validation
from tessera_lab.runs import load_run
from tessera_lab.spec import load_spec
from tessera_lab.threads import prefer_passive_wait


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments shared by ``train`` and ``tune``."""
    parser.add_argument("spec", type=Path, help="the training spec (YAML)")
    parser.add_argument("--name", help="run name (default: <spec stem>-<UTC time>-<hex>)")
    parser.add_argument(
        "--runs-dir", type=Path, default=Path("runs"), help="where run directories go (runs)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")


def print_runs(paths: list[Path]) -> None:
    """One line per run directory written: path, gate verdict, validation, smoke flag."""
    for path in paths:
        record = load_run(path)
        gate = record.gate
        print(
            f"wrote {path}: {gate.metric} {gate.model_value:.4f} vs baseline "
            f"{gate.baseline_value:.4f} (lift {gate.lift:+.4f}) -> {gate.verdict}; "
            + describe_validation(record)
            + (" [smoke]" if record.smoke else "")
        )


def _train(args: argparse.Namespace) -> int:
    prefer_passive_wait()
    load_spec(args.spec)  # fail fast on a bad spec, before LightGBM is imported
    from tessera_lab.training import train_run

    paths = train_run(
        args.spec, name=args.name, runs_dir=args.runs_dir, smoke=args.smoke, quiet=args.quiet
    )
    print_runs(paths)
    return 0


def add_parser(subparsers: Any) -> None:
    """Register ``train``."""
    parser = subparsers.add_parser(
        "train",
        help="train a spec and write run directories",
        description="Train a spec (tuning first when it has a search) and write run directories.",
    )
    add_run_arguments(parser)
    parser.add_argument(
        "--smoke", action="store_true", help="a tiny model, quickly (run.json says smoke: true)"
    )
    parser.set_defaults(func=_train)
