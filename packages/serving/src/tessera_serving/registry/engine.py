"""Opening the registry: the engine (SQLite or PostgreSQL), the revision check, transactions.

SQLite: pysqlite's implicit transactions are switched off and every write transaction
starts with ``BEGIN IMMEDIATE`` so concurrent writers queue on the busy timeout instead
of dead-locking on a lock upgrade.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session

from tessera_serving.config import ServingConfig, redact_url
from tessera_serving.errors import ConfigurationError, SchemaRevisionError

from .dberrors import translate_db_errors
from .migrate import check_revision as _check_revision
from .migrate import code_revision as _code_revision
from .migrate import database_revision as _database_revision
from .migrate import refuse_unknown as _refuse_unknown
from .migrate import upgrade as _upgrade

if TYPE_CHECKING:
    from tessera_serving.store import ArtifactStore

SQLITE_BUSY_TIMEOUT_S = 60.0
SUPPORTED_BACKENDS = ("sqlite", "postgresql")
_URL_FORMS = "expected sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/DATABASE"
_READONLY = "tessera_readonly"


def _install_sqlite_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        readonly = connection.get_execution_options().get(_READONLY, False)
        connection.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


def create_registry_engine(url: str, *, create_dir: bool = False) -> Engine:
    """An engine for ``url``; ``create_dir`` makes a SQLite file's directory if missing."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigurationError(
            f"invalid registry database URL {redact_url(url)!r}: {exc}; {_URL_FORMS}"
        ) from exc
    if parsed.get_backend_name() not in SUPPORTED_BACKENDS:
        raise ConfigurationError(
            f"registry database URL {redact_url(url)!r}: unsupported database "
            f"{parsed.get_backend_name()!r}; {_URL_FORMS}"
        )
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            directory = Path(database).expanduser().absolute().parent
            if create_dir:
                directory.mkdir(parents=True, exist_ok=True)
            elif not Path(database).expanduser().exists():
                raise SchemaRevisionError(
                    f"registry database {database} does not exist: run `tessera-serve db upgrade`"
                )
        engine = _create(parsed, url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
        _install_sqlite_hooks(engine)
        return engine
    return _create(parsed, url, pool_pre_ping=True)


def _create(parsed: URL, url: str, **options: Any) -> Engine:
    """``create_engine`` with a missing or unknown driver reported in one line."""
    try:
        return create_engine(parsed, **options)
    except (ArgumentError, ImportError) as exc:
        raise ConfigurationError(
            f"registry database URL {redact_url(url)!r}: driver {parsed.drivername!r} is not "
            f"available ({type(exc).__name__}: {exc}); {_URL_FORMS}"
        ) from exc


class Registry:
    """An open registry database plus the artifact store its rows point into."""

    def __init__(self, config: ServingConfig, engine: Engine) -> None:
        self.config = config
        self.engine = engine
        self.where = redact_url(config.database_url)
        self._store: ArtifactStore | None = None

    @property
    def store(self) -> ArtifactStore:
        """The configured artifact store (opened on first use)."""
        if self._store is None:
            from tessera_serving.store import open_store

            self._store = open_store(self.config.artifacts_url)
        return self._store

    @contextmanager
    def errors(self) -> Iterator[None]:
        """Translate database errors raised in the block (for work outside ``transaction``)."""
        with translate_db_errors(self.where):
            yield

    @contextmanager
    def transaction(self, *, readonly: bool = False) -> Iterator[Session]:
        """A session that commits once at the end of the block or rolls back on any error."""
        bind = self.engine.execution_options(**{_READONLY: True}) if readonly else self.engine
        with (
            translate_db_errors(self.where),
            Session(bind, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def open_registry(config: ServingConfig, *, check_revision: bool = True) -> Registry:
    """Open the registry of ``config``; by default fail unless it is at the code's revision."""
    engine = create_registry_engine(config.database_url)
    registry = Registry(config, engine)
    if check_revision:
        try:
            with registry.errors():  # a read: no SQLite write lock to queue for
                _check_revision(engine.execution_options(**{_READONLY: True}))
        except BaseException:
            engine.dispose()
            raise
    return registry


def upgrade_registry(config: ServingConfig) -> tuple[str | None, str | None]:
    """Migrate the registry of ``config`` to the code's head (creating a SQLite file).

    Returns (revision before, revision after); equal when it was already current.
    """
    engine = create_registry_engine(config.database_url, create_dir=True)
    try:
        with translate_db_errors(redact_url(config.database_url)):
            return _upgrade(engine)
    finally:
        engine.dispose()


def registry_revisions(config: ServingConfig) -> tuple[str | None, str]:
    """(the database's revision or None when empty, the revision this code expects)."""
    engine = create_registry_engine(config.database_url)
    try:
        with translate_db_errors(redact_url(config.database_url)), engine.connect() as connection:
            found = _database_revision(connection)
    finally:
        engine.dispose()
    _refuse_unknown(found)
    return found, _code_revision()
