"""Coerce incoming record batches to a split file's column order and types.

The writer accepts what callers naturally have (int32 ids, large strings,
dictionary-encoded categories, integral float labels, integer features) and
writes one canonical layout; anything it cannot coerce losslessly is an error
naming the file, column and, for values, the row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tessera_lab.errors import DatasetError

from .checks import one_line
from .columns import (
    FLOAT_COLUMNS,
    ID_COLUMNS,
    LABEL,
    REQUIRED_COLUMNS,
    STRING_COLUMNS,
    WEIGHT,
)


def _is_stringish(dtype: pa.DataType) -> bool:
    if pa.types.is_dictionary(dtype):
        return _is_stringish(dtype.value_type)
    return bool(pa.types.is_string(dtype) or pa.types.is_large_string(dtype))


def _is_numeric(dtype: pa.DataType) -> bool:
    return bool(
        pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_boolean(dtype)
    )


def _target_type(column: str, dtype: pa.DataType, source: str) -> pa.DataType:
    """The written type of ``column`` given the incoming ``dtype``."""
    if column in ID_COLUMNS:
        if pa.types.is_integer(dtype):
            return pa.int64()
        if _is_stringish(dtype):
            return pa.string()
    elif column == LABEL:
        if _is_numeric(dtype):
            return pa.int64()
    elif column in STRING_COLUMNS:
        if _is_stringish(dtype):
            return pa.string()
    elif column in FLOAT_COLUMNS:
        if _is_numeric(dtype) or pa.types.is_null(dtype):
            return pa.float64()
    elif pa.types.is_float32(dtype) or pa.types.is_float64(dtype):
        return dtype
    elif _is_numeric(dtype) or pa.types.is_null(dtype) or pa.types.is_float16(dtype):
        return pa.float64()
    raise DatasetError(
        f"{source}: column {column!r} has type {dtype}, which cannot be written as "
        f"{_describe(column)}"
    )


def _describe(column: str) -> str:
    if column in ID_COLUMNS:
        return "an id (integer or string)"
    if column == LABEL:
        return "an integer label"
    if column in STRING_COLUMNS:
        return "a string"
    if column in FLOAT_COLUMNS:
        return "a float"
    return "a numeric feature"


def _labels_to_int(array: pa.Array[Any], source: str, offset: int) -> pa.Array[Any]:
    if not pa.types.is_floating(array.type):
        return array.cast(pa.int64())
    values: np.ndarray[Any, Any] = np.asarray(array.to_numpy(zero_copy_only=False), dtype=float)
    valid = ~np.asarray(pc.is_null(array).to_numpy(zero_copy_only=False), dtype=bool)
    bad = valid & ~(np.isfinite(values) & (values == np.round(values)))
    hits = np.flatnonzero(bad)
    if hits.size:
        row = int(hits[0])
        raise DatasetError(
            f"{source}, column {LABEL!r}, row {offset + row}: "
            f"expected an integer label, found {values[row]}"
        )
    return array.cast(pa.int64(), safe=False)


class BatchNormalizer:
    """Select, order and cast columns; the first batch fixes the written schema."""

    def __init__(self, columns: Sequence[str], metadata: dict[bytes | str, bytes | str]) -> None:
        self.columns = list(columns)
        self.metadata = metadata
        self.schema: pa.Schema | None = None

    def __call__(self, batch: pa.RecordBatch, source: str, offset: int) -> pa.RecordBatch:
        """``batch`` in file order and types; raise ``DatasetError`` naming ``source``."""
        names = batch.schema.names
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise DatasetError(f"{source}: column {dup!r} appears more than once")
        missing = [c for c in self.columns if c not in names]
        if missing:
            kind = "required column" if missing[0] in REQUIRED_COLUMNS else "feature column"
            raise DatasetError(
                f"{source}: missing {kind} {missing[0]!r}"
                + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
            )
        extra = [n for n in names if n not in self.columns]
        if extra:
            what = (
                "the weight column was not expected"
                if extra[0] == WEIGHT
                else ("not a required column, weight, or a column of feature_schema")
            )
            raise DatasetError(f"{source}: unexpected column {extra[0]!r}: {what}")
        arrays = []
        for i, column in enumerate(self.columns):
            array = batch.column(column)
            if pa.types.is_dictionary(array.type):
                array = array.dictionary_decode()  # type: ignore[attr-defined]
            if self.schema is None:
                target = _target_type(column, array.type, source)
            else:
                target = self.schema.field(i).type
                if column in ID_COLUMNS and _target_type(column, array.type, source) != target:
                    raise DatasetError(
                        f"{source}: column {column!r} has type {array.type} at row {offset}, "
                        f"but earlier rows were {target}"
                    )
            if column == LABEL:
                array = _labels_to_int(array, source, offset)
            elif array.type != target:
                try:
                    array = array.cast(target)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                    raise DatasetError(
                        f"{source}: column {column!r} near row {offset}: cannot convert "
                        f"{array.type} to {target}: {one_line(exc)}"
                    ) from exc
            arrays.append(array)
        if self.schema is None:
            fields = [pa.field(c, a.type) for c, a in zip(self.columns, arrays, strict=True)]
            self.schema = pa.schema(fields, metadata=self.metadata)
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)
