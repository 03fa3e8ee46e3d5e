"""Serving fixtures shared by every serving test module (registry, scoring, backends).

- ``database_url`` / ``config`` / ``registry``: a fresh, migrated registry, parametrised
  over SQLite (a file in ``tmp_path``) and PostgreSQL (its own schema on 127.0.0.1:5432,
  dropped afterwards). The PostgreSQL half skips, with the reason, only when the server is
  unreachable, and FAILS instead under CI (``CI=true``). Those tests carry the ``postgres``
  marker (``-m postgres`` / ``-m "not postgres"``).
- ``sqlite_config`` / ``sqlite_registry``: the same on SQLite only.
- ``s3_server`` / ``s3_url``: a real S3-protocol server (moto) on loopback and a fresh bucket
  URL, with the standard AWS variables (``AWS_ENDPOINT_URL`` included) set for the test.
- ``runs``: the ``runs_factory`` module (tiny real LightGBM run directories).
- ``cli``: run ``tessera-serve`` in a subprocess with a config's locations.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import runs_factory
from cli_runner import PG_PORT, Cli
from s3_server import S3Server

from tessera_serving.config import (
    ServingConfig,
)
from tessera_serving.registry import (
    Registry,
    create_registry_engine,
    open_registry,
    upgrade,
)

PG_DSN = f"host=127.0.0.1 port={PG_PORT} user=postgres dbname=test connect_timeout=3"
PG_URL = f"postgresql+psycopg://postgres@127.0.0.1:{PG_PORT}/test"
_pg_state: dict[str, str | None] = {}


def _pg_unreachable() -> str | None:
    """``None`` if the PostgreSQL server answers, else why not (checked once per session).

    Only a connection failure counts: a broken psycopg install raises, it is not a skip.
    """
    if "reason" not in _pg_state:
        import psycopg

        try:
            with psycopg.connect(PG_DSN) as connection:
                connection.execute("SELECT 1")
            _pg_state["reason"] = None
        except psycopg.OperationalError as exc:
            _pg_state["reason"] = f"PostgreSQL at 127.0.0.1:{PG_PORT} unreachable: {exc}"
    return _pg_state["reason"]


def require_postgres() -> None:
    """Skip when the server is unreachable, except under CI (``CI=true``), where it fails."""
    reason = _pg_unreachable()
    if reason is None:
        return
    if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} (CI is set: PostgreSQL tests must run, not skip)")
    pytest.skip(reason)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that runs on PostgreSQL ``postgres``, so ``-m postgres`` selects them."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_pg = callspec is not None and callspec.params.get("database_url") == "postgresql"
        if on_pg or "postgres_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL whose connections see only a fresh schema ``tessera_test_<uuid>``."""
    require_postgres()
    import psycopg

    schema = f"tessera_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(PG_DSN, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}&application_name={schema}"
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as connection:
            connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE pid <> pg_backend_pid() AND application_name = %s",
                (schema,),
            )
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A real S3-protocol server (moto, server mode) on loopback for the whole session."""
    server = S3Server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_url(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> str:
    """``s3://<fresh bucket>/artifacts``, with this process's AWS variables pointing at it."""
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    return f"s3://{s3_server.new_bucket()}/artifacts"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'home' / 'registry.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """A fresh, empty database on each backend."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(fixture))


def _config(tmp_path: Path, url: str) -> ServingConfig:
    return ServingConfig.from_env(
        state_dir=tmp_path / "home", database_url=url, artifacts_url=str(tmp_path / "artifacts")
    )


def _migrated(config: ServingConfig) -> ServingConfig:
    engine = create_registry_engine(config.database_url, create_dir=True)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return config


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> ServingConfig:
    """A migrated registry (both backends) and a local artifact store under ``tmp_path``."""
    return _migrated(_config(tmp_path, database_url))


@pytest.fixture
def sqlite_config(tmp_path: Path, sqlite_url: str) -> ServingConfig:
    """A migrated SQLite registry and a local artifact store under ``tmp_path``."""
    return _migrated(_config(tmp_path, sqlite_url))


@pytest.fixture
def registry(config: ServingConfig) -> Iterator[Registry]:
    with open_registry(config) as opened:
        yield opened


@pytest.fixture
def sqlite_registry(sqlite_config: ServingConfig) -> Iterator[Registry]:
    with open_registry(sqlite_config) as opened:
        yield opened


@pytest.fixture
def runs() -> ModuleType:
    """The ``runs_factory`` module: ``runs.write_run_dir(tmp_path, ...)`` and friends."""
    return runs_factory


@pytest.fixture
def cli(config: ServingConfig, tmp_path: Path) -> Cli:
    """``tessera-serve`` against the parametrised ``config`` (both backends)."""
    return Cli(config, tmp_path)


@pytest.fixture
def sqlite_cli(sqlite_config: ServingConfig, tmp_path: Path) -> Cli:
    """``tessera-serve`` against the SQLite ``sqlite_config``."""
    return Cli(sqlite_config, tmp_path)
