"""The registry's receipts table: one row per stage receipt that serving wrote (issue 6).

The full receipt (``tessera_contracts.Receipt``, validated before insert) is kept as JSON;
``job_id`` links scoring and re-scoring receipts to their job, and the indexed columns
let ``tessera-serve receipts show`` find a job's or a pipeline run's receipts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UtcDateTime, utcnow


class StageReceipt(Base):
    """One stage receipt: which run and stage, its verdict, fingerprint and full JSON."""

    __tablename__ = "stage_receipts"
    __table_args__ = (
        Index("ix_stage_receipts_pipeline_run_id", "pipeline", "run_id"),
        Index("ix_stage_receipts_job_id", "job_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pipeline: Mapped[str] = mapped_column(String(128))
    run_id: Mapped[str] = mapped_column(String(128))
    stage: Mapped[str] = mapped_column(String(64))
    job_id: Mapped[int | None] = mapped_column(Integer)
    passed: Mapped[bool] = mapped_column(Boolean)
    fingerprint: Mapped[str] = mapped_column(String(64))
    receipt: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
