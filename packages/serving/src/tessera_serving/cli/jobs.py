"""``tessera-serve jobs show ID`` and ``tessera-serve events ID``: read a scoring job back."""

from __future__ import annotations

import argparse
import json
from typing import Any

from tessera_serving import get_job, job_events, open_registry
from tessera_serving.cli._common import add_config_arguments, config_from_args


def add_parser(subparsers: Any) -> None:
    jobs = subparsers.add_parser("jobs", help="show a scoring job")
    actions = jobs.add_subparsers(dest="jobs_command", metavar="ACTION", required=True)
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
    with open_registry(config_from_args(args)) as registry:
        job = get_job(registry, args.job_id)
    if args.json:
        print(json.dumps(job, sort_keys=True))
        return 0
    for key, value in job.items():
        shown = json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else value
        print(f"{key}: {shown}")
    return 0


def _events(args: argparse.Namespace) -> int:
    with open_registry(config_from_args(args)) as registry:
        events = job_events(registry, args.job_id)
    for event in events:
        if args.json:
            print(json.dumps(event, sort_keys=True))
            continue
        head = f"{event['seq']:>3} {event['level']:<7} {event['event']}"
        rest = {k: v for k, v in event.items() if k not in ("seq", "level", "event", "created_at")}
        print(head + "".join(f" {k}={json.dumps(v, sort_keys=True)}" for k, v in rest.items()))
    return 0
