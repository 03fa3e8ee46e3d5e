"""The receipts commands both CLIs share: ``receipts summarize`` and the drift options.

``tessera-lab`` and ``tessera-serve`` expose the same ``receipts summarize`` over a
``$TESSERA_RECEIPTS_DIR`` run directory and the same ``--threshold``/``--fail-on`` on their
``drift`` commands; they differ only in where the receipts come from.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tessera_contracts import DriftReport, to_json_text
from tessera_contracts.receipts.drift import FAIL_ON_CHOICES, drift_reaches
from tessera_contracts.receipts.markdown import render_drift_markdown
from tessera_contracts.receipts.report import SUMMARY_MD, write_run_report


def add_drift_options(parser: argparse.ArgumentParser) -> None:
    """``--threshold`` and ``--fail-on``: when a count change warns, which drift fails."""
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


def add_summarize_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``summarize DIR [--expect S,..] [--previous DIR]`` under ``receipts``."""
    summ: argparse.ArgumentParser = subparsers.add_parser(
        "summarize",
        help="write summary.json/summary.md/drift.json for one pipeline run",
        description="Summarize $TESSERA_RECEIPTS_DIR/<pipeline>/<run_id>/ and compare it with "
        "the previous run of the pipeline; exit 1 when the run did not pass.",
    )
    summ.add_argument("dir", type=Path, help="the run's receipts directory")
    summ.add_argument("--expect", help="comma-separated stages the run must have")
    summ.add_argument("--previous", type=Path, help="compare with this run (default: latest)")
    add_drift_options(summ)
    summ.set_defaults(func=summarize_command)
    return summ


def summarize_command(args: argparse.Namespace) -> int:
    """Write the run report, print ``summary.md``; 1 when the run failed or drifted too far."""
    expected = [s.strip() for s in args.expect.split(",") if s.strip()] if args.expect else None
    report = write_run_report(
        args.dir,
        threshold_pct=args.threshold,
        expected_stages=expected,
        previous_run_dir=args.previous,
    )
    print((Path(args.dir) / SUMMARY_MD).read_text(encoding="utf-8"), end="")
    failure = report.failure(args.fail_on)
    if failure is not None:
        print(f"{failure} (--fail-on {args.fail_on})", file=sys.stderr)
    return 0 if failure is None else 1


def print_drift(report: DriftReport, args: argparse.Namespace) -> int:
    """Print a drift report (``--json`` or Markdown); 1 when it reaches ``--fail-on``."""
    print(to_json_text(report) if args.json else render_drift_markdown(report), end="")
    return 1 if drift_reaches(report.severity, args.fail_on) else 0
