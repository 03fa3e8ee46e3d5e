"""Writing split files: each batch normalised and checked, row groups of a fixed size,
the file fsynced and hashed for the manifest; an empty split is an error."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.parquet as pq

from tessera_contracts import FileEntry, sha256_file
from tessera_lab.errors import DatasetError

from .checks import RowChecker
from .columns import split_filename
from .normalize import BatchNormalizer

COMPRESSION: Final = "zstd"


def fsync_path(path: Path) -> None:
    """Flush a file or directory to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_split(
    path: Path,
    batches: Iterator[pa.RecordBatch],
    normalize: BatchNormalizer,
    checker: RowChecker,
    row_group_size: int,
) -> FileEntry:
    """Check, normalise and write batches in row groups of ``row_group_size``; fsync, hash."""
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
    fsync_path(path)
    digest, size = sha256_file(path)
    return FileEntry(sha256=digest, rows=checker.rows, bytes=size)


def write_splits(
    tmp: Path,
    split_batches: Mapping[str, Iterator[pa.RecordBatch]],
    normalize: BatchNormalizer,
    label_kind: str,
    sources: Mapping[str, str] | None,
    row_group_size: int,
) -> tuple[dict[str, FileEntry], dict[str, RowChecker]]:
    """Write each split's Parquet file into ``tmp``; its entry and the checker that saw it."""
    files: dict[str, FileEntry] = {}
    checkers: dict[str, RowChecker] = {}
    for split, batches in split_batches.items():
        filename = split_filename(split)
        label = f"{sources[split]} ({split} split)" if sources and split in sources else filename
        checkers[filename] = RowChecker(label, label_kind)
        files[filename] = write_split(
            tmp / filename, batches, normalize, checkers[filename], row_group_size
        )
    return files, checkers
