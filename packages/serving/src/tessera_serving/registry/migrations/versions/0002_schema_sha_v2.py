"""Add the column fingerprint ``schema_sha_v2`` (nullable) to models and live schemas.

Existing rows stay NULL until ``tessera-serve backfill-schema-sha-v2`` computes it from
their stored feature schema; ``feature_schema_sha`` is left as it was.

Revision ID: 0002_schema_sha_v2
Revises: 0001_initial
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_schema_sha_v2"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reranker_models") as batch:
        batch.add_column(sa.Column("schema_sha_v2", sa.String(12), nullable=True))
        batch.create_index("ix_reranker_models_schema_sha_v2", ["schema_sha_v2"])
    with op.batch_alter_table("live_schemas") as batch:
        batch.add_column(sa.Column("schema_sha_v2", sa.String(12), nullable=True))
        batch.create_index("ix_live_schemas_schema_sha_v2", ["schema_sha_v2"])


def downgrade() -> None:
    with op.batch_alter_table("live_schemas") as batch:
        batch.drop_index("ix_live_schemas_schema_sha_v2")
        batch.drop_column("schema_sha_v2")
    with op.batch_alter_table("reranker_models") as batch:
        batch.drop_index("ix_reranker_models_schema_sha_v2")
        batch.drop_column("schema_sha_v2")
