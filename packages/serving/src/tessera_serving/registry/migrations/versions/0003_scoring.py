"""Scoring: jobs and their events, current scores, the append-only score audit, sweeps.

Revision ID: 0003_scoring
Revises: 0002_schema_sha_v2
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_scoring"
down_revision = "0002_schema_sha_v2"
branch_labels = None
depends_on = None

_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "scoring_jobs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("model_ref", sa.String(256), nullable=False),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=True),
        sa.Column("model_ids", sa.JSON(), nullable=False),
        sa.Column("model_sha256s", sa.JSON(), nullable=False),
        sa.Column("require_stage", sa.String(16), nullable=True),
        sa.Column("backend", sa.String(16), nullable=True),
        sa.Column("num_threads", sa.Integer(), nullable=True),
        sa.Column("input_path", sa.Text(), nullable=True),
        sa.Column("input_sha256", sa.String(64), nullable=True),
        sa.Column("input_uri", sa.Text(), nullable=True),
        sa.Column("feature_schema", sa.JSON(), nullable=True),
        sa.Column("live_schema_sha", sa.String(12), nullable=True),
        sa.Column("output_path", sa.Text(), nullable=True),
        sa.Column("stored", sa.Boolean(), nullable=False),
        sa.Column("sweep_id", sa.Integer(), nullable=True),
        sa.Column("rows", sa.BigInteger(), nullable=True),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("finished_at", _UTC, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_scoring_jobs"),
    )
    op.create_table(
        "job_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_job_events"),
        sa.ForeignKeyConstraint(
            ["job_id"], ["scoring_jobs.id"], name="fk_job_events_job_id_scoring_jobs"
        ),
        sa.UniqueConstraint("job_id", "seq", name="uq_job_events_job_id_seq"),
    )
    op.create_table(
        "rescore_sweeps",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("sweep_key", sa.String(64), nullable=False),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("model_ref", sa.String(256), nullable=False),
        sa.Column("model_ids", sa.JSON(), nullable=False),
        sa.Column("jobs_filter", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("finished_at", _UTC, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_rescore_sweeps"),
    )
    op.create_index("ix_rescore_sweeps_sweep_key_status", "rescore_sweeps", ["sweep_key", "status"])
    op.create_table(
        "current_scores",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("query_id", sa.String(256), nullable=False),
        sa.Column("candidate_id", sa.String(256), nullable=False),
        sa.Column("score", sa.Double(), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("model_sha256", sa.String(64), nullable=True),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("input_job_id", sa.Integer(), nullable=False),
        sa.Column("row_index", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_current_scores"),
        sa.ForeignKeyConstraint(
            ["job_id"], ["scoring_jobs.id"], name="fk_current_scores_job_id_scoring_jobs"
        ),
        sa.ForeignKeyConstraint(
            ["input_job_id"],
            ["scoring_jobs.id"],
            name="fk_current_scores_input_job_id_scoring_jobs",
        ),
        sa.UniqueConstraint(
            "model_name",
            "query_id",
            "candidate_id",
            name="uq_current_scores_model_name_query_id_candidate_id",
        ),
    )
    op.create_index(
        "ix_current_scores_model_name_input_job_id_row_index",
        "current_scores",
        ["model_name", "input_job_id", "row_index"],
    )
    op.create_table(
        "score_audit",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("current_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("sweep_id", sa.Integer(), nullable=True),
        sa.Column("score", sa.Double(), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("model_sha256", sa.String(64), nullable=True),
        sa.Column("previous_score", sa.Double(), nullable=True),
        sa.Column("previous_source", sa.String(16), nullable=True),
        sa.Column("previous_model_sha256", sa.String(64), nullable=True),
        sa.Column("created_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_score_audit"),
        sa.ForeignKeyConstraint(
            ["current_id"], ["current_scores.id"], name="fk_score_audit_current_id_current_scores"
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["scoring_jobs.id"], name="fk_score_audit_job_id_scoring_jobs"
        ),
        sa.ForeignKeyConstraint(
            ["sweep_id"], ["rescore_sweeps.id"], name="fk_score_audit_sweep_id_rescore_sweeps"
        ),
        sa.UniqueConstraint("sweep_id", "current_id", name="uq_score_audit_sweep_id_current_id"),
    )
    op.create_index("ix_score_audit_current_id", "score_audit", ["current_id"])


def downgrade() -> None:
    op.drop_index("ix_score_audit_current_id", table_name="score_audit")
    op.drop_table("score_audit")
    op.drop_index(
        "ix_current_scores_model_name_input_job_id_row_index", table_name="current_scores"
    )
    op.drop_table("current_scores")
    op.drop_index("ix_rescore_sweeps_sweep_key_status", table_name="rescore_sweeps")
    op.drop_table("rescore_sweeps")
    op.drop_table("job_events")
    op.drop_table("scoring_jobs")
