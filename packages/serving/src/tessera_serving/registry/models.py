"""Reading registered models: list, show, and resolve ``NAME``/``NAME@stage``/``NAME#VERSION``.

``resolve_model`` is what scoring uses: it returns every row (one per cell) of exactly one
model version as plain frozen values, so callers never hold a live ORM object.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from tessera_serving.errors import NotFoundError
from tessera_serving.registry.tables import STAGES, Promotion, RerankerModel

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tessera_serving.registry import Registry

_REF = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]{0,127})(?:@(?P<stage>[a-z]+)|#(?P<version>\d+))?$"
)


@dataclass(frozen=True)
class ModelRow:
    """One booster of a model version (one cell; ``cell`` is None for a pooled model)."""

    id: int
    name: str
    version: int
    cell: str | None
    run_name: str
    feature_names: tuple[str, ...]
    feature_schema: dict[str, list[str]]
    feature_schema_sha: str
    schema_sha_v2: str | None
    objective: str
    artifact_sha256: str
    artifact_uri: str
    stage: str
    smoke: bool
    gate_verdict: str
    license_id: str
    license_url: str
    num_trees: int
    metrics: dict[str, Any]
    created_at: datetime

    @classmethod
    def of(cls, row: RerankerModel) -> ModelRow:
        return cls(
            id=row.id,
            name=row.name,
            version=row.version,
            cell=row.cell,
            run_name=row.run_name,
            feature_names=tuple(row.feature_names),
            feature_schema={k: list(v) for k, v in row.feature_schema.items()},
            feature_schema_sha=row.feature_schema_sha,
            schema_sha_v2=row.schema_sha_v2,
            objective=row.objective,
            artifact_sha256=row.artifact_sha256,
            artifact_uri=row.artifact_uri,
            stage=row.stage,
            smoke=row.smoke,
            gate_verdict=row.gate_verdict,
            license_id=row.license_id,
            license_url=row.license_url,
            num_trees=row.num_trees,
            metrics=dict(row.metrics),
            created_at=row.created_at,
        )


@dataclass(frozen=True)
class ResolvedModel:
    """Exactly one model version: its rows, one per cell (a pooled model has one row)."""

    name: str
    version: int
    stage: str
    rows: tuple[ModelRow, ...]

    @property
    def ref(self) -> str:
        return f"{self.name}#{self.version}"

    @property
    def pooled(self) -> bool:
        return len(self.rows) == 1 and self.rows[0].cell is None

    def for_cell(self, cell: str | None) -> ModelRow | None:
        """The row serving ``cell`` (the pooled row serves every cell), or None."""
        if self.pooled:
            return self.rows[0]
        return next((row for row in self.rows if row.cell == cell), None)


def parse_ref(ref: str) -> tuple[str, str | None, int | None]:
    """``NAME`` / ``NAME@stage`` / ``NAME#VERSION`` -> (name, stage, version)."""
    match = _REF.match(ref)
    if match is None:
        raise NotFoundError(f"model reference {ref!r} is not NAME, NAME@stage or NAME#VERSION")
    stage = match["stage"]
    if stage is not None and stage not in STAGES:
        raise NotFoundError(f"model reference {ref!r}: unknown stage {stage!r}, one of {STAGES}")
    version = int(match["version"]) if match["version"] is not None else None
    return match["name"], stage, version


def version_rows(session: Session, name: str, version: int) -> list[RerankerModel]:
    """The rows of one model version, pooled first then by cell."""
    query = (
        select(RerankerModel)
        .where(RerankerModel.name == name, RerankerModel.version == version)
        .order_by(RerankerModel.cell_key)
    )
    return list(session.scalars(query))


def find_version(session: Session, ref: str) -> tuple[str, int]:
    """The (name, version) ``ref`` designates; NotFoundError with a one-line reason."""
    name, stage, version = parse_ref(ref)
    latest = session.scalar(
        select(func.max(RerankerModel.version)).where(RerankerModel.name == name)
    )
    if latest is None:
        raise NotFoundError(f"model {name!r} is not registered (see `tessera-serve models list`)")
    if version is not None:
        exists = session.scalar(
            select(func.count()).where(RerankerModel.name == name, RerankerModel.version == version)
        )
        if not exists:
            raise NotFoundError(f"model {name!r} has no version {version} (latest is {latest})")
        return name, version
    if stage is None:
        return name, int(latest)
    in_stage = session.scalar(
        select(func.max(RerankerModel.version)).where(
            RerankerModel.name == name, RerankerModel.stage == stage
        )
    )
    if in_stage is None:
        hint = f"promote one with `tessera-serve promote {name}`" if stage == "production" else ""
        raise NotFoundError(
            f"model {name!r} has no version in stage {stage!r}" + (f"; {hint}" if hint else "")
        )
    return name, int(in_stage)


def resolve_model(registry: Registry, ref: str) -> ResolvedModel:
    """The rows of the model version ``ref`` designates."""
    with registry.transaction(readonly=True) as session:
        name, version = find_version(session, ref)
        rows = [ModelRow.of(row) for row in version_rows(session, name, version)]
    return ResolvedModel(name=name, version=version, stage=rows[0].stage, rows=tuple(rows))


@dataclass(frozen=True)
class VersionSummary:
    """One line of ``models list``."""

    name: str
    version: int
    cells: tuple[str | None, ...]
    stage: str
    gate_verdict: str
    smoke: bool
    schema_sha_v2: str | None
    created_at: datetime


def list_versions(registry: Registry, name: str | None = None) -> list[VersionSummary]:
    """Every model version (optionally of one name), newest first within a name."""
    with registry.transaction(readonly=True) as session:
        query = select(RerankerModel).order_by(
            RerankerModel.name, RerankerModel.version.desc(), RerankerModel.cell_key
        )
        if name is not None:
            query = query.where(RerankerModel.name == name)
        grouped: dict[tuple[str, int], list[RerankerModel]] = {}
        for row in session.scalars(query):
            grouped.setdefault((row.name, row.version), []).append(row)
    summaries = []
    for (model, version), rows in grouped.items():
        verdicts = {row.gate_verdict for row in rows}
        v2 = {row.schema_sha_v2 for row in rows}
        summaries.append(
            VersionSummary(
                name=model,
                version=version,
                cells=tuple(row.cell for row in rows),
                stage=rows[0].stage,
                gate_verdict=verdicts.pop() if len(verdicts) == 1 else "MIXED",
                smoke=any(row.smoke for row in rows),
                schema_sha_v2=v2.pop() if len(v2) == 1 else None,
                created_at=min(row.created_at for row in rows),
            )
        )
    return summaries


_SHOW_FIELDS = (
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


def _row_document(row: RerankerModel, full: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in _SHOW_FIELDS:
        value = getattr(row, field)
        out[field] = value.isoformat() if hasattr(value, "isoformat") else value
    if full:
        out["run_json"] = row.run_json
        out["spec_yaml"] = row.spec_yaml
    return out


def describe_version(registry: Registry, ref: str, *, full: bool = False) -> dict[str, Any]:
    """One model version as a JSON-ready document: its rows (cells) and promotion history.

    ``full`` adds each row's stored ``run.json`` and ``spec.yaml`` text.
    """
    with registry.transaction(readonly=True) as session:
        name, version = find_version(session, ref)
        rows = version_rows(session, name, version)
        history = session.scalars(
            select(Promotion)
            .where(Promotion.model_name == name, Promotion.version == version)
            .order_by(Promotion.id)
        ).all()
        return {
            "name": name,
            "version": version,
            "stage": rows[0].stage,
            "rows": [_row_document(row, full) for row in rows],
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
