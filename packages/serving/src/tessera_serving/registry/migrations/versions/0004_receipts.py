"""Receipts: one row per stage receipt serving writes (registration, scoring, re-scoring,
backfill), with the full validated receipt as JSON.

Revision ID: 0004_receipts
Revises: 0003_scoring
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_receipts"
down_revision = "0003_scoring"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stage_receipts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("pipeline", sa.String(128), nullable=False),
        sa.Column("run_id", sa.String(128), nullable=False),
        sa.Column("stage", sa.String(64), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("receipt", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_stage_receipts"),
    )
    op.create_index("ix_stage_receipts_pipeline_run_id", "stage_receipts", ["pipeline", "run_id"])
    op.create_index("ix_stage_receipts_job_id", "stage_receipts", ["job_id"])


def downgrade() -> None:
    op.drop_index("ix_stage_receipts_job_id", table_name="stage_receipts")
    op.drop_index("ix_stage_receipts_pipeline_run_id", table_name="stage_receipts")
    op.drop_table("stage_receipts")
