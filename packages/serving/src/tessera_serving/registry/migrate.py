"""Alembic, driven from code: the migration scripts ship inside the wheel, found from ``__file__``.

``upgrade`` migrates a database to the newest shipped revision in one transaction;
``check_revision`` is what every command but ``db upgrade`` calls first.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine

from tessera_serving.errors import RegistryError, SchemaRevisionError

from .dberrors import UPGRADE_HINT

if TYPE_CHECKING:  # alembic is imported when first needed: it costs ~1 s of CLI start-up
    from alembic.config import Config
    from alembic.script import ScriptDirectory

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


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
    """The single head revision of the shipped migration scripts."""
    heads = script_directory().get_heads()
    if len(heads) != 1:
        raise RegistryError(
            f"the shipped migrations have {len(heads)} heads {sorted(heads)}; "
            "each new revision must build on the previous head"
        )
    return heads[0]


def database_revision(connection: Connection) -> str | None:
    """The revision recorded in the database, ``None`` for a database never migrated."""
    from alembic.runtime.migration import MigrationContext

    heads = MigrationContext.configure(connection).get_current_heads()
    if len(heads) > 1:
        raise SchemaRevisionError(f"registry database has several revisions {sorted(heads)}")
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


def _known(revision: str) -> bool:
    from alembic.util import CommandError

    try:
        return script_directory().get_revision(revision) is not None
    except CommandError:
        return False


def refuse_unknown(revision: str | None) -> None:
    """SchemaRevisionError if a newer Tessera migrated the database (upgrading code fixes it)."""
    if revision is not None and not _known(revision):
        raise SchemaRevisionError(
            f"registry database at revision {revision}, which this code does not know "
            f"(newest known: {code_revision()}): the database was migrated by a newer "
            "Tessera; upgrade Tessera (tessera-serving) to use it"
        )
