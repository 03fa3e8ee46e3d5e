"""``open_dataset``: load a dataset directory through its manifest and read its splits."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tessera_contracts import ContractError, ManifestV1, parse_json, sha256_file
from tessera_lab.errors import DatasetError

from .checks import one_line
from .columns import SPLITS, file_columns, read_feature_schema_metadata, split_filename
from .writer import MANIFEST_FILE

DEFAULT_BATCH_SIZE = 64 * 1024


class Dataset:
    """A dataset directory whose manifest has been loaded (and, by default, verified)."""

    def __init__(self, path: Path, manifest: ManifestV1, manifest_sha256: str) -> None:
        self.path = path
        self.manifest = manifest
        self.manifest_sha256 = manifest_sha256

    def __repr__(self) -> str:
        return f"Dataset({str(self.path)!r}, name={self.manifest.name!r})"

    @property
    def feature_columns(self) -> list[str]:
        """All feature columns in file order (families sorted, columns as listed)."""
        return self.manifest.feature_columns

    def split_path(self, split: str) -> Path:
        """Path of ``train.parquet`` or ``eval.parquet``."""
        try:
            return self.path / split_filename(split)
        except DatasetError as exc:
            raise DatasetError(f"{self.path}: {exc}") from exc

    def rows(self, split: str) -> int:
        """Row count of a split, from the manifest."""
        return self.manifest.files[split_filename(split)].rows

    def columns(self) -> list[str]:
        """Every column of the split files, in file order."""
        return file_columns(self.manifest.feature_schema, has_weight=self.manifest.has_weight)

    def _checked(self, path: Path, columns: Sequence[str] | None) -> list[str] | None:
        if columns is None:
            return None
        known = set(self.columns())
        unknown = [c for c in columns if c not in known]
        if unknown:
            raise DatasetError(
                f"{path}: no column {unknown[0]!r} in dataset {self.manifest.name!r} "
                f"(feature families: {sorted(self.manifest.feature_schema)})"
            )
        return list(columns)

    def read(
        self,
        split: str,
        columns: Sequence[str] | None = None,
        filter: pc.Expression | None = None,
    ) -> pa.Table:
        """Read a whole split (optionally some columns, optionally filtered rows)."""
        path = self.split_path(split)
        selected = self._checked(path, columns)
        try:
            return pq.read_table(path, columns=selected, filters=filter)
        except (OSError, pa.ArrowException) as exc:
            raise DatasetError(f"{path}: cannot read: {one_line(exc)}") from exc

    def iter_batches(
        self,
        split: str,
        columns: Sequence[str] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> Iterator[pa.RecordBatch]:
        """Stream a split in record batches of at most ``batch_size`` rows (bounded memory)."""
        path = self.split_path(split)
        selected = self._checked(path, columns)
        try:
            parquet = pq.ParquetFile(path, pre_buffer=False)
            yield from parquet.iter_batches(batch_size=batch_size, columns=selected)
        except (OSError, pa.ArrowException) as exc:
            raise DatasetError(f"{path}: cannot read: {one_line(exc)}") from exc


def read_manifest(path: Path) -> tuple[ManifestV1, str]:
    """Parse ``manifest.json`` of a dataset directory; return it and its bytes' sha256."""
    manifest_path = path / MANIFEST_FILE
    if not path.is_dir():
        raise DatasetError(f"{path}: not a dataset directory (expected a directory)")
    try:
        raw = manifest_path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"{manifest_path}: cannot read: {exc.strerror or exc}") from exc
    try:
        manifest = parse_json(ManifestV1, raw, str(manifest_path))
    except ContractError as exc:
        raise DatasetError(str(exc)) from exc
    return manifest, hashlib.sha256(raw).hexdigest()


def verify_file(path: Path, manifest: ManifestV1, filename: str) -> None:
    """Check one split file's bytes, sha256, rows and feature schema against the manifest."""
    entry = manifest.files[filename]
    file = path / filename
    if not file.is_file():
        raise DatasetError(f"{file}: file listed in manifest.json is missing")
    size = file.stat().st_size
    if size != entry.bytes:
        raise DatasetError(
            f"{file}: field 'bytes': manifest says {entry.bytes}, file has {size} "
            "(file changed or truncated; rebuild the dataset)"
        )
    digest = sha256_file(file)[0]
    if digest != entry.sha256:
        raise DatasetError(
            f"{file}: field 'sha256': manifest says {entry.sha256}, file has {digest} "
            "(file changed after writing; rebuild the dataset)"
        )
    try:
        metadata = pq.read_metadata(file)
        schema = pq.read_schema(file)
    except (OSError, pa.ArrowException) as exc:
        raise DatasetError(f"{file}: not a readable Parquet file: {one_line(exc)}") from exc
    if metadata.num_rows != entry.rows:
        raise DatasetError(
            f"{file}: field 'rows': manifest says {entry.rows}, file has {metadata.num_rows}"
        )
    try:
        carried = read_feature_schema_metadata(schema, str(file))
    except (DatasetError, ContractError) as exc:
        raise DatasetError(str(exc)) from exc
    if carried != manifest.feature_schema:
        raise DatasetError(
            f"{file}: field 'feature_schema': the file's Arrow metadata {carried} differs from "
            f"manifest.json's {manifest.feature_schema}"
        )


def open_dataset(path: str | Path, *, verify: bool = True) -> Dataset:
    """Open a dataset directory; with ``verify`` check both files against the manifest."""
    root = Path(path)
    manifest, manifest_sha256 = read_manifest(root)
    if verify:
        for split in SPLITS:
            verify_file(root, manifest, split_filename(split))
    return Dataset(root, manifest, manifest_sha256)
