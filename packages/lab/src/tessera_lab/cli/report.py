"""``tessera-lab report RUN``: print a run's metrics and write plots under RUN/report/."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import tessera_lab as lab


def _report(args: argparse.Namespace) -> int:
    records = [lab.load_run(path) for path in lab.run_set(args.run)]  # fail fast on a non-run
    record = records[0]
    table, paths = lab.report_run(args.run, plots=not args.no_plots)
    if args.json:
        result = {
            "run": str(args.run),
            "name": record.name,
            "cell": record.cell,
            "smoke": record.smoke,
            "gate": record.gate.to_plain(),
            "metrics": record.metrics.to_plain(),
            "tuning": None if record.tuning is None else record.tuning.to_plain(),
            "plots": [str(path) for path in paths],
        }
        print(json.dumps(result, indent=2, sort_keys=True))
        return 0
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
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=_report)
