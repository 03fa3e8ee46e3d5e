"""The one place database errors become serving errors (the caller's transaction rolls back).

Every registry access runs inside :func:`translate_db_errors` (``Registry.transaction`` does
it), so no SQLAlchemy or DB-API exception reaches a user; a uniqueness conflict is raised
as :class:`UniqueConflict` so idempotent writers can re-read and return the winner's row.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc as sa_exc

from tessera_serving.errors import RegistryError, SchemaRevisionError

UPGRADE_HINT = "run `tessera-serve db upgrade`"
_MISSING_TABLE_MARKERS = ("no such table", "undefinedtable", "does not exist", "no such column")


class UniqueConflict(RegistryError):
    """An insert lost a race on a unique constraint (a concurrent writer committed first)."""


def _first_line(error: BaseException) -> str:
    orig = getattr(error, "orig", None) or error
    text = str(orig).strip().splitlines()
    return f"{type(orig).__name__}: {text[0] if text else ''}"


def _is_unique_violation(error: sa_exc.IntegrityError) -> bool:
    orig = error.orig
    return getattr(orig, "sqlstate", None) == "23505" or "UNIQUE constraint failed" in str(orig)


@contextmanager
def translate_db_errors(where: str) -> Iterator[None]:
    """Turn SQLAlchemy/DB-API errors raised in the block into RegistryError subclasses.

    ``where`` names the database (a redacted URL) for the one-line message.
    """
    try:
        yield
    except sa_exc.IntegrityError as error:
        line = _first_line(error)
        if _is_unique_violation(error):
            raise UniqueConflict(f"registry {where}: conflicting write: {line}") from error
        raise RegistryError(f"registry {where}: integrity violation: {line}") from error
    except (sa_exc.OperationalError, sa_exc.ProgrammingError) as error:
        line = _first_line(error)
        if any(marker in line.lower() for marker in _MISSING_TABLE_MARKERS):
            raise SchemaRevisionError(
                f"registry {where} lacks a table or column this code uses ({line}): {UPGRADE_HINT}"
            ) from error
        raise RegistryError(f"registry {where}: database error: {line}") from error
    except sa_exc.SQLAlchemyError as error:
        raise RegistryError(f"registry {where}: database error: {_first_line(error)}") from error
