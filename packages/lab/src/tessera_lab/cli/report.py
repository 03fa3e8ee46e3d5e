"""``tessera-lab report RUN``: print a run's metrics and write plots under RUN/report/."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tessera_lab.runs import load_run, run_set


def _report(args: argparse.Namespace) -> int:
    for path in run_set(args.run):  # fail fast on a non-run, before LightGBM and matplotlib
        load_run(path)
    from tessera_lab.report import report_run

    table, paths = report_run(args.run, plots=not args.no_plots)
    print(table)
    for path in paths:
        print(f"wrote {path}")
    return 0


def add_parser(subparsers: Any) -> None:
    """Register ``report``."""
    parser = subparsers.add_parser(
        "report",
        help="print a run's metrics and write its plots",
        description="Print model vs baseline metrics (overall, per category) and write PNG "
        "plots under RUN/report/.",
    )
    parser.add_argument(
        "run",
        type=Path,
        help="a run directory (runs/<name>), or runs/<name> of a per_category spec (its cells)",
    )
    parser.add_argument("--no-plots", action="store_true", help="print the table only")
    parser.set_defaults(func=_report)
