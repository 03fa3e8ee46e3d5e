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

import tessera_serving as api
from tessera_serving.cli._common import (
    STAGE_CHOICES,
    add_config_arguments,
    add_event_arguments,
    config_from_args,
    event_level,
    positive_int_error,
    usage_error,
)

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
        description="Score a candidates Parquet file; rows the guard refuses keep base_score. "
        "Given a directory or glob (local or s3://) and an output directory, every Parquet "
        "partition is scored as one job, partitions in parallel (a Dask cluster with --dask, "
        "else a local process pool); a rerun completes only the partitions not yet committed.",
    )
    parser.add_argument(
        "--model",
        required=True,
        metavar="REF",
        help="NAME (= NAME@production), NAME@stage or NAME#VERSION (any stage, recorded)",
    )
    parser.add_argument(
        "--input", required=True, metavar="PARQUET|DIR|GLOB", help="a file, or partitions"
    )
    parser.add_argument(
        "--output", required=True, metavar="PARQUET|DIR", help="a file, or a directory"
    )
    _add_partition_arguments(parser)
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
        choices=STAGE_CHOICES,
        metavar="STAGE",
        help=f"refuse (fall back) unless the model is in this stage: {', '.join(STAGE_CHOICES)}",
    )
    parser.add_argument(
        "--fail-on-fallback",
        action="store_true",
        help=f"exit {EXIT_FALLBACK} if any row fell back (after writing)",
    )
    parser.add_argument("--json", action="store_true", help="print the job summary as JSON")
    add_backend_arguments(parser)
    add_event_arguments(parser)
    add_config_arguments(parser)
    parser.set_defaults(func=_run)


def _add_partition_arguments(parser: Any) -> None:
    """Where the partitions of a directory or glob input are scored."""
    parser.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="score partitions on this Dask scheduler (tcp://HOST:8786), or 'local' for a "
        "local cluster (needs tessera-serving[dask])",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        metavar="N",
        help="workers of the local cluster or process pool for partitions (default 2)",
    )
    parser.add_argument(
        "--allow-split-queries",
        action="store_true",
        help="partitioned input: rank a query whose rows sit in several partitions within "
        "each of them instead of refusing the job (recorded as a job event)",
    )


def check_backend_flags(args: argparse.Namespace) -> str | None:
    """A usage error for ``--threads``/``--batch-size`` below 1, then ``$TESSERA_NUM_THREADS``.

    Returns the one-line usage error, or None; a bad environment variable raises
    ``ConfigurationError`` naming it (checked before any job is created).
    """
    from tessera_serving import resolve_num_threads

    problem = positive_int_error(args, "threads", "batch_size")
    if problem is None and args.threads is None:
        resolve_num_threads(None)
    return problem


def _run(args: argparse.Namespace) -> int:
    if (problem := check_backend_flags(args)) is not None:
        return usage_error(problem)
    api.configure(event_stream=sys.stderr, event_level=event_level(args))
    schema = (
        None if args.feature_schema is None else api.read_feature_schema_file(args.feature_schema)
    )
    options = api.ScoreOptions(
        require_stage=args.require_stage,
        feature_schema=schema,
        batch_size=args.batch_size,
        backend=args.backend,
        num_threads=args.threads,
        store=args.store,
    )
    partitioned = args.dask is not None or api.is_partitioned_input(args.input)
    with api.open_registry(config_from_args(args)) as registry:
        if partitioned:  # the partition machinery (fsspec, process pool) loads only here
            result: Any = api.run_partitioned_job(
                registry, args.model, args.input, args.output, options,
                dask=args.dask, workers=args.workers,
                allow_split_queries=args.allow_split_queries,
            )  # fmt: skip
        else:
            result = api.run_score_job(
                registry, args.model, Path(args.input), Path(args.output), options
            )
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
        counts = ", ".join(f"{v} {k}" for k, v in result.counts.items() if isinstance(v, int) and v)
        print(f"job {result.job_id}: {result.rows} rows ({counts}) -> {args.output}")
    if args.fail_on_fallback and result.fallback_rows:
        print(
            f"tessera-serve: {result.fallback_rows} row(s) fell back to base_score "
            f"(--fail-on-fallback); see `tessera-serve events {result.job_id}`",
            file=sys.stderr,
        )
        return EXIT_FALLBACK
    return 0
