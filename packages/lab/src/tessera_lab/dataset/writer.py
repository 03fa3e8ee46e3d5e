"""``write_dataset``: stream train/eval batches to Parquet and write the manifest atomically.

The dataset appears at ``out_dir`` complete or not at all: everything is written
into a hidden temporary directory beside it, fsynced, then renamed. An existing
``out_dir`` is never touched.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.parquet as pq

from tessera_contracts import (
    FEATURE_SCHEMA_METADATA_KEY,
    FileEntry,
    ManifestV1,
    Producer,
    compute_feature_schema_sha,
    compute_schema_sha,
    sha256_file,
    to_json_text,
    validate_plain,
)
from tessera_lab.errors import DatasetError
from tessera_lab.provenance import lab_producer

from .checks import RowChecker
from .columns import (
    LABEL_KINDS,
    RESERVED_COLUMNS,
    WEIGHT,
    feature_schema_metadata,
    file_columns,
    ordered_feature_schema,
    split_filename,
)
from .normalize import BatchNormalizer

ROW_GROUP_SIZE = 128 * 1024
"""Rows per Parquet row group: large enough to compress well, small enough to stream."""
COMPRESSION: Final = "zstd"
MANIFEST_FILE = "manifest.json"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

SplitData = pa.Table | Iterable[pa.RecordBatch]


def _batches(data: SplitData, split: str) -> Iterator[pa.RecordBatch]:
    if isinstance(data, pa.Table):
        yield from data.to_batches(max_chunksize=ROW_GROUP_SIZE)
        return
    items: Iterable[object] = data
    for item in items:
        if isinstance(item, pa.RecordBatch):
            yield item
        elif isinstance(item, pa.Table):
            yield from item.to_batches(max_chunksize=ROW_GROUP_SIZE)
        else:
            raise DatasetError(
                f"{split} data must be a pyarrow Table or an iterable of RecordBatch, "
                f"found an item of type {type(item).__name__}"
            )


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_split(
    path: Path,
    batches: Iterator[pa.RecordBatch],
    normalize: BatchNormalizer,
    checker: RowChecker,
    row_group_size: int,
) -> FileEntry:
    writer: pq.ParquetWriter | None = None
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    try:
        for raw in batches:
            if raw.num_rows == 0:
                continue
            batch = normalize(raw, checker.file, checker.rows)
            problems = checker.check(batch)
            if problems:
                raise DatasetError(str(problems[0]))
            if writer is None:
                writer = pq.ParquetWriter(path, batch.schema, compression=COMPRESSION)
            pending.append(batch)
            pending_rows += batch.num_rows
            if pending_rows >= row_group_size:
                table = pa.Table.from_batches(pending)
                full = (pending_rows // row_group_size) * row_group_size
                writer.write_table(table.slice(0, full), row_group_size=row_group_size)
                rest = table.slice(full)
                pending = rest.to_batches() if rest.num_rows else []
                pending_rows = rest.num_rows
        if writer is None:
            raise DatasetError(f"{checker.file}: the split has no rows; both splits need rows")
        if pending:
            writer.write_table(pa.Table.from_batches(pending), row_group_size=row_group_size)
    finally:
        if writer is not None:
            writer.close()
    _fsync(path)
    digest, size = sha256_file(path)
    return FileEntry(sha256=digest, rows=checker.rows, bytes=size)


def _check_schema(feature_schema: Mapping[str, Sequence[str]], label_kind: str) -> None:
    if label_kind not in LABEL_KINDS:
        raise DatasetError(f"label_kind must be one of {list(LABEL_KINDS)}, found {label_kind!r}")
    compute_schema_sha(feature_schema)  # ContractError names bad families / columns
    for family, columns in feature_schema.items():
        for column in columns:
            if column in RESERVED_COLUMNS:
                raise DatasetError(
                    f"feature_schema family {family!r}: column {column!r} is a reserved column name"
                )


def _resolve_values(
    kind: str, given: Sequence[str] | None, found: dict[str, set[str]]
) -> list[str]:
    """The manifest's categories / snapshot pairs: given (checked) or what the data holds."""
    if given is None:
        return sorted(set().union(*found.values()))
    allowed = set(given)
    for file, values in found.items():
        unknown = sorted(values - allowed)
        if unknown:
            raise DatasetError(
                f"{file}: {kind} {unknown[0]!r} is not among the declared {kind}s {list(given)}"
            )
    return list(given)


def write_dataset(
    out_dir: str | Path,
    *,
    name: str,
    train: SplitData,
    eval: SplitData,
    feature_schema: Mapping[str, Sequence[str]],
    label_kind: str,
    snapshot_pairs: Sequence[str] | None = None,
    categories: Sequence[str] | None = None,
    producer: Producer | None = None,
    created_at: datetime | None = None,
    row_group_size: int = ROW_GROUP_SIZE,
    sources: Mapping[str, str] | None = None,
) -> ManifestV1:
    """Write a dataset directory (``train.parquet``, ``eval.parquet``, ``manifest.json``).

    ``train``/``eval`` are tables or iterables of record batches with the required
    columns, optionally ``weight``, and the feature columns; they are streamed.
    ``sources`` (split -> input file name) makes errors name the input, not the output.
    """
    out = Path(out_dir)
    if out.exists() or out.is_symlink():
        raise DatasetError(f"{out}: output directory already exists; choose a new path")
    if _NAME_RE.fullmatch(name) is None:
        raise DatasetError(
            f"dataset name {name!r} is invalid: expected letters, digits, '.', '_' or '-' "
            "(at most 128, starting with a letter or digit)"
        )
    _check_schema(feature_schema, label_kind)
    schema = ordered_feature_schema(feature_schema)
    train_batches = _batches(train, "train")
    first = next(train_batches, None)
    has_weight = first is not None and WEIGHT in first.schema.names
    normalize = BatchNormalizer(
        file_columns(schema, has_weight=has_weight),
        {FEATURE_SCHEMA_METADATA_KEY.encode(): feature_schema_metadata(schema)},
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        files: dict[str, FileEntry] = {}
        checkers: dict[str, RowChecker] = {}
        split_batches = {
            "train": itertools.chain([first] if first is not None else [], train_batches),
            "eval": _batches(eval, "eval"),
        }
        for split, batches in split_batches.items():
            filename = split_filename(split)
            label = (
                f"{sources[split]} ({split} split)" if sources and split in sources else filename
            )
            checkers[filename] = RowChecker(label, label_kind)
            files[filename] = _write_split(
                tmp / filename, batches, normalize, checkers[filename], row_group_size
            )
        manifest = validate_plain(
            ManifestV1,
            {
                "schema_version": 2,
                "name": name,
                "created_at": (created_at or datetime.now(UTC).replace(microsecond=0)).isoformat(),
                "producer": (producer or lab_producer()).to_plain(),
                "snapshot_pairs": _resolve_values(
                    "snapshot pair",
                    snapshot_pairs,
                    {c.file: c.snapshot_pairs for c in checkers.values()},
                ),
                "categories": _resolve_values(
                    "category", categories, {c.file: c.categories for c in checkers.values()}
                ),
                "feature_schema": schema,
                "feature_schema_sha": compute_feature_schema_sha(schema),
                "schema_sha": compute_schema_sha(schema),
                "label_kind": label_kind,
                "has_weight": has_weight,
                "files": {f: e.to_plain() for f, e in files.items()},
            },
            source=f"{out / MANIFEST_FILE}",
        )
        manifest_path = tmp / MANIFEST_FILE
        manifest_path.write_text(to_json_text(manifest), encoding="ascii")
        _fsync(manifest_path)
        _fsync(tmp)
        if out.exists():
            raise DatasetError(f"{out}: output directory appeared while writing; not replacing it")
        tmp.rename(out)
        _fsync(out.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest
