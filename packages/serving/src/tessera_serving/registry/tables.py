"""The registry's own tables: reranker models, live feature schemas, promotion history.

One ``reranker_models`` row per (model name, version, cell); a pooled model has one row
with ``cell_key == ""`` (exposed as ``cell is None``). A version is one registration.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UtcDateTime, utcnow

STAGES = ("none", "staging", "production", "archived")
"""Lifecycle stages; ``production`` is reached only through ``promote``."""
POOLED = ""
"""``cell_key`` of a pooled model's single row."""
VIA_RUN_DIR = "run_dir"
VIA_REFERENCE = "reference"


class RerankerModel(Base):
    """One booster of one registered model version, with its full provenance."""

    __tablename__ = "reranker_models"
    __table_args__ = (
        UniqueConstraint("name", "version", "cell_key"),
        UniqueConstraint("name", "cell_key", "run_sha256"),
        CheckConstraint("stage IN ('none', 'staging', 'production', 'archived')", name="stage"),
        CheckConstraint("version >= 1", name="version_positive"),
        Index(None, "name", "stage"),
        Index(None, "artifact_sha256"),
        Index(None, "schema_sha_v2"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    cell_key: Mapped[str] = mapped_column(String(256), default=POOLED)
    run_name: Mapped[str] = mapped_column(String(128))
    run_sha256: Mapped[str] = mapped_column(String(64))
    run_created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    registered_via: Mapped[str] = mapped_column(String(16))
    producer_name: Mapped[str] = mapped_column(String(128))
    producer_version: Mapped[str] = mapped_column(String(64))
    producer_git_sha: Mapped[str | None] = mapped_column(String(40))
    spec_yaml: Mapped[str | None] = mapped_column(Text)
    run_json: Mapped[str] = mapped_column(Text)
    dataset_name: Mapped[str] = mapped_column(String(128))
    dataset_manifest_sha256: Mapped[str] = mapped_column(String(64))
    feature_families: Mapped[list[str]] = mapped_column(JSON)
    feature_schema: Mapped[dict[str, list[str]]] = mapped_column(JSON)
    feature_names: Mapped[list[str]] = mapped_column(JSON)
    feature_schema_sha: Mapped[str] = mapped_column(String(12))
    schema_sha_v2: Mapped[str | None] = mapped_column(String(12))
    objective: Mapped[str] = mapped_column(String(32))
    num_trees: Mapped[int] = mapped_column(Integer)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    gate: Mapped[dict[str, Any]] = mapped_column(JSON)
    gate_verdict: Mapped[str] = mapped_column(String(16))
    smoke: Mapped[bool] = mapped_column(Boolean)
    license_id: Mapped[str] = mapped_column(String(128))
    license_url: Mapped[str] = mapped_column(String(2048))
    artifact_uri: Mapped[str] = mapped_column(Text)
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(16), default="none")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    @property
    def cell(self) -> str | None:
        """The category this booster serves, or ``None`` for a pooled model."""
        return self.cell_key or None

    @property
    def ref(self) -> str:
        """``NAME#VERSION`` (plus ``/cell`` for a per-category row), for messages."""
        return f"{self.name}#{self.version}" + (f" cell {self.cell_key!r}" if self.cell_key else "")


class LiveSchema(Base):
    """A feature schema production actually serves; registration requires a match."""

    __tablename__ = "live_schemas"
    __table_args__ = (UniqueConstraint("name"), Index(None, "schema_sha_v2"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128))
    feature_schema: Mapped[dict[str, list[str]]] = mapped_column(JSON)
    feature_schema_sha: Mapped[str] = mapped_column(String(12))
    schema_sha_v2: Mapped[str | None] = mapped_column(String(12))
    source: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Promotion(Base):
    """One stage change of one model version (append-only history)."""

    __tablename__ = "promotions"
    __table_args__ = (Index(None, "model_name", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_name: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    from_stage: Mapped[str] = mapped_column(String(16))
    to_stage: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
