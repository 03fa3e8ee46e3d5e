"""``tessera-serve score``: apply a registered model to a candidates Parquet file, guarded.

Exit codes: 0 done; 1 error (nothing written); 3 ``--fail-on-fallback`` and some rows fell
back to ``base_score`` (the output file and the job's events are written first).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tessera_serving import configure
from tessera_serving.cli._common import add_config_arguments, config_from_args

EXIT_FALLBACK = 3
# Literals so ``--help`` does not import LightGBM; a test checks them against the backends.
BACKEND_CHOICES = ("auto", "lightgbm", "compiled")
DEFAULT_BACKEND = "auto"
DEFAULT_BATCH_SIZE = 65_536


def add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    """``--backend`` and ``--threads`` (passed through to ``load_predictor``)."""
    parser.add_argument(
        "--backend",
        choices=BACKEND_CHOICES,
        default=DEFAULT_BACKEND,
        help=f"scoring backend (default {DEFAULT_BACKEND})",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="threads for the booster (default: the backends' thread policy)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH_SIZE,
        metavar="N",
        help=f"rows per record batch (default {DEFAULT_BATCH_SIZE})",
    )


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "score",
        help="score candidates with a registered model behind the feature-schema guard",
        description="Score a candidates Parquet file; rows the guard refuses keep base_score.",
    )
    parser.add_argument(
        "--model", required=True, metavar="REF", help="NAME (latest), NAME@stage or NAME#VERSION"
    )
    parser.add_argument("--input", required=True, type=Path, metavar="PARQUET")
    parser.add_argument("--output", required=True, type=Path, metavar="PARQUET")
    parser.add_argument(
        "--store",
        action="store_true",
        help="also keep current scores + audit in the registry (and the input "
        "in the artifact store, for rescore)",
    )
    parser.add_argument(
        "--feature-schema",
        type=Path,
        metavar="FILE",
        help="JSON/YAML family -> columns (default: the input's Arrow metadata)",
    )
    parser.add_argument(
        "--require-stage",
        metavar="STAGE",
        help="refuse (fall back) unless the model is in this stage",
    )
    parser.add_argument(
        "--fail-on-fallback",
        action="store_true",
        help=f"exit {EXIT_FALLBACK} if any row fell back (after writing)",
    )
    parser.add_argument("--json", action="store_true", help="print the job summary as JSON")
    add_backend_arguments(parser)
    add_config_arguments(parser)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from tessera_serving import ScoreOptions, open_registry, read_feature_schema_file, run_score_job

    configure(event_stream=sys.stderr)
    schema = None if args.feature_schema is None else read_feature_schema_file(args.feature_schema)
    options = ScoreOptions(
        require_stage=args.require_stage,
        feature_schema=schema,
        batch_size=args.batch_size,
        backend=args.backend,
        num_threads=args.threads,
        store=args.store,
    )
    with open_registry(config_from_args(args)) as registry:
        result = run_score_job(registry, args.model, args.input, args.output, options)
    summary = {
        "job_id": result.job_id,
        "rows": result.rows,
        "counts": result.counts,
        "output": str(args.output),
        "events": [e.name for e in result.events],
    }
    if args.json:
        print(json.dumps(summary, sort_keys=True))
    else:
        counts = ", ".join(f"{v} {k}" for k, v in result.counts.items())
        print(f"job {result.job_id}: {result.rows} rows ({counts}) -> {args.output}")
    if args.fail_on_fallback and result.fallback_rows:
        print(
            f"tessera-serve: {result.fallback_rows} row(s) fell back to base_score "
            f"(--fail-on-fallback); see `tessera-serve events {result.job_id}`",
            file=sys.stderr,
        )
        return EXIT_FALLBACK
    return 0
