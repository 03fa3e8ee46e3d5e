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

import pyarrow as pa

from tessera_contracts import (
    FEATURE_SCHEMA_METADATA_KEY,
    FileEntry,
    ManifestV1,
    Producer,
    compute_feature_schema_sha,
    compute_schema_sha,
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
)
from .normalize import BatchNormalizer
from .split_writer import fsync_path, write_splits

ROW_GROUP_SIZE = 128 * 1024
"""Rows per Parquet row group: large enough to compress well, small enough to stream."""
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


def _normalizer(schema: dict[str, list[str]], has_weight: bool) -> BatchNormalizer:
    """Casts and orders batches to the file columns, the feature schema in the metadata."""
    return BatchNormalizer(
        file_columns(schema, has_weight=has_weight),
        {FEATURE_SCHEMA_METADATA_KEY.encode(): feature_schema_metadata(schema)},
    )


def _check_target(out: Path, name: str) -> None:
    """The output directory must not exist yet and the dataset name must be valid."""
    if out.exists() or out.is_symlink():
        raise DatasetError(f"{out}: output directory already exists; choose a new path")
    if _NAME_RE.fullmatch(name) is None:
        raise DatasetError(
            f"dataset name {name!r} is invalid: expected letters, digits, '.', '_' or '-' "
            "(at most 128, starting with a letter or digit)"
        )


def _manifest(
    source: str,
    files: dict[str, FileEntry],
    checkers: dict[str, RowChecker],
    *,
    name: str,
    schema: dict[str, list[str]],
    label_kind: str,
    has_weight: bool,
    snapshot_pairs: Sequence[str] | None,
    categories: Sequence[str] | None,
    producer: Producer | None,
    created_at: datetime | None,
) -> ManifestV1:
    """The manifest of the written files, its value lists checked against the data."""
    return validate_plain(
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
        source=source,
    )


def _publish(tmp: Path, out: Path, manifest: ManifestV1) -> None:
    """Write the manifest, fsync everything, then rename ``tmp`` to ``out`` atomically."""
    manifest_path = tmp / MANIFEST_FILE
    manifest_path.write_text(to_json_text(manifest), encoding="ascii")
    fsync_path(manifest_path)
    fsync_path(tmp)
    if out.exists():
        raise DatasetError(f"{out}: output directory appeared while writing; not replacing it")
    tmp.rename(out)
    fsync_path(out.parent)


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
    _check_target(out, name)
    _check_schema(feature_schema, label_kind)
    schema = ordered_feature_schema(feature_schema)
    train_batches = _batches(train, "train")
    first = next(train_batches, None)
    has_weight = first is not None and WEIGHT in first.schema.names
    normalize = _normalizer(schema, has_weight)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        split_batches = {
            "train": itertools.chain([first] if first is not None else [], train_batches),
            "eval": _batches(eval, "eval"),
        }
        files, checkers = write_splits(
            tmp, split_batches, normalize, label_kind, sources, row_group_size
        )
        manifest = _manifest(
            f"{out / MANIFEST_FILE}",
            files,
            checkers,
            name=name,
            schema=schema,
            label_kind=label_kind,
            has_weight=has_weight,
            snapshot_pairs=snapshot_pairs,
            categories=categories,
            producer=producer,
            created_at=created_at,
        )
        _publish(tmp, out, manifest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest
