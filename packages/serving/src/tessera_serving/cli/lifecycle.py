"""``tessera-serve promote|verify|backfill-schema-sha-v2``: custody of registered models."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import tessera_serving as api
from tessera_serving.cli._common import add_config_arguments, config_from_args


def add_parser(subparsers: Any) -> None:
    promote_parser = subparsers.add_parser(
        "promote",
        help="move a model version to production (PROMOTE verdict and smoke: false required)",
    )
    promote_parser.add_argument("ref", metavar="NAME[#VERSION]", help="default: latest version")
    promote_parser.add_argument("--reason", default="promote", help="recorded in the history")
    promote_parser.add_argument("--json", action="store_true", help="print the result as JSON")
    add_config_arguments(promote_parser)
    promote_parser.set_defaults(func=_promote)

    verify = subparsers.add_parser(
        "verify", help="check every registry row; exit 1 listing each violation"
    )
    verify.add_argument(
        "--json", action="store_true", help="print the report (with every violation) as JSON"
    )
    add_config_arguments(verify)
    verify.set_defaults(func=_verify)

    backfill = subparsers.add_parser(
        "backfill-schema-sha-v2",
        help="compute the missing schema_sha_v2 fingerprints from stored feature schemas",
    )
    backfill.add_argument("--dry-run", action="store_true", help="list the rows, change nothing")
    add_config_arguments(backfill)
    backfill.set_defaults(func=_backfill)


def _promote(args: argparse.Namespace) -> int:
    with api.open_registry(config_from_args(args)) as registry:
        result = api.promote(registry, args.ref, reason=args.reason)
    print(json.dumps(result.to_plain(), sort_keys=True) if args.json else result.describe())
    return 0


def _verify(args: argparse.Namespace) -> int:
    with api.open_registry(config_from_args(args)) as registry:
        report = api.verify_registry(registry)
    if args.json:
        print(json.dumps(report.to_plain(), sort_keys=True))
        return 0 if report.ok else 1
    for violation in report.violations:
        print(violation, file=sys.stderr)
    print(report.summary())
    return 0 if report.ok else 1


def _backfill(args: argparse.Namespace) -> int:
    with api.open_registry(config_from_args(args)) as registry:
        changes = api.backfill_schema_sha_v2(registry, dry_run=args.dry_run)
    for change in changes:
        print(change.describe(args.dry_run))
    if not changes:
        print("backfill-schema-sha-v2: nothing to do (every row has schema_sha_v2)")
    else:
        verb = "would change" if args.dry_run else "changed"
        print(f"backfill-schema-sha-v2: {verb} {len(changes)} row(s)")
    return 0
