"""``tessera-serve models list|show``: registered model versions and their provenance."""

from __future__ import annotations

import argparse
import json
from typing import Any

import tessera_serving as api
from tessera_serving.cli._common import add_config_arguments, config_from_args


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("models", help="list registered models or show one version")
    actions = parser.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="one line per model version")
    listing.add_argument("name", nargs="?", help="only this model name")
    listing.add_argument("--json", action="store_true", help="print JSON lines")
    add_config_arguments(listing)
    listing.set_defaults(func=_list)
    show = actions.add_parser("show", help="every row of one version, with provenance (JSON)")
    show.add_argument("ref", metavar="NAME[@stage|#VERSION]")
    show.add_argument("--full", action="store_true", help="include run.json and spec.yaml text")
    add_config_arguments(show)
    show.set_defaults(func=_show)


LIST_HEADER = "MODEL\tSTAGE\tVERDICT\tWEIGHTS\tSCHEMA_SHA_V2\tCELLS"


def _list(args: argparse.Namespace) -> int:
    with api.open_registry(config_from_args(args)) as registry:
        versions = api.list_versions(registry, args.name)
    if args.json:
        for v in versions:
            print(json.dumps(v.to_plain(), sort_keys=True))
        return 0
    if not versions:
        print("no models registered")
        return 0
    print(LIST_HEADER)
    for v in versions:
        cells = ",".join(c for c in v.cells if c is not None) or "pooled"
        print(
            f"{v.name}#{v.version}\t{v.stage}\t{v.gate_verdict}\t"
            f"{'smoke' if v.smoke else 'full'}\t{v.schema_sha_v2 or '-'}\t{cells}"
        )
    return 0


def _show(args: argparse.Namespace) -> int:
    with api.open_registry(config_from_args(args)) as registry:
        document = api.describe_version(registry, args.ref, full=args.full)
    print(json.dumps(document, indent=2, sort_keys=True))
    return 0
