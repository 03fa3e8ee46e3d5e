"""Live feature schemas: the column sets production actually serves.

Registering a run requires a live schema with the run's ``schema_sha`` (v2) unless the
caller overrides it. A schema comes from a dataset ``manifest.json`` (through the
contracts) or a YAML mapping family -> columns. Adding the same schema under the same name
again is a no-op; reusing a name for different columns is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml
from sqlalchemy import select

from tessera_contracts import (
    ContractError,
    compute_feature_schema_sha,
    compute_schema_sha,
    load_manifest,
)
from tessera_serving.errors import RegistrationError
from tessera_serving.registry import LiveSchema, Registry, UniqueConflict

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"


@dataclass(frozen=True)
class LiveSchemaInfo:
    """A live schema as stored."""

    id: int
    name: str
    feature_schema: dict[str, list[str]]
    feature_schema_sha: str
    schema_sha_v2: str | None
    source: str
    created_at: datetime

    @classmethod
    def of(cls, row: LiveSchema) -> LiveSchemaInfo:
        return cls(
            id=row.id,
            name=row.name,
            feature_schema={k: list(v) for k, v in row.feature_schema.items()},
            feature_schema_sha=row.feature_schema_sha,
            schema_sha_v2=row.schema_sha_v2,
            source=row.source,
            created_at=row.created_at,
        )


def schema_from_manifest(path: Path) -> tuple[dict[str, list[str]], str]:
    """A manifest's feature schema and dataset name (validated through the contracts)."""
    try:
        manifest = load_manifest(path)
    except ContractError as exc:
        raise RegistrationError(str(exc)) from exc
    return {k: list(v) for k, v in manifest.feature_schema.items()}, manifest.name


def schema_from_yaml(path: Path) -> dict[str, list[str]]:
    """A YAML mapping family -> list of column names, checked by the v2 fingerprint's rules."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RegistrationError(f"{path}: not readable YAML: {first}") from exc
    if not isinstance(data, dict) or not data:
        raise RegistrationError(f"{path}: expected a mapping family -> [columns], found {data!r}")
    for family, columns in data.items():
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise RegistrationError(
                f"{path}: family {family!r}: expected a list of column names, found {columns!r}"
            )
    schema = {str(family): list(columns) for family, columns in data.items()}
    check_schema(schema, str(path))
    return schema


def check_schema(schema: dict[str, list[str]], source: str) -> tuple[str, str]:
    """Both fingerprints of ``schema`` (RegistrationError naming ``source`` if invalid)."""
    try:
        return compute_feature_schema_sha(schema.keys()), compute_schema_sha(schema)
    except ContractError as exc:
        raise RegistrationError(f"{source}: invalid feature schema: {exc}") from exc


def add_live_schema(
    registry: Registry, feature_schema: dict[str, list[str]], *, name: str | None, source: str
) -> tuple[LiveSchemaInfo, bool]:
    """Record a live schema; return it and whether it was new (idempotent per name+schema)."""
    v1, v2 = check_schema(feature_schema, source)
    name = name or f"schema-{v2}"
    if not re.match(NAME_PATTERN, name):
        raise RegistrationError(f"live schema name {name!r} must match {NAME_PATTERN}")
    for _attempt in range(3):
        try:
            with registry.transaction() as session:
                row = session.scalars(select(LiveSchema).where(LiveSchema.name == name)).first()
                if row is not None:
                    if compute_schema_sha(row.feature_schema) != v2:
                        raise RegistrationError(
                            f"live schema {name!r} already exists with other columns "
                            f"(schema_sha_v2 {row.schema_sha_v2}); choose another --name"
                        )
                    return LiveSchemaInfo.of(row), False
                row = LiveSchema(
                    name=name,
                    feature_schema=feature_schema,
                    feature_schema_sha=v1,
                    schema_sha_v2=v2,
                    source=source,
                )
                session.add(row)
                session.flush()
                return LiveSchemaInfo.of(row), True
        except UniqueConflict:
            continue  # a concurrent writer added the same name; re-read it
    raise RegistrationError(f"live schema {name!r}: kept conflicting with concurrent writers")


def list_live_schemas(registry: Registry) -> list[LiveSchemaInfo]:
    """Every live schema, oldest first."""
    with registry.transaction(readonly=True) as session:
        rows = session.scalars(select(LiveSchema).order_by(LiveSchema.id))
        return [LiveSchemaInfo.of(row) for row in rows]
