"""Stream Parquet / CSV / TSV tables with named columns into the contract's columns."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from tessera_lab.errors import DatasetError

from .checks import one_line
from .columns import BASE_SCORE, CANDIDATE_ID, CATEGORY, LABEL, QUERY_ID, SNAPSHOT_PAIR, WEIGHT
from .libsvm import query_positions

BATCH_ROWS = 64 * 1024


@dataclass(frozen=True)
class ColumnMap:
    """Which input columns (or constants) become the contract's columns."""

    query: str
    label: str
    candidate: str | None = None
    base_score: str | None = None
    weight: str | None = None
    category: str | None = None
    category_value: str = "all"
    snapshot_pair: str | None = None
    snapshot_pair_value: str = "static"

    def consumed(self) -> list[str]:
        """Input columns that are not features."""
        cols = (self.query, self.label, self.candidate, self.base_score, self.weight)
        extra = (self.category, self.snapshot_pair)
        return [c for c in (*cols, *extra) if c is not None]


def table_format(path: Path) -> str:
    """``parquet``, ``csv`` or ``tsv`` from the file name."""
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix in (".csv", ".tsv"):
        return suffix[1:]
    raise DatasetError(f"{path}: unknown table format {suffix!r}; expected .parquet, .csv or .tsv")


def _open(path: Path, columns: Sequence[str] | None = None) -> Iterator[pa.RecordBatch]:
    fmt = table_format(path)
    try:
        if fmt == "parquet":
            parquet = pq.ParquetFile(path, pre_buffer=False)
            yield from parquet.iter_batches(
                batch_size=BATCH_ROWS, columns=list(columns) if columns is not None else None
            )
            return
        convert = pacsv.ConvertOptions(
            include_columns=list(columns) if columns is not None else None
        )
        parse = pacsv.ParseOptions(delimiter="\t" if fmt == "tsv" else ",")
        yield from pacsv.open_csv(path, parse_options=parse, convert_options=convert)
    except (OSError, pa.ArrowException) as exc:
        raise DatasetError(f"{path}: cannot read {fmt}: {one_line(exc)}") from exc


def table_schema(path: Path) -> pa.Schema:
    """The input's column names and types (a CSV's are inferred from its first block)."""
    fmt = table_format(path)
    try:
        if fmt == "parquet":
            return pq.read_schema(path)
        parse = pacsv.ParseOptions(delimiter="\t" if fmt == "tsv" else ",")
        return pacsv.open_csv(path, parse_options=parse).schema
    except (OSError, pa.ArrowException) as exc:
        raise DatasetError(f"{path}: cannot read {fmt}: {one_line(exc)}") from exc


def feature_candidates(
    path: Path, schema: pa.Schema, columns: ColumnMap, exclude: Sequence[str]
) -> list[str]:
    """Input columns that would become features: not consumed, not excluded, numeric."""
    for name in (*columns.consumed(), *exclude):
        if name not in schema.names:
            raise DatasetError(f"{path}: no column {name!r} (columns: {schema.names[:20]})")
    skip = set(columns.consumed()) | set(exclude)
    out = []
    for field in schema:
        if field.name in skip:
            continue
        dtype = field.type
        if not (
            pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_null(dtype)
        ):
            raise DatasetError(
                f"{path}: column {field.name!r} has type {dtype} and cannot be a feature; "
                "exclude it or map it to a required column"
            ).fixed_by("exclude")
        out.append(field.name)
    return out


def label_values(path: Path, label: str) -> set[int]:
    """Distinct label values (one streaming pass over the label column)."""
    found: set[int] = set()
    for batch in _open(path, [label]):
        values = batch.column(0)
        if values.null_count:
            break  # the writer reports the row
        for value in pc.unique(values).to_pylist():
            if value is not None and np.isfinite(value):
                found.add(int(value))
    return found


def table_batches(
    path: Path, columns: ColumnMap, features: Sequence[str]
) -> Iterator[pa.RecordBatch]:
    """Batches with the contract's column names, read streaming from ``path``."""
    carry: list[Any] = [None, -1]
    row = 0
    for batch in _open(path, [*columns.consumed(), *features]):
        n = batch.num_rows
        if n == 0:
            continue
        query = batch.column(columns.query)
        out: dict[str, Any] = {QUERY_ID: query, LABEL: batch.column(columns.label)}
        out[CANDIDATE_ID] = (
            batch.column(columns.candidate)
            if columns.candidate is not None
            else pa.array(np.arange(row, row + n, dtype=np.int64))
        )
        out[CATEGORY] = (
            batch.column(columns.category)
            if columns.category is not None
            else pa.array([columns.category_value] * n, pa.string())
        )
        out[SNAPSHOT_PAIR] = (
            batch.column(columns.snapshot_pair)
            if columns.snapshot_pair is not None
            else pa.array([columns.snapshot_pair_value] * n, pa.string())
        )
        if columns.base_score is not None:
            out[BASE_SCORE] = batch.column(columns.base_score)
        else:
            ids = np.asarray(query.to_numpy(zero_copy_only=False))
            out[BASE_SCORE] = pa.array((-query_positions(ids, carry)).astype(np.float64))
        if columns.weight is not None:
            out[WEIGHT] = batch.column(columns.weight)
        for name in features:
            out[name] = batch.column(name)
        row += n
        yield pa.RecordBatch.from_pydict(out)
