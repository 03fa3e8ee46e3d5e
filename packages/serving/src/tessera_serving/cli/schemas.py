"""``tessera-serve schemas add|list``: the live feature schemas registration checks against."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import tessera_serving as api
from tessera_serving.cli._common import add_config_arguments, config_from_args


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("schemas", help="record or list live feature schemas")
    actions = parser.add_subparsers(dest="schemas_command", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="record a live feature schema")
    source = add.add_mutually_exclusive_group(required=True)
    source.add_argument("--manifest", type=Path, help="a dataset manifest.json")
    source.add_argument("--yaml", type=Path, help="a YAML mapping family -> [columns]")
    add.add_argument("--name", help="schema name (default: the manifest's name or schema-<sha>)")
    add_config_arguments(add)
    add.set_defaults(func=_add)
    listing = actions.add_parser("list", help="list live feature schemas")
    listing.add_argument("--json", action="store_true", help="print JSON lines")
    add_config_arguments(listing)
    listing.set_defaults(func=_list)


def _add(args: argparse.Namespace) -> int:
    if args.manifest is not None:
        schema, dataset = api.schema_from_manifest(args.manifest)
        name, source = args.name or dataset, f"manifest {args.manifest}"
    else:
        schema, name, source = api.schema_from_yaml(args.yaml), args.name, f"yaml {args.yaml}"
    with api.open_registry(config_from_args(args)) as registry:
        info, created = api.add_live_schema(registry, schema, name=name, source=source)
    verb = "added" if created else "already present:"
    print(f"{verb} live schema {info.name} (schema_sha_v2 {info.schema_sha_v2})")
    return 0


def _list(args: argparse.Namespace) -> int:
    with api.open_registry(config_from_args(args)) as registry:
        schemas = api.list_live_schemas(registry)
    for info in schemas:
        if args.json:
            print(
                json.dumps(
                    {
                        "name": info.name,
                        "schema_sha_v2": info.schema_sha_v2,
                        "feature_schema_sha": info.feature_schema_sha,
                        "feature_schema": info.feature_schema,
                        "source": info.source,
                        "created_at": info.created_at.isoformat(),
                    },
                    sort_keys=True,
                )
            )
        else:
            columns = sum(len(c) for c in info.feature_schema.values())
            print(
                f"{info.name}\t{info.schema_sha_v2 or '-'}\t{info.feature_schema_sha}\t"
                f"{len(info.feature_schema)} families, {columns} columns"
            )
    return 0
