"""Scoring's registry tables: jobs, their events, current scores, the score audit, sweeps.

``current_scores`` holds one row per (model name, query id, candidate id): scores are scoped
by model *name*, so a new version of a model re-scores its predecessor's rows. Ids are kept
as text (an int64 query id is stored as its decimal string). ``input_job_id``/``row_index``
say where the row's features live (the job's content-addressed input file) so a re-score
can re-read them. ``score_audit`` is append-only: one row per write, with the previous
values; ``UNIQUE(sweep_id, current_id)`` makes a re-score sweep write each row at most once.
A NaN score is stored as NULL. ``staged_scores`` holds a storing job's scores until the
job publishes them, in one transaction, into ``current_scores`` and ``score_audit``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UtcDateTime, utcnow

JOB_KINDS = ("score", "rescore")
# ``abandoned``: the job's process died (stale heartbeat or, on its host, no such pid).
JOB_STATUSES = ("running", "succeeded", "failed", "abandoned")


class ScoringJob(Base):
    """One ``score`` or ``rescore`` run: what it used, what it produced, how it ended."""

    __tablename__ = "scoring_jobs"
    __table_args__ = (Index(None, "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="running")
    model_ref: Mapped[str] = mapped_column(String(256))
    model_name: Mapped[str] = mapped_column(String(128))
    model_version: Mapped[int | None] = mapped_column(Integer)
    model_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    model_sha256s: Mapped[list[str]] = mapped_column(JSON, default=list)
    require_stage: Mapped[str | None] = mapped_column(String(16))
    backend: Mapped[str | None] = mapped_column(String(16))
    num_threads: Mapped[int | None] = mapped_column(Integer)
    input_path: Mapped[str | None] = mapped_column(Text)
    input_sha256: Mapped[str | None] = mapped_column(String(64))
    input_uri: Mapped[str | None] = mapped_column(Text)
    feature_schema: Mapped[dict[str, list[str]] | None] = mapped_column(JSON)
    live_schema_sha: Mapped[str | None] = mapped_column(String(12))
    output_path: Mapped[str | None] = mapped_column(Text)
    stored: Mapped[bool] = mapped_column(Boolean, default=False)
    sweep_id: Mapped[int | None] = mapped_column(Integer)
    rows: Mapped[int | None] = mapped_column(BigInteger)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None] = mapped_column(Integer)
    model_stage: Mapped[str | None] = mapped_column(String(16))


class JobEvent(Base):
    """One event of a job (guard, backend), in the order it happened."""

    __tablename__ = "job_events"
    __table_args__ = (UniqueConstraint("job_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("scoring_jobs.id"))
    seq: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(16))
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class RescoreSweep(Base):
    """One re-score of a model name's stored scores with one model version; resumable."""

    __tablename__ = "rescore_sweeps"
    __table_args__ = (Index(None, "sweep_key", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sweep_key: Mapped[str] = mapped_column(String(64))
    model_name: Mapped[str] = mapped_column(String(128))
    model_ref: Mapped[str] = mapped_column(String(256))
    model_ids: Mapped[list[int]] = mapped_column(JSON)
    jobs_filter: Mapped[list[int] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="running")
    page_size: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class CurrentScore(Base):
    """The latest score of one candidate for one query under one model name."""

    __tablename__ = "current_scores"
    __table_args__ = (
        UniqueConstraint("model_name", "query_id", "candidate_id"),
        Index(None, "model_name", "input_job_id", "row_index"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_name: Mapped[str] = mapped_column(String(128))
    query_id: Mapped[str] = mapped_column(String(256))
    candidate_id: Mapped[str] = mapped_column(String(256))
    score: Mapped[float | None] = mapped_column(Double)
    source: Mapped[str] = mapped_column(String(16))
    model_sha256: Mapped[str | None] = mapped_column(String(64))
    job_id: Mapped[int] = mapped_column(ForeignKey("scoring_jobs.id"))
    input_job_id: Mapped[int] = mapped_column(ForeignKey("scoring_jobs.id"))
    row_index: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class StagedScore(Base):
    """A storing job's score, invisible until the job publishes (then deleted)."""

    __tablename__ = "staged_scores"
    __table_args__ = (UniqueConstraint("job_id", "query_id", "candidate_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("scoring_jobs.id"))
    query_id: Mapped[str] = mapped_column(String(256))
    candidate_id: Mapped[str] = mapped_column(String(256))
    score: Mapped[float | None] = mapped_column(Double)
    source: Mapped[str] = mapped_column(String(16))
    model_sha256: Mapped[str | None] = mapped_column(String(64))
    row_index: Mapped[int] = mapped_column(BigInteger)


class ScoreAudit(Base):
    """Append-only: one row per write of a current score, with what it replaced."""

    __tablename__ = "score_audit"
    __table_args__ = (UniqueConstraint("sweep_id", "current_id"), Index(None, "current_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    current_id: Mapped[int] = mapped_column(ForeignKey("current_scores.id"))
    job_id: Mapped[int] = mapped_column(ForeignKey("scoring_jobs.id"))
    sweep_id: Mapped[int | None] = mapped_column(ForeignKey("rescore_sweeps.id"))
    score: Mapped[float | None] = mapped_column(Double)
    source: Mapped[str] = mapped_column(String(16))
    model_sha256: Mapped[str | None] = mapped_column(String(64))
    previous_score: Mapped[float | None] = mapped_column(Double)
    previous_source: Mapped[str | None] = mapped_column(String(16))
    previous_model_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
