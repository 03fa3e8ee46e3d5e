"""``tessera-serve register RUN_DIR...`` and ``tessera-serve import-by-reference``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import tessera_serving as api
from tessera_serving.cli._common import add_config_arguments, config_from_args


def add_parser(subparsers: Any) -> None:
    register = subparsers.add_parser(
        "register",
        help="register run directories (one model version per model name)",
        description=(
            "Check each run directory (run.json, spec.yaml, model.txt) and register it. "
            "runs/<name> also picks up a per-category set runs/<name>--<cell>. Idempotent."
        ),
    )
    register.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR")
    register.add_argument("--name", help="model name (default: the run's name)")
    register.add_argument(
        "--allow-unknown-schema",
        action="store_true",
        help="register even if no live feature schema has the run's schema_sha",
    )
    register.add_argument(
        "--json", action="store_true", help="print the registered versions as JSON"
    )
    register.add_argument(
        "--compile",
        action="store_true",
        help="also compile and verify each booster for the fast backend now (see `compile`)",
    )
    add_config_arguments(register)
    register.set_defaults(func=_register)

    reference = subparsers.add_parser(
        "import-by-reference",
        help="register a booster already in the artifact store, with its run.json",
    )
    reference.add_argument("--uri", required=True, help="the booster's URI in the artifact store")
    reference.add_argument("--sha256", required=True, help="the booster's sha256")
    reference.add_argument("--run-json", required=True, type=Path, help="the run's run.json")
    reference.add_argument("--spec", type=Path, help="the run's spec.yaml (optional)")
    reference.add_argument("--name", help="model name (default: the run's name)")
    reference.add_argument("--allow-unknown-schema", action="store_true")
    add_config_arguments(reference)
    reference.set_defaults(func=_import)


def _register(args: argparse.Namespace) -> int:
    with api.open_registry(config_from_args(args)) as registry:
        results = api.register_runs(
            registry,
            args.run_dirs,
            name=args.name,
            allow_unknown_schema=args.allow_unknown_schema,
        )
        if args.json:
            print(json.dumps({"registered": [r.to_plain() for r in results]}, sort_keys=True))
        else:
            for result in results:
                print(result.describe())
        if not args.compile:
            return 0
        from tessera_serving import precompile
        from tessera_serving.cli.compile import report

        outcomes = [o for r in results for o in precompile(registry, f"{r.name}#{r.version}")]
    return report(outcomes, as_json=args.json)


def _import(args: argparse.Namespace) -> int:
    with api.open_registry(config_from_args(args)) as registry:
        result = api.import_by_reference(
            registry,
            uri=args.uri,
            sha256=args.sha256,
            run_json=args.run_json,
            spec_yaml=args.spec,
            name=args.name,
            allow_unknown_schema=args.allow_unknown_schema,
        )
    print(result.describe())
    return 0
