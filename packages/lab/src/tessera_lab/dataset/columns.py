"""Column names, order and types of a dataset's Parquet files (DESIGN.md section 3).

A split file holds, in this order: the required columns, the optional ``weight``
column, then the feature columns family by family (sorted family names, each
family's columns in the order the feature schema lists them).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import pyarrow as pa

from tessera_contracts import FEATURE_SCHEMA_METADATA_KEY, compute_schema_sha
from tessera_lab.errors import DatasetError

QUERY_ID = "query_id"
CANDIDATE_ID = "candidate_id"
LABEL = "label"
CATEGORY = "category"
SNAPSHOT_PAIR = "snapshot_pair"
BASE_SCORE = "base_score"
WEIGHT = "weight"

REQUIRED_COLUMNS: tuple[str, ...] = (
    QUERY_ID,
    CANDIDATE_ID,
    LABEL,
    CATEGORY,
    SNAPSHOT_PAIR,
    BASE_SCORE,
)
"""Columns every split file must have, in file order."""

RESERVED_COLUMNS: tuple[str, ...] = (*REQUIRED_COLUMNS, WEIGHT)
"""Names no feature column may take."""

SPLITS: tuple[str, ...] = ("train", "eval")
LABEL_KINDS: tuple[str, ...] = ("binary", "graded")

ID_COLUMNS = (QUERY_ID, CANDIDATE_ID)
STRING_COLUMNS = (CATEGORY, SNAPSHOT_PAIR)
FLOAT_COLUMNS = (BASE_SCORE, WEIGHT)


def split_filename(split: str) -> str:
    """``train`` -> ``train.parquet``; rejects unknown splits."""
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}: expected one of {list(SPLITS)}")
    return f"{split}.parquet"


def ordered_feature_schema(feature_schema: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """The schema as plain lists with families in sorted order (the file's column order)."""
    return {family: list(feature_schema[family]) for family in sorted(feature_schema)}


def feature_columns(feature_schema: Mapping[str, Sequence[str]]) -> list[str]:
    """All feature columns in file order."""
    ordered = ordered_feature_schema(feature_schema)
    return [column for columns in ordered.values() for column in columns]


def file_columns(feature_schema: Mapping[str, Sequence[str]], *, has_weight: bool) -> list[str]:
    """Every column of a split file, in file order."""
    head = [*REQUIRED_COLUMNS, WEIGHT] if has_weight else list(REQUIRED_COLUMNS)
    return head + feature_columns(feature_schema)


def feature_schema_metadata(feature_schema: Mapping[str, Sequence[str]]) -> bytes:
    """The JSON stored under ``tessera.feature_schema`` in each file's Arrow schema."""
    return json.dumps(
        ordered_feature_schema(feature_schema), separators=(",", ":"), ensure_ascii=True
    ).encode("ascii")


def read_feature_schema_metadata(schema: pa.Schema, source: str) -> dict[str, list[str]]:
    """Parse the feature schema a Parquet file carries; raise ``DatasetError`` naming ``source``."""
    metadata = schema.metadata or {}
    raw = metadata.get(FEATURE_SCHEMA_METADATA_KEY.encode())
    if raw is None:
        raise DatasetError(
            f"{source}: Arrow schema metadata has no {FEATURE_SCHEMA_METADATA_KEY!r} key"
        )
    try:
        value = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(
            f"{source}: metadata {FEATURE_SCHEMA_METADATA_KEY!r} is not valid JSON: {exc}"
        ) from exc
    if not isinstance(value, dict) or not all(
        isinstance(cols, list) and all(isinstance(c, str) for c in cols) for cols in value.values()
    ):
        raise DatasetError(
            f"{source}: metadata {FEATURE_SCHEMA_METADATA_KEY!r} must be a JSON object "
            "family -> list of column names"
        )
    compute_schema_sha(value)  # raises ContractError on bad names
    return {str(k): list(v) for k, v in value.items()}


def is_id_type(dtype: pa.DataType) -> bool:
    """Query and candidate ids are int64 or string."""
    return dtype == pa.int64() or dtype == pa.string()


def is_feature_type(dtype: pa.DataType) -> bool:
    """Feature columns are float32 or float64 (missing values are NaN or null)."""
    return dtype in (pa.float32(), pa.float64())


def expected_type(column: str) -> str:
    """Human description of the type a column must have in a written file."""
    if column in ID_COLUMNS:
        return "int64 or string"
    if column == LABEL:
        return "int64"
    if column in STRING_COLUMNS:
        return "string"
    if column in FLOAT_COLUMNS:
        return "float64"
    return "float32 or float64"


def type_ok(column: str, dtype: pa.DataType) -> bool:
    """Does ``dtype`` fit what a written file must hold in ``column``?"""
    if column in ID_COLUMNS:
        return is_id_type(dtype)
    if column == LABEL:
        return bool(dtype == pa.int64())
    if column in STRING_COLUMNS:
        return bool(dtype == pa.string())
    if column in FLOAT_COLUMNS:
        return bool(dtype == pa.float64())
    return is_feature_type(dtype)
