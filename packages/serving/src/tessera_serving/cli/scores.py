"""``tessera-serve scores show|audit``: stored scores and their audit trail, read back."""

from __future__ import annotations

import argparse
import json
from typing import Any

import tessera_serving as api
from tessera_serving.cli._common import add_config_arguments, config_from_args, usage_error


def add_parser(subparsers: Any) -> None:
    scores = subparsers.add_parser("scores", help="read stored scores and their audit trail")
    actions = scores.add_subparsers(dest="scores_command", metavar="ACTION", required=True)
    show = actions.add_parser("show", help="the current score(s) of a query")
    show.add_argument("--model", required=True, metavar="NAME", help="the model name")
    show.add_argument("--query", required=True, metavar="ID")
    show.add_argument("--candidate", metavar="ID", help="one candidate (default: all)")
    show.add_argument("--json", action="store_true", help="print one JSON object per line")
    add_config_arguments(show)
    show.set_defaults(func=_show)
    audit = actions.add_parser(
        "audit", help="every write of a score: of one job, or of a (model, query[, candidate])"
    )
    audit.add_argument("--job", type=int, metavar="ID", help="the writes of one job")
    audit.add_argument("--model", metavar="NAME")
    audit.add_argument("--query", metavar="ID")
    audit.add_argument("--candidate", metavar="ID")
    audit.add_argument("--json", action="store_true", help="print one JSON object per line")
    add_config_arguments(audit)
    audit.set_defaults(func=_audit)


def _print(rows: list[dict[str, Any]], as_json: bool, columns: tuple[str, ...]) -> None:
    if as_json:
        for row in rows:
            print(json.dumps(row, sort_keys=True))
        return
    print("  ".join(c.upper() for c in columns))
    for row in rows:
        print("  ".join("-" if row[c] is None else str(row[c]) for c in columns))


def _show(args: argparse.Namespace) -> int:
    with api.open_registry(config_from_args(args)) as registry:
        rows = api.stored_scores(registry, args.model, args.query, args.candidate)
    columns = ("query_id", "candidate_id", "score", "source", "model_sha256", "job_id")
    _print(rows, args.json, columns)
    return 0


def _audit(args: argparse.Namespace) -> int:
    if args.job is None and (args.model is None or args.query is None):
        return usage_error("scores audit needs --job ID, or --model NAME and --query ID")
    with api.open_registry(config_from_args(args)) as registry:
        rows = api.audit_trail(
            registry, job_id=args.job, model=args.model, query=args.query, candidate=args.candidate
        )
    columns = ("audit_id", "query_id", "candidate_id", "job_id", "sweep_id", "score")
    _print(rows, args.json, (*columns, "previous_score", "model_sha256"))
    return 0
