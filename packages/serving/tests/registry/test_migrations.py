"""Migrations shipped in the package, the revision check, and ``db upgrade|current``.

Runs on SQLite and PostgreSQL (a fresh schema per test).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from cli_runner import Cli

from tessera_serving.config import ServingConfig
from tessera_serving.errors import SchemaRevisionError
from tessera_serving.registry import (
    MIGRATIONS_DIR,
    Base,
    check_revision,
    code_revision,
    create_registry_engine,
    database_revision,
    open_registry,
    upgrade,
)
from tessera_serving.registry.migrate import script_directory
from tessera_serving.registry.revisions import HEAD_REVISION, REVISIONS

FIRST, SECOND = "0001_initial", "0002_schema_sha_v2"


def _columns(engine: sa.Engine, table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(engine).get_columns(table)}


def test_migrations_ship_inside_the_package() -> None:
    import tessera_serving

    package = Path(tessera_serving.__file__).resolve().parent
    assert package / "registry" / "migrations" == MIGRATIONS_DIR
    assert (MIGRATIONS_DIR / "env.py").is_file()
    chain = [rev.revision for rev in script_directory().walk_revisions("base", "heads")]
    assert chain[-2:] == [SECOND, FIRST]  # newest first; later revisions build on 0002
    assert code_revision() == chain[0]


def test_revision_constants_match_the_scripts() -> None:
    """The check compares with constants: a new script must be appended to them."""
    scripts = script_directory()
    assert scripts.get_heads() == [HEAD_REVISION]  # one head, the constant
    chain = [rev.revision for rev in scripts.walk_revisions("base", "heads")]
    assert tuple(reversed(chain)) == REVISIONS
    assert code_revision() == HEAD_REVISION == REVISIONS[-1]


def test_revision_check_reads_the_table_without_alembic(
    config: ServingConfig, tmp_path: Path
) -> None:
    probe = (
        "import sys\n"
        "from tessera_serving.config import ServingConfig\n"
        "from tessera_serving.registry import open_registry\n"
        "open_registry(ServingConfig.from_env()).close()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')))\n"
    )
    env = {**os.environ, "TESSERA_DATABASE_URL": config.database_url}
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_several_stored_revisions_are_refused(database_url: str) -> None:
    engine = create_registry_engine(database_url, create_dir=True)
    try:
        with engine.connect() as connection:
            assert database_revision(connection) is None  # no version table yet
        upgrade(engine)
        with engine.begin() as connection:
            connection.exec_driver_sql(
                f"INSERT INTO alembic_version (version_num) VALUES ('{FIRST}')"
            )
        with pytest.raises(SchemaRevisionError, match="several revisions"):
            check_revision(engine)
    finally:
        engine.dispose()


def test_revision_history_first_stores_only_v1_then_adds_v2(database_url: str) -> None:
    engine = create_registry_engine(database_url, create_dir=True)
    try:
        assert upgrade(engine, FIRST) == (None, FIRST)
        assert "feature_schema_sha" in _columns(engine, "reranker_models")
        assert "schema_sha_v2" not in _columns(engine, "reranker_models")
        assert "schema_sha_v2" not in _columns(engine, "live_schemas")
        assert upgrade(engine, SECOND) == (FIRST, SECOND)
        assert "schema_sha_v2" in _columns(engine, "reranker_models")
        assert "schema_sha_v2" in _columns(engine, "live_schemas")
        head = code_revision()
        assert upgrade(engine) == (SECOND, head)
        assert upgrade(engine) == (head, head)  # idempotent
        tables = set(sa.inspect(engine).get_table_names())
        assert {"reranker_models", "live_schemas", "promotions", "alembic_version"} <= tables
        assert set(Base.metadata.tables) <= tables  # every declared table is migrated
    finally:
        engine.dispose()


def test_every_command_checks_the_revision(tmp_path: Path, database_url: str) -> None:
    config = ServingConfig.from_env(state_dir=tmp_path / "h", database_url=database_url)
    engine = create_registry_engine(database_url, create_dir=True)
    try:
        if database_url.startswith("sqlite"):
            with pytest.raises(SchemaRevisionError, match="does not exist: run `tessera-serve db"):
                open_registry(config)
        with engine.connect():
            pass  # now an empty database exists on both backends
        with pytest.raises(SchemaRevisionError) as empty:
            open_registry(config)
        assert "code expects" in str(empty.value)
        assert "run `tessera-serve db upgrade`" in str(empty.value)
        upgrade(engine, FIRST)
        with pytest.raises(SchemaRevisionError) as old:
            open_registry(config)
        assert str(old.value) == (
            f"registry database at revision {FIRST}, code expects {code_revision()}: "
            "run `tessera-serve db upgrade`"
        )
        upgrade(engine)
        with open_registry(config) as registry, registry.engine.connect() as connection:
            assert database_revision(connection) == code_revision()
    finally:
        engine.dispose()


def test_unknown_newer_revision_is_refused(sqlite_config: ServingConfig) -> None:
    engine = create_registry_engine(sqlite_config.database_url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("UPDATE alembic_version SET version_num = '9999_future'")
        with pytest.raises(SchemaRevisionError, match="9999_future"):
            upgrade(engine)
        with pytest.raises(SchemaRevisionError, match=r"9999_future, which .* upgrade Tessera"):
            open_registry(sqlite_config)
    finally:
        engine.dispose()


def test_db_upgrade_and_current_cli_from_another_directory(tmp_path: Path) -> None:
    config = ServingConfig.from_env(state_dir=tmp_path / "deep" / "home")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cli = Cli(config, elsewhere)  # the CWD has no migrations: they come from the package

    before = cli("models", "list")
    assert before.returncode == 1
    assert before.stderr.count("\n") == 1
    assert "run `tessera-serve db upgrade`" in before.stderr

    first = cli("db", "upgrade")
    assert first.returncode == 0, first.stderr
    assert f"upgraded from empty to {code_revision()}" in first.stdout
    again = cli("db", "upgrade")
    assert again.returncode == 0 and "already at revision" in again.stdout
    current = cli("db", "current")
    assert current.returncode == 0 and "up to date" in current.stdout


def test_db_current_reports_an_old_database(postgres_url: str, tmp_path: Path) -> None:
    engine = create_registry_engine(postgres_url)
    try:
        upgrade(engine, FIRST)
    finally:
        engine.dispose()
    config = ServingConfig.from_env(state_dir=tmp_path, database_url=postgres_url)
    current = Cli(config, tmp_path)("db", "current")
    assert current.returncode == 1
    assert f"database {FIRST}, code {code_revision()} (run `tessera-serve db upgrade`)" in (
        current.stdout
    )


def test_db_upgrade_creates_the_sqlite_directory(tmp_path: Path) -> None:
    config = ServingConfig.from_env(state_dir=tmp_path / "new" / "state")
    result = Cli(config, tmp_path)("db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "new" / "state" / "registry.db").is_file()
