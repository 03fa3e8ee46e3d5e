"""The relational registry: SQLAlchemy 2 tables, Alembic migrations shipped in the wheel,
one transaction helper and one database-error translation point.

    registry = open_registry(ServingConfig.from_env())   # checks the schema revision
    with registry.transaction() as session: ...          # commits once or rolls back

Other serving modules declare their tables on :class:`Base` and add Alembic revisions
under ``registry/migrations/versions/`` on top of the current head, appended to ``revisions.py``.
"""

from __future__ import annotations

from .base import NAMING_CONVENTION, Base, UtcDateTime, utcnow
from .dberrors import UPGRADE_HINT, UniqueConflict, translate_db_errors
from .engine import Registry, create_registry_engine, open_registry
from .migrate import (
    MIGRATIONS_DIR,
    check_revision,
    code_revision,
    database_revision,
    upgrade,
)
from .tables import POOLED, STAGES, LiveSchema, Promotion, RerankerModel

__all__ = [
    "MIGRATIONS_DIR",
    "NAMING_CONVENTION",
    "POOLED",
    "STAGES",
    "UPGRADE_HINT",
    "Base",
    "LiveSchema",
    "Promotion",
    "Registry",
    "RerankerModel",
    "UniqueConflict",
    "UtcDateTime",
    "check_revision",
    "code_revision",
    "create_registry_engine",
    "database_revision",
    "open_registry",
    "translate_db_errors",
    "upgrade",
    "utcnow",
]
