"""``tessera-lab dataset synth|import|validate``: make and check datasets from the shell."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tessera_contracts import ManifestV1
from tessera_lab.dataset import synth_dataset
from tessera_lab.dataset.validate import validate_dataset


def _summary(out: Path, manifest: ManifestV1) -> str:
    files = manifest.files
    return (
        f"wrote {out}: dataset {manifest.name!r}, train {files['train.parquet'].rows} rows, "
        f"eval {files['eval.parquet'].rows} rows, {len(manifest.feature_columns)} features in "
        f"{len(manifest.feature_schema)} families, schema_sha {manifest.schema_sha}"
    )


def _synth(args: argparse.Namespace) -> int:
    manifest = synth_dataset(
        args.out,
        rows=args.rows,
        queries=args.queries,
        seed=args.seed,
        name=args.name,
        label_kind=args.label_kind,
        eval_fraction=args.eval_fraction,
        snapshot_pairs=args.snapshot_pairs,
    )
    print(_summary(args.out, manifest))
    return 0


def _validate(args: argparse.Namespace) -> int:
    problems = validate_dataset(args.path)
    if problems:
        for problem in problems:
            print(f"{args.path}: {problem}", file=sys.stderr)
        print(f"tessera-lab: {len(problems)} problem(s) in {args.path}", file=sys.stderr)
        return 1
    print(f"ok: {args.path} matches its manifest")
    return 0


def _add_synth(sub: Any) -> None:
    p = sub.add_parser(
        "synth",
        help="generate a seeded synthetic re-ranking dataset",
        description="Generate a realistic, seeded re-ranking dataset in the contract layout.",
    )
    p.add_argument("out", type=Path, help="output directory (must not exist)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--rows", type=int, default=20_000, help="total rows (default 20000)")
    size.add_argument("--queries", type=int, help="total queries instead of rows")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--name", help="dataset name in the manifest")
    p.add_argument("--label-kind", choices=["binary", "graded"], default="binary")
    p.add_argument("--eval-fraction", type=float, default=0.2, help="share of rows held out")
    p.add_argument("--snapshot-pairs", type=int, default=3, help="number of snapshot pairs (2-3)")
    p.set_defaults(func=_synth)


def _add_validate(sub: Any) -> None:
    p = sub.add_parser(
        "validate",
        help="check a dataset against its manifest; exit 1 on any problem",
        description="Recompute sha256, rows, bytes, columns, types and fingerprints, and check "
        "every row (contiguous queries, labels fit label_kind, finite base_score, weight >= 0).",
    )
    p.add_argument("path", type=Path, help="dataset directory")
    p.set_defaults(func=_validate)


def add_parser(subparsers: Any) -> None:
    """Register ``dataset`` and its subcommands."""
    parser = subparsers.add_parser(
        "dataset", help="make, import and validate datasets", description=__doc__
    )
    sub = parser.add_subparsers(dest="dataset_command", metavar="SUBCOMMAND", required=True)
    _add_synth(sub)
    _add_validate(sub)
