"""``tessera-serve rescore``: sweep stored scores with a new model version, page by page."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import tessera_serving as api
from tessera_serving.cli._common import (
    add_config_arguments,
    add_event_arguments,
    config_from_args,
    event_level,
    positive_int_error,
    usage_error,
)

from .score import add_backend_arguments, check_backend_flags

DEFAULT_PAGE_SIZE = 500  # the library default, without importing LightGBM


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "rescore",
        help="re-score stored scores with a model (resumable; each page one transaction)",
        description="Re-score the stored scores of a model name with REF; an interrupted "
        "sweep resumes when run again with the same arguments, and several processes run "
        "with the same arguments share one sweep (on PostgreSQL), each page done once.",
    )
    parser.add_argument(
        "--model",
        required=True,
        metavar="REF",
        help="NAME (= NAME@production), NAME@stage or NAME#VERSION (any stage, recorded)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        nargs="+",
        metavar="ID",
        help="only rows whose features came from these score jobs' inputs",
    )
    parser.add_argument(
        "--page-size",
        type=int,
        default=DEFAULT_PAGE_SIZE,
        metavar="N",
        help=f"rows per transaction, whole queries (default {DEFAULT_PAGE_SIZE})",
    )
    parser.add_argument(
        "--pace",
        type=_pace,
        metavar="RATE",
        help="slow this worker down: ROWS/s (e.g. 20000/s) or a pause between pages "
        "(e.g. 0.5s, 200ms); default: as fast as it goes",
    )
    parser.add_argument(
        "--in-flight",
        type=int,
        default=1,
        metavar="N",
        help="pages this process keeps in flight, one connection each, so the database "
        "writes one page while the next is scored (PostgreSQL; default 1)",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_backend_arguments(parser)
    add_event_arguments(parser)
    add_config_arguments(parser)
    parser.set_defaults(func=_run)


def _pace(value: str) -> Any:
    from tessera_serving import ConfigurationError, Pace

    try:
        return Pace.parse(value)
    except ConfigurationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _run(args: argparse.Namespace) -> int:
    from tessera_serving import open_registry, run_rescore

    problem = positive_int_error(args, "page_size", "in_flight") or check_backend_flags(args)
    if problem is not None:
        return usage_error(problem)
    api.configure(event_stream=sys.stderr, event_level=event_level(args))
    with open_registry(config_from_args(args)) as registry:
        result = run_rescore(
            registry,
            args.model,
            jobs=args.jobs,
            page_size=args.page_size,
            backend=args.backend,
            num_threads=args.threads,
            batch_size=args.batch_size,
            pace=args.pace,
            in_flight=args.in_flight,
        )
    summary = {
        "job_id": result.job_id,
        "sweep_id": result.sweep_id,
        "resumed": result.resumed,
        "rescored": result.rescored,
        "unchanged": result.unchanged,
        "pages": result.pages,
        "events": [e.name for e in result.events],
        "nothing_changed_because": result.reasons,
    }
    if args.json:
        print(json.dumps(summary, sort_keys=True))
    else:
        how = "resumed" if result.resumed else "new"
        print(
            f"job {result.job_id}: sweep {result.sweep_id} ({how}): {result.rescored} rows "
            f"re-scored, {result.unchanged} not scored by the model, {result.pages} pages"
        )
        if result.reasons:
            print("nothing changed: " + "; ".join(result.reasons))
    return 0
