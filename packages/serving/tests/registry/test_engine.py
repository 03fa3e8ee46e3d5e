"""The transaction helper and the one database-error translation point (both backends)."""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa

from tessera_serving.config import ServingConfig
from tessera_serving.errors import RegistryError, SchemaRevisionError
from tessera_serving.registry import LiveSchema, Registry, UniqueConflict, open_registry


def _schema(name: str) -> LiveSchema:
    return LiveSchema(
        name=name,
        feature_schema={"knn": ["a"]},
        feature_schema_sha="cbf083022a88",
        schema_sha_v2=None,
        source="test",
    )


def _names(registry: Registry) -> list[str]:
    with registry.transaction(readonly=True) as session:
        return list(session.scalars(sa.select(LiveSchema.name).order_by(LiveSchema.name)))


def test_transaction_commits_once_or_rolls_back(registry: Registry) -> None:
    with registry.transaction() as session:
        session.add(_schema("kept"))
    with pytest.raises(RuntimeError, match="boom"), registry.transaction() as session:
        session.add(_schema("dropped"))
        session.flush()
        raise RuntimeError("boom")
    assert _names(registry) == ["kept"]


def test_unique_violation_becomes_unique_conflict(registry: Registry) -> None:
    with registry.transaction() as session:
        session.add(_schema("dup"))
    with pytest.raises(UniqueConflict) as conflict, registry.transaction() as session:
        session.add(_schema("dup"))
        session.add(_schema("other"))
    assert "conflicting write" in str(conflict.value) and "\n" not in str(conflict.value)
    assert _names(registry) == ["dup"]  # the whole transaction rolled back


def test_other_integrity_errors_and_database_errors_are_registry_errors(
    registry: Registry,
) -> None:
    with (
        pytest.raises(RegistryError, match="integrity violation") as error,
        registry.transaction() as session,
    ):
        session.execute(sa.text("INSERT INTO live_schemas (name) VALUES ('x')"))
    assert not isinstance(error.value, UniqueConflict)
    with (
        pytest.raises(SchemaRevisionError, match="lacks a table or column"),
        registry.transaction() as session,
    ):
        session.execute(sa.text("SELECT * FROM no_such_table"))
    with pytest.raises(RegistryError, match="database error"), registry.transaction() as session:
        session.execute(sa.text("SELEC 1"))
    assert _names(registry) == []


def test_opening_checks_the_revision_beside_a_writer(sqlite_config: ServingConfig) -> None:
    # The check only reads: it must not queue (60 s busy timeout) behind a write lock.
    writer = sqlite3.connect(sqlite_config.database_url.removeprefix("sqlite:///"))
    try:
        writer.isolation_level = None
        writer.execute("BEGIN IMMEDIATE")
        with open_registry(sqlite_config) as registry:
            assert registry.where == sqlite_config.database_url
    finally:
        writer.close()
