"""The first registry: reranker models with provenance, live schemas, promotion history.

Fingerprints here are the family fingerprint ``feature_schema_sha`` (v1) only; the column
fingerprint arrives in 0002.

Revision ID: 0001_initial
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "reranker_models",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("cell_key", sa.String(256), nullable=False),
        sa.Column("run_name", sa.String(128), nullable=False),
        sa.Column("run_sha256", sa.String(64), nullable=False),
        sa.Column("run_created_at", _UTC, nullable=False),
        sa.Column("registered_via", sa.String(16), nullable=False),
        sa.Column("producer_name", sa.String(128), nullable=False),
        sa.Column("producer_version", sa.String(64), nullable=False),
        sa.Column("producer_git_sha", sa.String(40), nullable=True),
        sa.Column("spec_yaml", sa.Text(), nullable=True),
        sa.Column("run_json", sa.Text(), nullable=False),
        sa.Column("dataset_name", sa.String(128), nullable=False),
        sa.Column("dataset_manifest_sha256", sa.String(64), nullable=False),
        sa.Column("feature_families", sa.JSON(), nullable=False),
        sa.Column("feature_schema", sa.JSON(), nullable=False),
        sa.Column("feature_names", sa.JSON(), nullable=False),
        sa.Column("feature_schema_sha", sa.String(12), nullable=False),
        sa.Column("objective", sa.String(32), nullable=False),
        sa.Column("num_trees", sa.Integer(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("gate", sa.JSON(), nullable=False),
        sa.Column("gate_verdict", sa.String(16), nullable=False),
        sa.Column("smoke", sa.Boolean(), nullable=False),
        sa.Column("license_id", sa.String(128), nullable=False),
        sa.Column("license_url", sa.String(2048), nullable=False),
        sa.Column("artifact_uri", sa.Text(), nullable=False),
        sa.Column("artifact_sha256", sa.String(64), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reranker_models"),
        sa.UniqueConstraint(
            "name", "version", "cell_key", name="uq_reranker_models_name_version_cell_key"
        ),
        sa.UniqueConstraint(
            "name", "cell_key", "run_sha256", name="uq_reranker_models_name_cell_key_run_sha256"
        ),
        sa.CheckConstraint(
            "stage IN ('none', 'staging', 'production', 'archived')",
            name="ck_reranker_models_stage",
        ),
        sa.CheckConstraint("version >= 1", name="ck_reranker_models_version_positive"),
    )
    op.create_index("ix_reranker_models_name_stage", "reranker_models", ["name", "stage"])
    op.create_index("ix_reranker_models_artifact_sha256", "reranker_models", ["artifact_sha256"])

    op.create_table(
        "live_schemas",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("feature_schema", sa.JSON(), nullable=False),
        sa.Column("feature_schema_sha", sa.String(12), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_live_schemas"),
        sa.UniqueConstraint("name", name="uq_live_schemas_name"),
    )

    op.create_table(
        "promotions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("from_stage", sa.String(16), nullable=False),
        sa.Column("to_stage", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_promotions"),
    )
    op.create_index("ix_promotions_model_name_version", "promotions", ["model_name", "version"])


def downgrade() -> None:
    op.drop_table("promotions")
    op.drop_table("live_schemas")
    op.drop_index("ix_reranker_models_artifact_sha256", table_name="reranker_models")
    op.drop_index("ix_reranker_models_name_stage", table_name="reranker_models")
    op.drop_table("reranker_models")
