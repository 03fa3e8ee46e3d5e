"""Alembic, driven from code: the migration scripts ship inside the wheel, found from ``__file__``.

``upgrade`` migrates a database to the newest shipped revision in one transaction;
``check_revision`` is what every command but ``db upgrade`` calls first: it reads the stored
revision with a plain SELECT and compares it with the constants in ``revisions``, so it
imports no Alembic.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

from tessera_serving.errors import SchemaRevisionError

from .dberrors import UPGRADE_HINT
from .revisions import HEAD_REVISION, REVISIONS

if TYPE_CHECKING:  # alembic is imported when first needed: it costs ~1 s of CLI start-up
    from alembic.config import Config
    from alembic.script import ScriptDirectory

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_VERSION_TABLE = "alembic_version"


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at the shipped scripts (and, if given, a live connection)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


@lru_cache(maxsize=1)
def script_directory() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def code_revision() -> str:
    """The head revision of the shipped migration scripts (a test checks it is the only head)."""
    return HEAD_REVISION


def database_revision(connection: Connection) -> str | None:
    """The revision recorded in the database, ``None`` for a database never migrated.

    Reads Alembic's ``alembic_version`` table the way Alembic does (the table found on the
    connection's default schema), without importing Alembic.
    """
    if not inspect(connection).has_table(_VERSION_TABLE):
        return None
    heads = sorted(connection.execute(text(f"SELECT version_num FROM {_VERSION_TABLE}")).scalars())
    if len(heads) > 1:
        raise SchemaRevisionError(f"registry database has several revisions {heads}")
    return heads[0] if heads else None


def check_revision(engine: Engine) -> None:
    """Raise SchemaRevisionError unless the database is at the code's revision."""
    expected = code_revision()
    with engine.connect() as connection:
        found = database_revision(connection)
    refuse_unknown(found)
    if found != expected:
        state = found if found is not None else "none (empty database)"
        raise SchemaRevisionError(
            f"registry database at revision {state}, code expects {expected}: {UPGRADE_HINT}"
        )


def upgrade(engine: Engine, target: str = "head") -> tuple[str | None, str | None]:
    """Migrate to ``target`` in one transaction; return (revision before, revision after)."""
    from alembic import command

    with engine.begin() as connection:
        before = database_revision(connection)
        refuse_unknown(before)
        command.upgrade(alembic_config(connection), target)
        after = database_revision(connection)
    return before, after


def refuse_unknown(revision: str | None) -> None:
    """SchemaRevisionError if a newer Tessera migrated the database (upgrading code fixes it)."""
    if revision is not None and revision not in REVISIONS:
        raise SchemaRevisionError(
            f"registry database at revision {revision}, which this code does not know "
            f"(newest known: {code_revision()}): the database was migrated by a newer "
            "Tessera; upgrade Tessera (tessera-serving) to use it"
        )
