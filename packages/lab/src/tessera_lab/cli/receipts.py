"""``tessera-lab receipts show|summarize`` and ``tessera-lab drift``: read the evidence back.

``show RUN`` prints a run directory's receipts; ``summarize DIR`` writes ``summary.json``,
``summary.md`` and ``drift.json`` for one pipeline run of a ``$TESSERA_RECEIPTS_DIR`` tree
and exits 1 when the run did not pass (or drifted to ``--fail-on``); ``drift A B`` compares
two runs' receipts.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import tessera_lab as lab
from tessera_contracts import ContractError
from tessera_contracts.receipts import (
    add_drift_options,
    add_summarize_command,
    compare_runs,
    load_receipts,
    print_drift,
    render_receipt_markdown,
    render_summary_markdown,
    summarize_run,
)


def receipts_dir_of(target: Path, runs_dir: Path) -> Path:
    """A run directory (``report/receipts``), a run name under ``runs_dir``, or a receipts dir."""
    for candidate in (target, runs_dir / target):
        if lab.run_receipts_dir(candidate).is_dir():
            return lab.run_receipts_dir(candidate)
    if target.is_dir():
        return target
    raise ContractError(
        f"{target}: no receipts here: expected a run directory with report/receipts/, a run "
        f"name under {runs_dir}, or a receipts directory (train the spec to create one)"
    )


def _show(args: argparse.Namespace) -> int:
    receipts = load_receipts(receipts_dir_of(args.run, args.runs_dir))
    if not receipts:
        raise ContractError(f"{args.run}: the receipts directory is empty")
    if args.json:
        print(json.dumps([r.to_plain() for r in receipts], sort_keys=True, indent=2))
        return 0
    print(render_summary_markdown(summarize_run(receipts)))
    for receipt in receipts:
        print(render_receipt_markdown(receipt))
    return 0


def _drift(args: argparse.Namespace) -> int:
    previous = load_receipts(receipts_dir_of(args.run_a, args.runs_dir))
    current = load_receipts(receipts_dir_of(args.run_b, args.runs_dir))
    if not current:
        raise ContractError(f"{args.run_b}: the receipts directory is empty")
    return print_drift(compare_runs(previous, current, args.threshold), args)


def add_parser(subparsers: Any) -> None:
    """Register ``receipts`` (show, summarize) and ``drift``."""
    receipts = subparsers.add_parser(
        "receipts", help="show and summarize stage receipts", description=__doc__
    )
    sub = receipts.add_subparsers(dest="receipts_command", metavar="COMMAND", required=True)
    show = sub.add_parser("show", help="print a run's receipts")
    show.add_argument("run", type=Path, help="run directory, run name, or receipts directory")
    show.add_argument("--runs-dir", type=Path, default=Path("runs"), help="(runs)")
    show.add_argument("--json", action="store_true", help="print the receipts as JSON")
    show.set_defaults(func=_show)
    add_summarize_command(sub)
    drift = subparsers.add_parser(
        "drift",
        help="compare two runs' receipts",
        description="Compare RUN_B's receipts with RUN_A's, stage by stage.",
    )
    drift.add_argument("run_a", type=Path, help="the earlier run (directory or name)")
    drift.add_argument("run_b", type=Path, help="the later run (directory or name)")
    drift.add_argument("--runs-dir", type=Path, default=Path("runs"), help="(runs)")
    drift.add_argument("--json", action="store_true", help="print the report as JSON")
    add_drift_options(drift)
    drift.set_defaults(func=_drift)
