"""``tessera-lab dataset synth|import|validate``: make and check datasets from the shell."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tessera_lab as lab
from tessera_lab.errors import DatasetError

if TYPE_CHECKING:
    from tessera_contracts import ManifestV1

TEXT_ONLY = ("train_query", "eval_query", "train_weight", "eval_weight", "one_query")
TABLE_ONLY = (
    "query_col",
    "label_col",
    "candidate_col",
    "weight_col",
    "category_col",
    "snapshot_col",
    "exclude",
)


# lab.DEFAULT_VALID_PAIR as a literal, so building the parser loads no dataset module;
# tests/test_cli.py checks the two agree.
VALID_PAIR_DEFAULT = "valid"


def _summary(out: Path, manifest: ManifestV1) -> str:
    files = manifest.files
    return (
        f"wrote {out}: dataset {manifest.name!r}, snapshot pairs {manifest.snapshot_pairs}, "
        f"train {files['train.parquet'].rows} rows, "
        f"eval {files['eval.parquet'].rows} rows, {len(manifest.feature_columns)} features in "
        f"{len(manifest.feature_schema)} families, schema_sha {manifest.schema_sha}"
    )


def _synth(args: argparse.Namespace) -> int:
    manifest = lab.synth_dataset(
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


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _valid_input(args: argparse.Namespace, fmt: str) -> lab.ValidInput | None:
    """The validation file and its options; its flags without ``--valid`` are an error."""
    if args.valid is None:
        given = [
            n for n in ("valid_query", "valid_weight", "valid_snapshot_pair") if getattr(args, n)
        ]
        if given:
            raise DatasetError(f"{_flag(given[0])} needs --valid FILE (the validation rows)")
        return None
    if fmt not in ("libsvm", "dense") and (args.valid_query or args.valid_weight):
        used = "valid_query" if args.valid_query else "valid_weight"
        raise DatasetError(f"{args.valid}: {_flag(used)} applies to LibSVM text only")
    pair = args.valid_snapshot_pair or lab.DEFAULT_VALID_PAIR
    if pair == (args.snapshot_pair or "static"):
        raise DatasetError(
            f"--valid-snapshot-pair {pair!r} is also the training rows' snapshot pair; "
            "give the validation rows their own name"
        )
    return lab.ValidInput(args.valid, args.valid_query, args.valid_weight, pair)


def _import(args: argparse.Namespace) -> int:
    fmt = lab.detect_format(args.train) if args.format == "auto" else args.format
    common: dict[str, Any] = {
        "name": args.name,
        "families": args.families,
        "drop_unmapped": args.drop_unmapped,
        "label_kind": args.label_kind,
        "valid": _valid_input(args, fmt),
    }
    if fmt in ("libsvm", "dense"):
        used = [n for n in TABLE_ONLY if getattr(args, n)]
        if used:
            raise DatasetError(f"{args.train}: {_flag(used[0])} applies to table input only")
        if args.category_col or args.snapshot_col:
            raise DatasetError(f"{args.train}: LibSVM text has no named columns")
        manifest = lab.import_dataset(
            args.out,
            train=args.train,
            eval=args.eval,
            format=fmt,
            category=args.category or "all",
            snapshot_pair=args.snapshot_pair or "static",
            base_score_col=args.base_score_col,
            **{n: getattr(args, n) for n in TEXT_ONLY},
            **common,
        )
    else:
        used = [n for n in TEXT_ONLY if getattr(args, n)]
        if used:
            raise DatasetError(f"{args.train}: {_flag(used[0])} applies to LibSVM text only")
        if not args.query_col or not args.label_col:
            raise DatasetError(f"{args.train}: table input needs --query-col and --label-col")
        for const, col in (("category", "category_col"), ("snapshot_pair", "snapshot_col")):
            if getattr(args, const) and getattr(args, col):
                raise DatasetError(f"give {_flag(const)} or {_flag(col)}, not both")
        columns = lab.ColumnMap(
            query=args.query_col,
            label=args.label_col,
            candidate=args.candidate_col,
            base_score=args.base_score_col,
            weight=args.weight_col,
            category=args.category_col,
            category_value=args.category or "all",
            snapshot_pair=args.snapshot_col,
            snapshot_pair_value=args.snapshot_pair or "static",
        )
        manifest = lab.import_dataset(
            args.out,
            train=args.train,
            eval=args.eval,
            format=fmt,
            columns=columns,
            exclude=args.exclude or (),
            **common,
        )
    print(_summary(args.out, manifest))
    return 0


def _validate(args: argparse.Namespace) -> int:
    problems = lab.validate_dataset(args.path)
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


IMPORT_EPILOG = """\
LibSVM/LETOR text: 'label [qid:Q] index:value ...'. Feature index i becomes column
f{i}, as LightGBM's own loader numbers them (the LightGBM rank.train example has
indices 1..300, so columns f1..f300; f0 exists only if index 0 occurs); an absent
index is 0.0. Queries come from qid: fields or a group file (default <data>.query
beside the data); <data>.weight beside the data becomes the weight column.
Without --base-score-col the base score is -(position in its query): the baseline
ordering is then the input order, and the default dataset name ends in
'-base-input-order' to say so. Parquet/CSV/TSV tables need --query-col and
--label-col; other numeric columns are features. Dense headerless text (LightGBM's
binary.train): label in file column 0, file column j >= 1 becomes f{j-1} (LightGBM's
numbering); use --one-query when the data has no queries. Without --families every feature
goes to one family 'features'; a families YAML maps 'family: [column, ...]'. A LETOR
comment '#docid = ID' on every line becomes candidate_id (otherwise the row number).
--valid FILE (same format as --train) adds a published fold's validation rows to
train.parquet under snapshot pair 'valid' (--valid-snapshot-pair); their queries must not
occur in the train file. A spec then early-stops on them with
'validation: {snapshot_pairs: [valid]}' and never trains on them.
"""


def _add_import(sub: Any) -> None:
    p = sub.add_parser(
        "import",
        help="import LibSVM/LETOR text or Parquet/CSV tables as a dataset",
        description="Import a train file and an eval file into the dataset layout.",
        epilog=IMPORT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("out", type=Path, help="output directory (must not exist)")
    p.add_argument("--train", type=Path, required=True, help="training rows")
    p.add_argument("--eval", type=Path, required=True, help="held-out evaluation rows")
    p.add_argument(
        "--valid",
        type=Path,
        help="validation rows (a published fold's vali file): written into train.parquet "
        "under their own snapshot pair, for a spec's validation: {snapshot_pairs: [valid]}",
    )
    p.add_argument(
        "--valid-snapshot-pair",
        help=f"snapshot pair of the validation rows (default {VALID_PAIR_DEFAULT!r})",
    )
    p.add_argument(
        "--format",
        choices=["auto", "libsvm", "dense", "parquet", "csv", "tsv"],
        default="auto",
        help="input format (auto: by suffix; other files are LibSVM if they hold "
        "index:value tokens, else dense headerless text, label first)",
    )
    p.add_argument("--name", help="dataset name (default from the train file name)")
    p.add_argument("--families", type=Path, help="YAML mapping family -> [columns]")
    p.add_argument(
        "--drop-unmapped",
        action="store_true",
        help="leave out feature columns the families YAML does not map",
    )
    p.add_argument("--label-kind", choices=["auto", "binary", "graded"], default="auto")
    p.add_argument("--category", help="category of every row (default 'all')")
    p.add_argument("--snapshot-pair", help="snapshot pair of every row (default 'static')")
    p.add_argument("--base-score-col", help="column (LibSVM: fN) holding the base score")
    text = p.add_argument_group("LibSVM text")
    text.add_argument("--train-query", type=Path, help="group file of the train data")
    text.add_argument("--eval-query", type=Path, help="group file of the eval data")
    text.add_argument("--valid-query", type=Path, help="group file of the validation data")
    text.add_argument(
        "--one-query", action="store_true", help="each split is one query (data without queries)"
    )
    text.add_argument("--train-weight", type=Path, help="weight file of the train data")
    text.add_argument("--eval-weight", type=Path, help="weight file of the eval data")
    text.add_argument("--valid-weight", type=Path, help="weight file of the validation data")
    table = p.add_argument_group("Parquet/CSV/TSV tables")
    table.add_argument("--query-col", help="query id column")
    table.add_argument("--label-col", help="label column")
    table.add_argument("--candidate-col", help="candidate id column (default: row number)")
    table.add_argument("--weight-col", help="weight column")
    table.add_argument("--category-col", help="category column")
    table.add_argument("--snapshot-col", help="snapshot pair column")
    table.add_argument("--exclude", action="append", metavar="COL", help="column to leave out")
    p.set_defaults(func=_import)


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
    _add_import(sub)
    _add_validate(sub)
