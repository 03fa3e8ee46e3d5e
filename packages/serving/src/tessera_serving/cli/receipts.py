"""``tessera-serve receipts show|export|summarize`` and ``tessera-serve drift``.

``show`` prints the receipts of a job (numeric id) or of a pipeline run id from the registry;
``export`` writes a run's receipts as JSON files; ``summarize`` writes ``summary.json``,
``summary.md`` and ``drift.json`` for a ``$TESSERA_RECEIPTS_DIR`` run directory (the same
implementation as ``tessera-lab receipts summarize``) and exits 1 when the run did not pass;
``drift`` compares two runs stored in the registry (default: the latest two).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tessera_contracts import (
    FAIL_ON_CHOICES,
    Receipt,
    compare_runs,
    drift_reaches,
    render_drift_markdown,
    render_receipt_markdown,
    to_json_text,
    write_run_report,
)
from tessera_serving import (
    NotFoundError,
    Registry,
    export_receipts,
    latest_runs,
    open_registry,
    receipts_for_job,
    receipts_for_run,
)
from tessera_serving.cli._common import add_config_arguments, config_from_args


def _lookup(registry: Registry, target: str, pipeline: str | None) -> list[Receipt]:
    if target.isdigit():
        found = receipts_for_job(registry, int(target))
        what = f"job {target}"
    else:
        found = receipts_for_run(registry, target, pipeline)
        what = f"run id {target!r}"
    if not found:
        raise NotFoundError(
            f"no receipts for {what} in the registry (receipts are recorded by register, "
            "score, rescore and backfill-schema-sha-v2)"
        )
    return found


def _show(args: argparse.Namespace) -> int:
    with open_registry(config_from_args(args)) as registry:
        receipts = _lookup(registry, args.target, args.pipeline)
    if args.json:
        print(json.dumps([r.to_plain() for r in receipts], sort_keys=True, indent=2))
        return 0
    for receipt in receipts:
        print(render_receipt_markdown(receipt))
    return 0


def _export(args: argparse.Namespace) -> int:
    with open_registry(config_from_args(args)) as registry:
        receipts = _lookup(registry, args.target, args.pipeline)
    for path in export_receipts(receipts, args.dir):
        print(f"wrote {path}")
    return 0


def _summarize(args: argparse.Namespace) -> int:
    expected = [s.strip() for s in args.expect.split(",") if s.strip()] if args.expect else None
    report = write_run_report(
        args.dir,
        threshold_pct=args.threshold,
        expected_stages=expected,
        previous_run_dir=args.previous,
    )
    print((args.dir / "summary.md").read_text(encoding="utf-8"), end="")
    failure = report.failure(args.fail_on)
    if failure is not None:
        print(failure, file=sys.stderr)
    return 0 if failure is None else 1


def _drift(args: argparse.Namespace) -> int:
    with open_registry(config_from_args(args)) as registry:
        if args.run_a and args.run_b:
            pairs = [(args.pipeline, args.run_b), (args.pipeline, args.run_a)]
        elif args.run_a or args.run_b:
            raise NotFoundError("give both RUN_A and RUN_B, or neither (the latest two runs)")
        else:
            pairs = list(latest_runs(registry, args.pipeline, limit=2))
            if len(pairs) < 2:
                raise NotFoundError("the registry holds receipts of fewer than two runs")
        current = receipts_for_run(registry, pairs[0][1], pairs[0][0])
        previous = receipts_for_run(registry, pairs[1][1], pairs[1][0])
    if not current or not previous:
        raise NotFoundError(f"no receipts for run id {pairs[0 if not current else 1][1]!r}")
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
    """Register ``receipts`` (show, export, summarize) and ``drift``."""
    receipts = subparsers.add_parser(
        "receipts", help="show, export and summarize stage receipts", description=__doc__
    )
    sub = receipts.add_subparsers(dest="receipts_command", metavar="ACTION", required=True)
    show = sub.add_parser("show", help="a job's or a run's receipts")
    show.add_argument("target", metavar="JOB|RUN_ID", help="a job id or a pipeline run id")
    show.add_argument("--pipeline", help="only receipts of this pipeline")
    show.add_argument("--json", action="store_true", help="print the receipts as JSON")
    add_config_arguments(show)
    show.set_defaults(func=_show)
    export = sub.add_parser("export", help="write a job's or a run's receipts as JSON files")
    export.add_argument("target", metavar="JOB|RUN_ID", help="a job id or a pipeline run id")
    export.add_argument("dir", type=Path, help="directory for <stage>.json files")
    export.add_argument("--pipeline", help="only receipts of this pipeline")
    add_config_arguments(export)
    export.set_defaults(func=_export)
    summ = sub.add_parser(
        "summarize", help="write summary.json/summary.md/drift.json for one pipeline run"
    )
    summ.add_argument("dir", type=Path, help="the run's receipts directory")
    summ.add_argument("--expect", help="comma-separated stages the run must have")
    summ.add_argument("--previous", type=Path, help="compare with this run (default: latest)")
    _common(summ)
    summ.set_defaults(func=_summarize)
    drift = subparsers.add_parser(
        "drift",
        help="compare two runs' receipts in the registry",
        description="Compare RUN_B with RUN_A (default: the latest two runs with receipts).",
    )
    drift.add_argument("run_a", nargs="?", help="the earlier pipeline run id")
    drift.add_argument("run_b", nargs="?", help="the later pipeline run id")
    drift.add_argument("--pipeline", help="only runs of this pipeline")
    drift.add_argument("--json", action="store_true", help="print the report as JSON")
    add_config_arguments(drift)
    _common(drift)
    drift.set_defaults(func=_drift)
