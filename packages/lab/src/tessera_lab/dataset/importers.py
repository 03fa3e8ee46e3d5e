"""``import_dataset``: bring LibSVM/LETOR text or Parquet/CSV tables into the contract layout.

See ``libsvm`` for the text conventions (``f{index}`` columns, ``.query``/``.weight``
side files, the input-order baseline) and ``tabular`` for named-column tables.
Category and snapshot pair are constants (defaults ``all`` and ``static``) or
columns; families come from a YAML mapping or default to one family ``features``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from tessera_contracts import ManifestV1, Producer
from tessera_lab.errors import DatasetError

from .checks import one_line
from .columns import LABEL_KINDS, REQUIRED_COLUMNS, WEIGHT, feature_columns
from .dense import dense_batches, scan_dense
from .families import load_family_mapping, resolve_families
from .libsvm import TextScan, libsvm_batches, read_side_file, scan_libsvm
from .tabular import ColumnMap, feature_candidates, label_values, table_batches, table_schema
from .validfile import ValidInput, train_then_valid
from .writer import write_dataset

TEXT_FORMATS = ("libsvm", "dense")
TABLE_FORMATS = ("parquet", "csv", "tsv")
INPUT_ORDER_SUFFIX = "base-input-order"
"""Appended to default dataset names when the base score is the input order."""


def _label_kind(requested: str, labels: set[int] | frozenset[int]) -> str:
    if requested == "auto":
        return "binary" if set(labels) <= {0, 1} else "graded"
    if requested not in LABEL_KINDS:
        raise DatasetError(f"label_kind must be auto, binary or graded, found {requested!r}")
    return requested


def _default_name(train: Path, input_order: bool) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", train.stem).strip("-._") or "imported"
    name = f"{stem}-{INPUT_ORDER_SUFFIX}" if input_order else stem
    return name[:128]


def _families(value: Mapping[str, Sequence[str]] | str | Path | None) -> Any:
    if value is None or isinstance(value, Mapping):
        return value
    return load_family_mapping(value)


def _select(batches: Iterator[pa.RecordBatch], keep: list[str]) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        yield batch.select([c for c in keep if c in batch.schema.names])


def _groups(
    scan: TextScan, explicit: Path | None, offset: int, one_query: bool
) -> np.ndarray[Any, Any] | None:
    """Query ids per row from a group file, or None when the file has ``qid:`` fields."""
    if one_query:
        if scan.has_qid or explicit is not None:
            raise DatasetError(f"{scan.path}: one_query conflicts with qid: fields / a group file")
        return np.full(scan.rows, offset, dtype=np.int64)
    if explicit is not None and scan.has_qid:
        raise DatasetError(
            f"{scan.path}: has 'qid:' fields and a group file {explicit} was given; drop one"
        )
    if explicit is None and scan.has_qid:
        return None
    group_file = explicit or Path(f"{scan.path}.query")
    if not group_file.is_file():
        raise DatasetError(
            f"{scan.path}: no 'qid:' fields and no group file {group_file}; "
            "give the split's group file, or make each split one query"
        ).fixed_by("train_query", "eval_query", "valid_query", "one_query")
    sizes = read_side_file(group_file, scan.rows, "query")
    return np.repeat(np.arange(offset, offset + sizes.size, dtype=np.int64), sizes)


def _same_id_kinds(scans: list[TextScan]) -> None:
    """Candidate ids come from every file's docids or none; query ids share one type."""
    with_docid = [s.path for s in scans if s.has_docid]
    if with_docid and len(with_docid) != len(scans):
        without = next(s.path for s in scans if not s.has_docid)
        raise DatasetError(
            f"{without}: has no '#docid = ...' comments but {with_docid[0]} does; candidate "
            "ids must come from every file or none (remove the comments or add them)"
        )
    if len({s.int_qids for s in scans if s.has_qid}) > 1:
        for scan in scans:
            scan.int_qids = False  # one file has string qids: every file's become strings


def _train_source(train: Path, valid: ValidInput | None) -> str:
    """How errors name train.parquet's input: the train file, then the validation file."""
    return str(train) if valid is None else f"{train} followed by {valid.path}"


def _weights(scan: TextScan, explicit: Path | None) -> np.ndarray[Any, Any] | None:
    weight_file = explicit or Path(f"{scan.path}.weight")
    if explicit is None and not weight_file.is_file():
        return None
    return read_side_file(weight_file, scan.rows, "weight")


def import_text(
    out_dir: str | Path,
    *,
    train: str | Path,
    eval: str | Path,
    text_format: str = "libsvm",
    one_query: bool = False,
    name: str | None = None,
    train_query: str | Path | None = None,
    eval_query: str | Path | None = None,
    train_weight: str | Path | None = None,
    eval_weight: str | Path | None = None,
    families: Mapping[str, Sequence[str]] | str | Path | None = None,
    drop_unmapped: bool = False,
    category: str = "all",
    snapshot_pair: str = "static",
    base_score_col: str | None = None,
    label_kind: str = "auto",
    producer: Producer | None = None,
    created_at: datetime | None = None,
    valid: ValidInput | None = None,
) -> ManifestV1:
    """Import LibSVM/LETOR (``libsvm``) or headerless delimited (``dense``) text files.

    See ``tessera_lab.dataset.libsvm`` and ``.dense`` for the column conventions;
    ``one_query`` makes each split one query (for data without queries); ``valid`` adds a
    validation file's rows to ``train.parquet`` under their own snapshot pair.
    """
    if text_format not in TEXT_FORMATS:
        raise DatasetError(f"unknown text format {text_format!r}: expected {list(TEXT_FORMATS)}")
    scan_file = scan_libsvm if text_format == "libsvm" else scan_dense
    scans = [scan_file(Path(train)), scan_file(Path(eval))]
    if valid is not None:
        scans.append(scan_file(valid.path))
    _same_id_kinds(scans)
    low = [s.min_index for s in scans if s.min_index is not None]
    high = [s.max_index for s in scans if s.max_index is not None]
    if not high:
        raise DatasetError(f"{scans[0].path}: no features in either file")
    first = min(1, *low) if text_format == "libsvm" else 0
    last = max(high)
    names = [f"f{i}" for i in range(first, last + 1)]
    schema = resolve_families(
        names,
        _families(families),
        source=str(families or scans[0].path),
        drop_unmapped=drop_unmapped,
    )
    if base_score_col is not None and base_score_col not in names:
        raise DatasetError(
            f"{scans[0].path}: base score column {base_score_col!r} is not a feature column "
            f"(they run f{first}..f{last})"
        ).fixed_by("base_score_col")
    group_files = [train_query, eval_query, valid.query if valid else None]
    weight_files = [train_weight, eval_weight, valid.weight if valid else None]
    ids: dict[int, np.ndarray[Any, Any] | None] = {}
    offset = 0
    for i in (0, 2, 1) if valid is not None else (0, 1):  # valid's query ids follow train's
        group_file = group_files[i]
        found = _groups(scans[i], Path(group_file) if group_file else None, offset, one_query)
        ids[i] = found
        offset = offset if found is None else int(found[-1]) + 1
    weights = [
        _weights(scan, Path(f) if f else None) for scan, f in zip(scans, weight_files, strict=False)
    ]
    for scan, w in zip(scans[1:], weights[1:], strict=True):
        if (weights[0] is None) != (w is None):
            with_w = scans[0].path if weights[0] is not None else scan.path
            other = scan.path if weights[0] is not None else scans[0].path
            raise DatasetError(f"{with_w}: has a weight file but {other} has none")
    keep = [*REQUIRED_COLUMNS, WEIGHT, *feature_columns(schema)]
    streams = [
        _select(
            _text_batches(
                scan,
                first_index=first,
                last_index=last,
                query_ids=scan_ids,
                weights=w,
                category=category,
                snapshot_pair=snapshot_pair,
                base_score_column=base_score_col,
            ),
            keep,
        )
        for scan, scan_ids, w in zip(
            scans, [ids[i] for i in range(len(scans))], weights, strict=True
        )
    ]
    train_stream = streams[0]
    if valid is not None:
        train_stream = train_then_valid(
            streams[0], streams[2], train_path=scans[0].path, valid=valid
        )
    return write_dataset(
        out_dir,
        name=name or _default_name(Path(train), base_score_col is None),
        train=train_stream,
        eval=streams[1],
        feature_schema=schema,
        label_kind=_label_kind(label_kind, scans[0].labels | scans[1].labels),
        sources={"train": _train_source(scans[0].path, valid), "eval": str(scans[1].path)},
        producer=producer,
        created_at=created_at,
    )


def _text_batches(
    scan: TextScan, *, query_ids: np.ndarray[Any, Any] | None, **options: Any
) -> Iterator[pa.RecordBatch]:
    if scan.dense:
        assert query_ids is not None  # dense text has no qid: fields
        return dense_batches(scan, query_ids=query_ids, **options)
    return libsvm_batches(scan, query_ids=query_ids, **options)


def import_table(
    out_dir: str | Path,
    *,
    train: str | Path,
    eval: str | Path,
    columns: ColumnMap,
    name: str | None = None,
    families: Mapping[str, Sequence[str]] | str | Path | None = None,
    drop_unmapped: bool = False,
    exclude: Sequence[str] = (),
    label_kind: str = "auto",
    producer: Producer | None = None,
    created_at: datetime | None = None,
    valid: ValidInput | None = None,
) -> ManifestV1:
    """Import Parquet/CSV/TSV train and eval tables with named columns; ``valid`` adds a
    validation table's rows to ``train.parquet`` under their own snapshot pair."""
    paths = [Path(train), Path(eval), *([valid.path] if valid is not None else [])]
    candidates = [feature_candidates(p, table_schema(p), columns, exclude) for p in paths]
    for path, found in zip(paths[1:], candidates[1:], strict=True):
        if found != candidates[0]:
            missing = sorted(set(candidates[0]) ^ set(found))
            raise DatasetError(
                f"{path}: feature columns differ from {paths[0]} (e.g. {missing[:1]!r})"
            )
    schema = resolve_families(
        candidates[0],
        _families(families),
        source=str(families or paths[0]),
        drop_unmapped=drop_unmapped,
    )
    kind = label_kind
    if kind == "auto":
        kind = _label_kind("auto", set().union(*(label_values(p, columns.label) for p in paths)))
    features = feature_columns(schema)
    train_stream = table_batches(paths[0], columns, features)
    if valid is not None:
        valid_stream = table_batches(valid.path, columns, features)
        train_stream = train_then_valid(
            train_stream, valid_stream, train_path=paths[0], valid=valid
        )
    return write_dataset(
        out_dir,
        name=name or _default_name(paths[0], columns.base_score is None),
        train=train_stream,
        eval=table_batches(paths[1], columns, features),
        feature_schema=schema,
        label_kind=_label_kind(kind, set()),
        sources={"train": _train_source(paths[0], valid), "eval": str(paths[1])},
        producer=producer,
        created_at=created_at,
    )


def detect_format(path: str | Path) -> str:
    """``parquet``/``csv``/``tsv`` by suffix; otherwise text: ``libsvm`` if the first data
    line has ``index:value`` tokens, else ``dense`` (headerless, label first)."""
    suffix = Path(path).suffix.lower()
    table = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "tsv"}.get(suffix)
    if table is not None:
        return table
    try:
        with Path(path).open(encoding="utf-8") as handle:
            first = next((line for line in handle if line.split("#", 1)[0].strip()), "")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read: {one_line(exc)}") from exc
    tokens = first.split("#", 1)[0].replace(",", " ").split()
    return "libsvm" if len(tokens) < 2 or ":" in tokens[1] or ":" in tokens[-1] else "dense"


def import_dataset(
    out_dir: str | Path,
    *,
    train: str | Path,
    eval: str | Path,
    format: str = "auto",
    columns: ColumnMap | None = None,
    **options: Any,
) -> ManifestV1:
    """Import ``train`` and ``eval`` files; ``format`` is auto (by suffix), libsvm or a table.

    Tables need ``columns`` (at least the query and label columns); the remaining
    keyword options are those of ``import_libsvm`` / ``import_table``.
    """
    fmt = detect_format(train) if format == "auto" else format
    if fmt in TEXT_FORMATS:
        if columns is not None:
            raise DatasetError(f"{train}: named columns do not apply to LibSVM text input")
        return import_text(out_dir, train=train, eval=eval, text_format=fmt, **options)
    if fmt not in TABLE_FORMATS:
        raise DatasetError(
            f"unknown import format {fmt!r}: expected auto, libsvm, dense, parquet, csv or tsv"
        )
    if columns is None:
        raise DatasetError(
            f"{train}: table input needs a query column and a label column"
        ).fixed_by("query_col", "label_col")
    return import_table(out_dir, train=train, eval=eval, columns=columns, **options)
