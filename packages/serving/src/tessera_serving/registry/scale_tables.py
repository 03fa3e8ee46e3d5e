"""Scale-out tables: the pages of a re-score sweep and the partitions of a partitioned job.

``rescore_pages`` splits a sweep into row ranges of whole queries of one input; a worker
claims one with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL) and marks it ``done`` in the same
transaction that writes its scores, so several workers share a sweep and a page whose worker
died is simply claimed again. ``score_partitions`` records each committed partition of a
partitioned score job; ``UNIQUE(batch_key, partition)`` makes a partition commit at most once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UtcDateTime, utcnow

PAGE_STATUSES = ("pending", "done")


class RescorePage(Base):
    """Rows ``[first_row, end_row)`` of one input job's file, re-scored in one transaction."""

    __tablename__ = "rescore_pages"
    __table_args__ = (
        UniqueConstraint("sweep_id", "input_job_id", "first_row"),
        Index(None, "sweep_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sweep_id: Mapped[int] = mapped_column(ForeignKey("rescore_sweeps.id"))
    input_job_id: Mapped[int] = mapped_column(ForeignKey("scoring_jobs.id"))
    first_row: Mapped[int] = mapped_column(BigInteger)
    end_row: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    job_id: Mapped[int | None] = mapped_column(Integer)
    rescored: Mapped[int | None] = mapped_column(Integer)
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ScorePartition(Base):
    """One committed partition of a partitioned score job (its output and stored scores)."""

    __tablename__ = "score_partitions"
    __table_args__ = (UniqueConstraint("batch_key", "partition"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    batch_key: Mapped[str] = mapped_column(String(64))
    partition: Mapped[str] = mapped_column(String(1024))
    job_id: Mapped[int] = mapped_column(ForeignKey("scoring_jobs.id"))
    input_sha256: Mapped[str] = mapped_column(String(64))
    output_uri: Mapped[str] = mapped_column(Text)
    rows: Mapped[int] = mapped_column(BigInteger)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON)
    fallback: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    worker: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
