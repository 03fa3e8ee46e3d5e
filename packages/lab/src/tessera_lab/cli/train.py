"""``tessera-lab train SPEC``: train a spec and write its run directories.

LightGBM loads only once the spec and the dataset have passed their checks (inside
``tessera_lab.train_run``), after ``tessera_lab.configure`` set the OpenMP wait policy.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import tessera_lab as lab


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments shared by ``train`` and ``tune``."""
    parser.add_argument("spec", type=Path, help="the training spec (YAML)")
    parser.add_argument("--name", help="run name (default: <spec stem>-<UTC time>-<hex>)")
    parser.add_argument(
        "--runs-dir", type=Path, default=Path("runs"), help="where run directories go (runs)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.add_argument(
        "--json", action="store_true", help="print the runs written as one JSON document"
    )


def run_result(path: Path) -> dict[str, Any]:
    """What a command reports about one run directory it wrote (the ``--json`` form)."""
    record = lab.load_run(path)
    return {
        "run": str(path),
        "name": record.name,
        "cell": record.cell,
        "smoke": record.smoke,
        "model_sha256": record.model.sha256,
        "gate": record.gate.to_plain(),
        "validation": lab.describe_validation(record),
        "best_params": None if record.tuning is None else dict(record.tuning.best_params),
    }


def print_runs(paths: list[Path], *, as_json: bool = False) -> None:
    """One line per run directory written (path, gate verdict, smoke flag), or JSON."""
    results = [run_result(path) for path in paths]
    if as_json:
        print(json.dumps({"runs": results}, indent=2, sort_keys=True))
        return
    for result in results:
        gate = result["gate"]
        print(
            f"wrote {result['run']}: {gate['metric']} {gate['model_value']:.4f} vs baseline "
            f"{gate['baseline_value']:.4f} (lift {gate['lift']:+.4f}) -> {gate['verdict']}; "
            + result["validation"]
            + (" [smoke]" if result["smoke"] else "")
        )


def _train(args: argparse.Namespace) -> int:
    paths = lab.train_run(
        args.spec, name=args.name, runs_dir=args.runs_dir, smoke=args.smoke, quiet=args.quiet
    )
    print_runs(paths, as_json=args.json)
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
