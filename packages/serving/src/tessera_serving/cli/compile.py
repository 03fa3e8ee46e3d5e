"""``tessera-serve compile REF``: compile a registered model's boosters ahead of scoring.

Prints one line (or JSON object) per booster: ``compiled`` with ``built``/``hit``, or the
reason LightGBM will serve it. Exit codes: 0 all compiled; 1 error; 3 some booster will be
served by LightGBM (see the reason). ``register --compile`` does the same after registering.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from tessera_serving.cli._common import add_config_arguments, config_from_args

EXIT_FALLBACK = 3


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "compile",
        help="compile a registered model for the fast scoring backend (cached, verified)",
        description="Compile each booster of a registered model with lleaves and verify it "
        "against LightGBM; the result is cached in the artifact store for every later score.",
    )
    parser.add_argument("model", metavar="REF", help="NAME (latest), NAME@stage or NAME#VERSION")
    parser.add_argument(
        "--threads", type=int, default=None, metavar="N", help="threads for the verification"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per booster")
    add_config_arguments(parser)
    parser.set_defaults(func=_run)


def report(outcomes: list[Any], *, as_json: bool) -> int:
    """Print each ``Precompiled`` outcome; the exit code (3 when any booster fell back)."""
    for outcome in outcomes:
        print(json.dumps(outcome.as_json()) if as_json else outcome.describe())
    return 0 if all(o.compiled for o in outcomes) else EXIT_FALLBACK


def _run(args: argparse.Namespace) -> int:
    from tessera_serving import open_registry, precompile

    with open_registry(config_from_args(args)) as registry:
        return report(precompile(registry, args.model, num_threads=args.threads), as_json=args.json)
