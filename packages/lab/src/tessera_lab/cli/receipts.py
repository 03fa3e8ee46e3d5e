"""``tessera-lab receipts show|summarize`` and ``tessera-lab drift``: read the evidence back.

``show RUN`` prints a run directory's receipts; ``summarize DIR`` writes ``summary.json``,
``summary.md`` and ``drift.json`` for one pipeline run of a ``$TESSERA_RECEIPTS_DIR`` tree
and exits 1 when the run did not pass (or drifted to ``--fail-on``); ``drift A B`` compares
two runs' receipts.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import tessera_lab as lab
from tessera_contracts import (
    FAIL_ON_CHOICES,
    ContractError,
    compare_runs,
    drift_reaches,
    load_receipts,
    render_drift_markdown,
    render_receipt_markdown,
    render_summary_markdown,
    summarize_run,
    to_json_text,
    write_run_report,
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


def _stages(text: str | None) -> list[str] | None:
    return [s.strip() for s in text.split(",") if s.strip()] if text else None


def _summarize(args: argparse.Namespace) -> int:
    report = write_run_report(
        args.dir,
        threshold_pct=args.threshold,
        expected_stages=_stages(args.expect),
        previous_run_dir=args.previous,
    )
    print((args.dir / "summary.md").read_text(encoding="utf-8"), end="")
    failure = report.failure(args.fail_on)
    if failure is not None:
        print(failure, file=sys.stderr)
    return 0 if failure is None else 1


def _drift(args: argparse.Namespace) -> int:
    previous = load_receipts(receipts_dir_of(args.run_a, args.runs_dir))
    current = load_receipts(receipts_dir_of(args.run_b, args.runs_dir))
    if not current:
        raise ContractError(f"{args.run_b}: the receipts directory is empty")
    report = compare_runs(previous, current, args.threshold)
    print(to_json_text(report) if args.json else render_drift_markdown(report), end="")
    return 1 if drift_reaches(report.severity, args.fail_on) else 0


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threshold",
        type=float,
        help="count change (percent) that warns (default $TESSERA_DRIFT_THRESHOLD or 20)",
    )
    parser.add_argument(
        "--fail-on",
        choices=FAIL_ON_CHOICES,
        default="alert",
        help="exit 1 when the drift severity reaches this (default alert)",
    )


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
    summ = sub.add_parser(
        "summarize",
        help="write summary.json/summary.md/drift.json for one pipeline run",
        description="Summarize $TESSERA_RECEIPTS_DIR/<pipeline>/<run_id>/ and compare it with "
        "the previous run of the pipeline; exit 1 when the run did not pass.",
    )
    summ.add_argument("dir", type=Path, help="the run's receipts directory")
    summ.add_argument("--expect", help="comma-separated stages the run must have")
    summ.add_argument("--previous", type=Path, help="compare with this run (default: latest)")
    _common(summ)
    summ.set_defaults(func=_summarize)
    drift = subparsers.add_parser(
        "drift",
        help="compare two runs' receipts",
        description="Compare RUN_B's receipts with RUN_A's, stage by stage.",
    )
    drift.add_argument("run_a", type=Path, help="the earlier run (directory or name)")
    drift.add_argument("run_b", type=Path, help="the later run (directory or name)")
    drift.add_argument("--runs-dir", type=Path, default=Path("runs"), help="(runs)")
    drift.add_argument("--json", action="store_true", help="print the report as JSON")
    _common(drift)
    drift.set_defaults(func=_drift)
