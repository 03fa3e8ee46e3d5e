"""``tessera-serve jobs list|show`` and ``tessera-serve events ID``: read scoring jobs back."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import tessera_serving as api
from tessera_serving.cli._common import add_config_arguments, config_from_args

# Literals so parsing needs no registry import; a test checks them against the registry.
JOB_KIND_CHOICES = ("score", "rescore")
JOB_STATUS_CHOICES = ("running", "succeeded", "failed", "abandoned")


def add_parser(subparsers: Any) -> None:
    jobs = subparsers.add_parser("jobs", help="list scoring jobs or show one")
    actions = jobs.add_subparsers(dest="jobs_command", metavar="ACTION", required=True)
    listing = actions.add_parser(
        "list", help="scoring jobs, newest first (dead ones are marked abandoned first)"
    )
    listing.add_argument("--status", choices=JOB_STATUS_CHOICES)
    listing.add_argument("--kind", choices=JOB_KIND_CHOICES)
    listing.add_argument("--model", metavar="NAME", help="only jobs of this model name")
    listing.add_argument("--limit", type=int, default=100, metavar="N", help="default 100")
    listing.add_argument("--json", action="store_true", help="print one JSON object per line")
    add_config_arguments(listing)
    listing.set_defaults(func=_list)
    show = actions.add_parser("show", help="a job's model, input, output, counts and status")
    show.add_argument("job_id", type=int, metavar="ID")
    show.add_argument("--json", action="store_true", help="print the job as JSON")
    add_config_arguments(show)
    show.set_defaults(func=_show)
    events = subparsers.add_parser("events", help="a scoring job's events, in order")
    events.add_argument("job_id", type=int, metavar="ID")
    events.add_argument("--json", action="store_true", help="print one JSON object per line")
    add_config_arguments(events)
    events.set_defaults(func=_events)


def _show(args: argparse.Namespace) -> int:
    with api.open_registry(config_from_args(args)) as registry:
        job = api.get_job(registry, args.job_id)
    if args.json:
        print(json.dumps(job, sort_keys=True))
        return 0
    for key, value in job.items():
        shown = json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else value
        print(f"{key}: {shown}")
    return 0


def _events(args: argparse.Namespace) -> int:
    with api.open_registry(config_from_args(args)) as registry:
        events = api.job_events(registry, args.job_id)
    for event in events:
        if args.json:
            print(json.dumps(event, sort_keys=True))
            continue
        head = f"{event['seq']:>3} {event['level']:<7} {event['event']}"
        rest = {k: v for k, v in event.items() if k not in ("seq", "level", "event", "created_at")}
        print(head + "".join(f" {k}={json.dumps(v, sort_keys=True)}" for k, v in rest.items()))
    return 0


def _list(args: argparse.Namespace) -> int:
    if args.limit < 1:
        print(f"tessera-serve: error: --limit must be >= 1, got {args.limit}", file=sys.stderr)
        return 2
    with api.open_registry(config_from_args(args)) as registry:
        jobs = api.list_jobs(
            registry, status=args.status, kind=args.kind, model=args.model, limit=args.limit
        )
    if args.json:
        for job in jobs:
            print(json.dumps(job, sort_keys=True))
        return 0
    print(f"{'ID':>6}  {'KIND':<8} {'STATUS':<10} {'MODEL':<24} {'ROWS':>10}  CREATED / ERROR")
    for job in jobs:
        model = f"{job['model_name']}#{job['model_version']}"
        rows = "" if job["rows"] is None else str(job["rows"])
        tail = job["error"] or job["created_at"]
        print(
            f"{job['id']:>6}  {job['kind']:<8} {job['status']:<10} {model:<24} {rows:>10}  {tail}"
        )
    return 0
