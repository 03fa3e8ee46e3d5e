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
from pathlib import Path
from typing import Any

import tessera_serving as api
from tessera_contracts import Receipt
from tessera_contracts.receipts import (
    add_drift_options,
    add_summarize_command,
    compare_runs,
    print_drift,
    render_receipt_markdown,
)
from tessera_serving import NotFoundError
from tessera_serving.cli._common import add_config_arguments, config_from_args


def _lookup(registry: api.Registry, target: str, pipeline: str | None) -> list[Receipt]:
    if target.isdigit():
        found = api.receipts_for_job(registry, int(target))
        what = f"job {target}"
    else:
        found = api.receipts_for_run(registry, target, pipeline)
        what = f"run id {target!r}"
    if not found:
        raise NotFoundError(
            f"no receipts for {what} in the registry (receipts are recorded by register, "
            "score, rescore and backfill-schema-sha-v2)"
        )
    return found


def _show(args: argparse.Namespace) -> int:
    with api.open_registry(config_from_args(args)) as registry:
        receipts = _lookup(registry, args.target, args.pipeline)
    if args.json:
        print(json.dumps([r.to_plain() for r in receipts], sort_keys=True, indent=2))
        return 0
    for receipt in receipts:
        print(render_receipt_markdown(receipt))
    return 0


def _export(args: argparse.Namespace) -> int:
    with api.open_registry(config_from_args(args)) as registry:
        receipts = _lookup(registry, args.target, args.pipeline)
    for path in api.export_receipts(receipts, args.dir):
        print(f"wrote {path}")
    return 0


def _drift(args: argparse.Namespace) -> int:
    with api.open_registry(config_from_args(args)) as registry:
        if args.run_a and args.run_b:
            pairs = [(args.pipeline, args.run_b), (args.pipeline, args.run_a)]
        elif args.run_a or args.run_b:
            raise NotFoundError("give both RUN_A and RUN_B, or neither (the latest two runs)")
        else:
            pairs = list(api.latest_runs(registry, args.pipeline, limit=2))
            if len(pairs) < 2:
                raise NotFoundError("the registry holds receipts of fewer than two runs")
        current = api.receipts_for_run(registry, pairs[0][1], pairs[0][0])
        previous = api.receipts_for_run(registry, pairs[1][1], pairs[1][0])
    if not current or not previous:
        raise NotFoundError(f"no receipts for run id {pairs[0 if not current else 1][1]!r}")
    return print_drift(compare_runs(previous, current, args.threshold), args)


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
    add_summarize_command(sub)
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
    add_drift_options(drift)
    drift.set_defaults(func=_drift)
