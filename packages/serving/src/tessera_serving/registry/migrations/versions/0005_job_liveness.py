"""Job liveness and staged scores: a heartbeat, the owning process and the model's stage on
each scoring job, and a staging table where a storing job's scores wait, invisible, until
the job publishes them in one transaction.

Revision ID: 0005_job_liveness
Revises: 0004_receipts
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_job_liveness"
down_revision = "0004_receipts"
branch_labels = None
depends_on = None

_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("scoring_jobs") as batch:
        batch.add_column(sa.Column("heartbeat_at", _UTC, nullable=True))
        batch.add_column(sa.Column("host", sa.String(255), nullable=True))
        batch.add_column(sa.Column("pid", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("model_stage", sa.String(16), nullable=True))
    op.create_index("ix_scoring_jobs_status", "scoring_jobs", ["status"])
    op.create_table(
        "staged_scores",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("query_id", sa.String(256), nullable=False),
        sa.Column("candidate_id", sa.String(256), nullable=False),
        sa.Column("score", sa.Double(), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("model_sha256", sa.String(64), nullable=True),
        sa.Column("row_index", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_staged_scores"),
        sa.ForeignKeyConstraint(
            ["job_id"], ["scoring_jobs.id"], name="fk_staged_scores_job_id_scoring_jobs"
        ),
        sa.UniqueConstraint(
            "job_id",
            "query_id",
            "candidate_id",
            name="uq_staged_scores_job_id_query_id_candidate_id",
        ),
    )


def downgrade() -> None:
    op.drop_table("staged_scores")
    op.drop_index("ix_scoring_jobs_status", table_name="scoring_jobs")
    with op.batch_alter_table("scoring_jobs") as batch:
        batch.drop_column("model_stage")
        batch.drop_column("pid")
        batch.drop_column("host")
        batch.drop_column("heartbeat_at")
