"""``tessera-serve db upgrade|current``: migrate the registry database, or show its revision."""

from __future__ import annotations

import argparse
from typing import Any

import tessera_serving as api
from tessera_serving.cli._common import add_config_arguments, config_from_args
from tessera_serving.config import redact_url


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("db", help="migrate the registry database or show its revision")
    actions = parser.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = actions.add_parser(
        "upgrade", help="migrate to the newest revision (creates the SQLite file)"
    )
    add_config_arguments(up)
    up.set_defaults(func=_upgrade)
    current = actions.add_parser("current", help="print the database's and the code's revision")
    add_config_arguments(current)
    current.set_defaults(func=_current)


def _upgrade(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    where = redact_url(config.database_url)
    before, after = api.upgrade_registry(config)
    if before == after:
        print(f"registry {where} already at revision {after}")
    else:
        print(f"registry {where} upgraded from {before or 'empty'} to {after}")
    return 0


def _current(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    where = redact_url(config.database_url)
    found, expected = api.registry_revisions(config)
    status = "up to date" if found == expected else "run `tessera-serve db upgrade`"
    print(f"registry {where}: database {found or 'empty'}, code {expected} ({status})")
    return 0 if found == expected else 1
