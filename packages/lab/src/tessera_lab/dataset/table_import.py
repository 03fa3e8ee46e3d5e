"""``import_table``: Parquet/CSV/TSV tables with named columns into the contract layout.

See ``tabular`` for the column mapping; every file must offer the same feature columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from tessera_contracts import ManifestV1, Producer
from tessera_lab.errors import DatasetError

from .columns import feature_columns
from .families import resolve_families
from .import_rules import default_name, family_mapping, resolve_label_kind, train_source
from .tabular import ColumnMap, feature_candidates, label_values, table_batches, table_schema
from .validfile import ValidInput, train_then_valid
from .writer import write_dataset

TABLE_FORMATS = ("parquet", "csv", "tsv")


def _same_candidates(paths: list[Path], columns: ColumnMap, exclude: Sequence[str]) -> list[str]:
    """The feature candidate columns, which every file must have alike."""
    candidates = [feature_candidates(p, table_schema(p), columns, exclude) for p in paths]
    for path, found in zip(paths[1:], candidates[1:], strict=True):
        if found != candidates[0]:
            missing = sorted(set(candidates[0]) ^ set(found))
            raise DatasetError(
                f"{path}: feature columns differ from {paths[0]} (e.g. {missing[:1]!r})"
            )
    return candidates[0]


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
    schema = resolve_families(
        _same_candidates(paths, columns, exclude),
        family_mapping(families),
        source=str(families or paths[0]),
        drop_unmapped=drop_unmapped,
    )
    kind = label_kind
    if kind == "auto":
        labels = set().union(*(label_values(p, columns.label) for p in paths))
        kind = resolve_label_kind("auto", labels)
    features = feature_columns(schema)
    train_stream = table_batches(paths[0], columns, features)
    if valid is not None:
        valid_stream = table_batches(valid.path, columns, features)
        train_stream = train_then_valid(
            train_stream, valid_stream, train_path=paths[0], valid=valid
        )
    return write_dataset(
        out_dir,
        name=name or default_name(paths[0], columns.base_score is None),
        train=train_stream,
        eval=table_batches(paths[1], columns, features),
        feature_schema=schema,
        label_kind=resolve_label_kind(kind, set()),
        sources={"train": train_source(paths[0], valid), "eval": str(paths[1])},
        producer=producer,
        created_at=created_at,
    )
