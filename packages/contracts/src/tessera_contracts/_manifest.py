"""``ManifestV1``: the dataset manifest (DESIGN.md section 3)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from ._errors import ContractError
from ._fingerprints import compute_feature_schema_sha, compute_schema_sha
from ._values import FileEntry, Name, Producer, ShortSha, StrictModel, UtcDatetime

CategoryName = Annotated[str, Field(min_length=1, max_length=256)]
DATASET_FILES = ("train.parquet", "eval.parquet")
FEATURE_SCHEMA_METADATA_KEY = "tessera.feature_schema"
"""Arrow schema metadata key under which Parquet files carry their feature schema (JSON)."""


def check_snapshot_pairs(pairs: list[str]) -> list[str]:
    """Snapshot pairs must be non-empty, each a non-empty string, and unique."""
    if not pairs:
        raise ContractError("snapshot_pairs must not be empty")
    seen: set[str] = set()
    for pair in pairs:
        if not pair.strip():
            raise ContractError(f"snapshot pair {pair!r} is blank")
        if pair in seen:
            raise ContractError(f"duplicate snapshot pair {pair!r}")
        seen.add(pair)
    return pairs


def check_feature_schema(feature_schema: dict[str, list[str]]) -> dict[str, list[str]]:
    """A feature schema must satisfy the v2 fingerprint's rules (DESIGN.md section 2).

    Checked on the field itself, before the fingerprints are compared, so an invalid
    schema is reported as such (and under its field) rather than as a fingerprint mismatch.
    """
    compute_schema_sha(feature_schema)
    return feature_schema


def check_fingerprints(
    feature_schema: dict[str, list[str]], feature_schema_sha: str, schema_sha: str
) -> None:
    """Recompute both fingerprints from ``feature_schema`` and fail if the stored ones differ."""
    expected_v1 = compute_feature_schema_sha(feature_schema.keys())
    if feature_schema_sha != expected_v1:
        raise ContractError(
            f"feature_schema_sha {feature_schema_sha!r} does not match feature_schema "
            f"(expected {expected_v1!r})"
        )
    expected_v2 = compute_schema_sha(feature_schema)
    if schema_sha != expected_v2:
        raise ContractError(
            f"schema_sha {schema_sha!r} does not match feature_schema (expected {expected_v2!r})"
        )


class ManifestV1(StrictModel):
    """The dataset manifest, ``manifest.json`` (file layout version 2)."""

    schema_version: Literal[2]
    name: Name
    created_at: UtcDatetime
    producer: Producer
    snapshot_pairs: list[Annotated[str, Field(max_length=256)]]
    categories: Annotated[list[CategoryName], Field(min_length=1)]
    feature_schema: dict[str, list[str]]
    feature_schema_sha: ShortSha
    schema_sha: ShortSha
    label_kind: Literal["binary", "graded"]
    has_weight: bool
    files: dict[str, FileEntry]

    @field_validator("snapshot_pairs")
    @classmethod
    def _snapshot_pairs(cls, value: list[str]) -> list[str]:
        return check_snapshot_pairs(value)

    @field_validator("categories")
    @classmethod
    def _categories(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ContractError(f"categories must be unique, got {value!r}")
        return value

    @field_validator("feature_schema")
    @classmethod
    def _feature_schema(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        return check_feature_schema(value)

    @field_validator("files")
    @classmethod
    def _files(cls, value: dict[str, FileEntry]) -> dict[str, FileEntry]:
        if set(value) != set(DATASET_FILES):
            raise ContractError(
                f"files must list exactly {list(DATASET_FILES)}, found {sorted(value)}"
            )
        return value

    @model_validator(mode="after")
    def _fingerprints(self) -> ManifestV1:
        check_fingerprints(self.feature_schema, self.feature_schema_sha, self.schema_sha)
        return self

    @property
    def feature_columns(self) -> list[str]:
        """All feature columns, family by family in sorted family order."""
        return [c for family in sorted(self.feature_schema) for c in self.feature_schema[family]]
