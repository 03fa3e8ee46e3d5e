"""``import_text``: LibSVM/LETOR or headerless dense text files into the contract layout.

See ``libsvm`` and ``dense`` for the column conventions (``f{index}`` columns,
``.query``/``.weight`` side files, the input-order baseline); query ids come from
``qid:`` fields, a group file per split, or one query per split.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from tessera_contracts import ManifestV1, Producer
from tessera_lab.errors import DatasetError

from .columns import REQUIRED_COLUMNS, WEIGHT, feature_columns
from .dense import dense_batches, scan_dense
from .families import resolve_families
from .import_rules import default_name, family_mapping, resolve_label_kind, train_source
from .libsvm import TextScan, libsvm_batches, read_side_file, scan_libsvm
from .validfile import ValidInput, train_then_valid
from .writer import write_dataset

TEXT_FORMATS = ("libsvm", "dense")

Ids = np.ndarray[Any, Any]


def _select(batches: Iterator[pa.RecordBatch], keep: list[str]) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        yield batch.select([c for c in keep if c in batch.schema.names])


def _groups(scan: TextScan, explicit: Path | None, offset: int, one_query: bool) -> Ids | None:
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


def _weights(scan: TextScan, explicit: Path | None) -> Ids | None:
    weight_file = explicit or Path(f"{scan.path}.weight")
    if explicit is None and not weight_file.is_file():
        return None
    return read_side_file(weight_file, scan.rows, "weight")


def _scan_all(text_format: str, paths: list[Path]) -> list[TextScan]:
    """Scan train, eval (and validation) files in one text format, ids of one kind."""
    if text_format not in TEXT_FORMATS:
        raise DatasetError(f"unknown text format {text_format!r}: expected {list(TEXT_FORMATS)}")
    scan_file = scan_libsvm if text_format == "libsvm" else scan_dense
    scans = [scan_file(path) for path in paths]
    _same_id_kinds(scans)
    return scans


def _index_range(scans: list[TextScan], text_format: str) -> tuple[int, int]:
    """First and last feature index over all files (LibSVM numbering starts at most at 1)."""
    low = [s.min_index for s in scans if s.min_index is not None]
    high = [s.max_index for s in scans if s.max_index is not None]
    if not high:
        raise DatasetError(f"{scans[0].path}: no features in either file")
    first = min(1, *low) if text_format == "libsvm" else 0
    return first, max(high)


def _feature_schema(
    source: Path,
    first: int,
    last: int,
    families: Mapping[str, Sequence[str]] | str | Path | None,
    drop_unmapped: bool,
    base_score_col: str | None,
) -> dict[str, list[str]]:
    """Columns ``f{first}..f{last}`` grouped into families; the base score must be one."""
    names = [f"f{i}" for i in range(first, last + 1)]
    schema = resolve_families(
        names,
        family_mapping(families),
        source=str(families or source),
        drop_unmapped=drop_unmapped,
    )
    if base_score_col is not None and base_score_col not in names:
        raise DatasetError(
            f"{source}: base score column {base_score_col!r} is not a feature column "
            f"(they run f{first}..f{last})"
        ).fixed_by("base_score_col")
    return schema


def _query_ids(
    scans: list[TextScan], group_files: list[str | Path | None], one_query: bool
) -> list[Ids | None]:
    """Per-split query ids (None: from ``qid:`` fields); validation ids follow train's."""
    ids: dict[int, Ids | None] = {}
    offset = 0
    for i in (0, 2, 1) if len(scans) == 3 else (0, 1):
        group_file = group_files[i]
        found = _groups(scans[i], Path(group_file) if group_file else None, offset, one_query)
        ids[i] = found
        offset = offset if found is None else int(found[-1]) + 1
    return [ids[i] for i in range(len(scans))]


def _split_weights(
    scans: list[TextScan], weight_files: list[str | Path | None]
) -> list[Ids | None]:
    """Per-split weights from side files; every split has weights or none does."""
    weights = [
        _weights(scan, Path(f) if f else None) for scan, f in zip(scans, weight_files, strict=False)
    ]
    for scan, w in zip(scans[1:], weights[1:], strict=True):
        if (weights[0] is None) != (w is None):
            with_w = scans[0].path if weights[0] is not None else scan.path
            other = scan.path if weights[0] is not None else scans[0].path
            raise DatasetError(f"{with_w}: has a weight file but {other} has none")
    return weights


def _text_batches(
    scan: TextScan, *, query_ids: Ids | None, **options: Any
) -> Iterator[pa.RecordBatch]:
    if scan.dense:
        assert query_ids is not None  # dense text has no qid: fields
        return dense_batches(scan, query_ids=query_ids, **options)
    return libsvm_batches(scan, query_ids=query_ids, **options)


def _split_streams(
    scans: list[TextScan],
    ids: list[Ids | None],
    weights: list[Ids | None],
    keep: list[str],
    **options: Any,
) -> list[Iterator[pa.RecordBatch]]:
    """One lazy batch stream per split, holding the required, weight and kept columns."""
    return [
        _select(_text_batches(scan, query_ids=scan_ids, weights=w, **options), keep)
        for scan, scan_ids, w in zip(scans, ids, weights, strict=True)
    ]


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
    scans = _scan_all(text_format, [Path(train), Path(eval), *([valid.path] if valid else [])])
    first, last = _index_range(scans, text_format)
    schema = _feature_schema(scans[0].path, first, last, families, drop_unmapped, base_score_col)
    ids = _query_ids(scans, [train_query, eval_query, valid.query if valid else None], one_query)
    weights = _split_weights(scans, [train_weight, eval_weight, valid.weight if valid else None])
    streams = _split_streams(
        scans,
        ids,
        weights,
        [*REQUIRED_COLUMNS, WEIGHT, *feature_columns(schema)],
        first_index=first,
        last_index=last,
        category=category,
        snapshot_pair=snapshot_pair,
        base_score_column=base_score_col,
    )
    train_stream = streams[0]
    if valid is not None:
        train_stream = train_then_valid(
            streams[0], streams[2], train_path=scans[0].path, valid=valid
        )
    return write_dataset(
        out_dir,
        name=name or default_name(Path(train), base_score_col is None),
        train=train_stream,
        eval=streams[1],
        feature_schema=schema,
        label_kind=resolve_label_kind(label_kind, scans[0].labels | scans[1].labels),
        sources={"train": train_source(scans[0].path, valid), "eval": str(scans[1].path)},
        producer=producer,
        created_at=created_at,
    )
