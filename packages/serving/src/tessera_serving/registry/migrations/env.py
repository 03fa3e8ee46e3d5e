"""Alembic environment: runs on the connection ``tessera_serving.registry.migrate`` hands in.

Without one (a developer running ``alembic`` by hand) it connects to the configured
registry (``TESSERA_DATABASE_URL`` or the default SQLite file).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from tessera_serving.registry.base import Base


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from tessera_serving.config import ServingConfig
    from tessera_serving.registry.engine import create_registry_engine

    engine = create_registry_engine(ServingConfig.from_env().database_url, create_dir=True)
    try:
        with engine.begin() as own_connection:
            _run(own_connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("tessera-serve migrations run online only (tessera-serve db upgrade)")
run_migrations_online()
