"""Promotion: the only way a model version reaches ``production`` (DESIGN.md "Registry integrity").

Every cell must have gate verdict ``PROMOTE``, ``smoke: false``, a ``schema_sha_v2`` and an
intact artifact. The previous production version of the name is archived in the same
transaction, and both stage changes are appended to the promotion history.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from tessera_serving.errors import PromotionError
from tessera_serving.registry import Promotion, Registry, RerankerModel
from tessera_serving.registry.models import find_version


@dataclass(frozen=True)
class Promoted:
    """What a promote call did."""

    name: str
    version: int
    archived: tuple[int, ...]
    changed: bool

    def describe(self) -> str:
        if not self.changed:
            return f"{self.name}#{self.version} is already in production"
        archived = ", ".join(f"#{v}" for v in self.archived)
        return f"promoted {self.name}#{self.version} to production" + (
            f" (archived {archived})" if archived else ""
        )


def refusal(rows: list[RerankerModel]) -> str | None:
    """Why these rows may not go to production, or None if they may."""
    for row in rows:
        where = f"{row.name}#{row.version}" + (f" cell {row.cell_key!r}" if row.cell_key else "")
        if row.gate_verdict != "PROMOTE":
            gate = row.gate
            return (
                f"{where}: gate verdict is {row.gate_verdict} ({gate.get('metric')} lift "
                f"{gate.get('lift', float('nan')):.4g} below min_lift "
                f"{gate.get('min_lift', float('nan')):.4g}); only PROMOTE verdicts go to production"
            )
        if row.smoke:
            return f"{where}: is a smoke run (smoke: true); its weights are not for production"
        if not row.schema_sha_v2:
            return f"{where}: has no schema_sha_v2; run `tessera-serve backfill-schema-sha-v2`"
        if not row.license_id or not row.license_url:
            return f"{where}: has no license metadata"
    return None


def promote(registry: Registry, ref: str, *, reason: str = "promote") -> Promoted:
    """Move the version ``ref`` designates to production (see the module docstring)."""
    with registry.transaction() as session:
        name, version = find_version(session, ref)
        rows_of_name = list(
            session.scalars(
                select(RerankerModel)
                .where(RerankerModel.name == name)
                .order_by(RerankerModel.version, RerankerModel.cell_key)
                .with_for_update()
            )
        )
        rows = [row for row in rows_of_name if row.version == version]
        if all(row.stage == "production" for row in rows):
            return Promoted(name, version, (), changed=False)
        why = refusal(rows)
        if why is not None:
            raise PromotionError(f"cannot promote: {why}")
        for sha256 in sorted({row.artifact_sha256 for row in rows}):
            registry.store.verify(sha256)
        archived: set[int] = set()
        for row in rows_of_name:
            if row.version != version and row.stage == "production":
                row.stage = "archived"
                archived.add(row.version)
        for old in sorted(archived):
            session.add(
                Promotion(
                    model_name=name,
                    version=old,
                    from_stage="production",
                    to_stage="archived",
                    reason=f"superseded by #{version}",
                )
            )
        from_stage = rows[0].stage
        for row in rows:
            row.stage = "production"
        session.add(
            Promotion(
                model_name=name,
                version=version,
                from_stage=from_stage,
                to_stage="production",
                reason=reason,
            )
        )
    return Promoted(name, version, tuple(sorted(archived)), changed=True)


def promotion_history(registry: Registry, name: str) -> list[Promotion]:
    """Every recorded stage change of ``name``, oldest first."""
    with registry.transaction(readonly=True) as session:
        return list(
            session.scalars(
                select(Promotion).where(Promotion.model_name == name).order_by(Promotion.id)
            )
        )
