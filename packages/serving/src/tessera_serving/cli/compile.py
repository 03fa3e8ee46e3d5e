"""``tessera-serve compile REF``: compile a registered model's boosters ahead of scoring.

Builds (or finds) each booster's compiled object in the artifact store's compile cache,
verified against LightGBM on the probe sample, so the first ``score`` does not pay the
compile (seconds to minutes for large forests). Prints one line (or JSON object) per
booster: ``compiled`` with ``built``/``hit``, or ``fallback`` with the reason. Exit codes:
0 all compiled; 1 error; 3 some booster will be served by LightGBM (see the reason).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from tessera_serving.config import add_config_arguments, config_from_args

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


def _run(args: argparse.Namespace) -> int:
    from tessera_serving.backends import select_predictor
    from tessera_serving.guard import ModelCell
    from tessera_serving.registry import open_registry

    config = config_from_args(args)
    fell_back = False
    with open_registry(config) as registry:
        cells = [ModelCell.from_row(row) for row in registry.resolve_model(args.model).rows]
        for cell in cells:
            text = registry.store.read_bytes(cell.artifact_sha256).decode("utf-8")
            selection = select_predictor(
                text,
                backend="compiled",
                num_threads=args.threads,
                model_sha256=cell.artifact_sha256,
                store=registry.store,
                cache_dir=config.state_dir / "compiled",
            )
            event = selection.events[0]
            fell_back = fell_back or event.name == "backend.fallback"
            if args.json:
                print(json.dumps({"model": cell.ref, "event": event.name, **event.fields}))
            elif event.name == "backend.compiled":
                f = event.fields
                seconds = f["compile_seconds"] if f["cache"] == "built" else f["load_seconds"]
                print(
                    f"{cell.ref}: compiled ({f['cache']}, {seconds:.2f}s; "
                    f"max abs diff vs LightGBM {f['max_abs_diff']:.3g} on "
                    f"{f['sample_rows']} probe rows)"
                )
            else:
                reason = f"{event.fields['reason']}: {event.fields['detail']}"
                print(f"{cell.ref}: LightGBM serves it ({reason})")
    return EXIT_FALLBACK if fell_back else 0
