"""Registered models as JSON-ready documents: one line per version, and one version in full.

The shapes ``tessera-serve models list --json`` / ``models show`` print and the HTTP service
returns.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from .models_api import VersionSummary, find_version, list_versions
from .registry import Promotion, Registry, RerankerModel

SHOW_FIELDS = (
    "id",
    "name",
    "version",
    "cell",
    "stage",
    "run_name",
    "run_sha256",
    "run_created_at",
    "registered_via",
    "producer_name",
    "producer_version",
    "producer_git_sha",
    "dataset_name",
    "dataset_manifest_sha256",
    "objective",
    "num_trees",
    "feature_families",
    "feature_schema",
    "feature_names",
    "feature_schema_sha",
    "schema_sha_v2",
    "metrics",
    "gate",
    "gate_verdict",
    "smoke",
    "license_id",
    "license_url",
    "artifact_uri",
    "artifact_sha256",
    "created_at",
)


def version_summary(v: VersionSummary) -> dict[str, Any]:
    """One version as ``models list --json`` prints it."""
    return {
        "name": v.name,
        "version": v.version,
        "cells": list(v.cells),
        "stage": v.stage,
        "gate_verdict": v.gate_verdict,
        "smoke": v.smoke,
        "schema_sha_v2": v.schema_sha_v2,
        "created_at": v.created_at.isoformat(),
    }


def list_model_documents(registry: Registry, name: str | None = None) -> list[dict[str, Any]]:
    """Every version (optionally of one name), newest first within a name."""
    return [version_summary(v) for v in list_versions(registry, name)]


def _plain(row: RerankerModel, full: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in SHOW_FIELDS:
        value = getattr(row, name)
        out[name] = value.isoformat() if hasattr(value, "isoformat") else value
    if full:
        out["run_json"] = row.run_json
        out["spec_yaml"] = row.spec_yaml
    return out


def model_document(registry: Registry, ref: str, *, full: bool = False) -> dict[str, Any]:
    """Every row of the version ``ref`` designates, with its promotion history."""
    with registry.transaction(readonly=True) as session:
        name, version = find_version(session, ref)
        rows = session.scalars(
            select(RerankerModel)
            .where(RerankerModel.name == name, RerankerModel.version == version)
            .order_by(RerankerModel.cell_key)
        ).all()
        history = session.scalars(
            select(Promotion)
            .where(Promotion.model_name == name, Promotion.version == version)
            .order_by(Promotion.id)
        ).all()
        return {
            "name": name,
            "version": version,
            "stage": rows[0].stage,
            "rows": [_plain(row, full) for row in rows],
            "promotions": [
                {
                    "from": p.from_stage,
                    "to": p.to_stage,
                    "reason": p.reason,
                    "at": p.created_at.isoformat(),
                }
                for p in history
            ],
        }
