"""The schema_sha_v2 backfill (DESIGN.md "Fingerprint migration").

Fills ``schema_sha_v2`` on model rows and live schemas that lack it, computing it through
the contracts from each row's stored ``feature_schema``. Rows already filled are skipped;
``feature_schema_sha`` is never written. ``dry_run`` only lists what would change. All
changes happen in one transaction: an invalid stored schema aborts with nothing changed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update

from tessera_contracts import ContractError, compute_schema_sha
from tessera_serving.errors import RegistryError
from tessera_serving.registry import LiveSchema, Registry, RerankerModel
from tessera_serving.registry.receipts import recorded_backfill


@dataclass(frozen=True)
class BackfillChange:
    """One row that gets (or would get) a schema_sha_v2."""

    table: str
    id: int
    label: str
    schema_sha_v2: str

    def describe(self, dry_run: bool) -> str:
        verb = "would set" if dry_run else "set"
        return (
            f"{verb} schema_sha_v2={self.schema_sha_v2} on {self.label} ({self.table} id {self.id})"
        )


def _v2(label: str, schema: dict[str, list[str]]) -> str:
    try:
        return compute_schema_sha(schema)
    except ContractError as exc:
        raise RegistryError(
            f"{label}: stored feature_schema is invalid ({exc}); nothing was backfilled"
        ) from exc


@recorded_backfill
def backfill_schema_sha_v2(registry: Registry, *, dry_run: bool = False) -> list[BackfillChange]:
    """Compute and (unless ``dry_run``) store the missing column fingerprints."""
    changes: list[BackfillChange] = []
    with registry.transaction(readonly=dry_run) as session:
        models = session.execute(
            select(
                RerankerModel.id,
                RerankerModel.name,
                RerankerModel.version,
                RerankerModel.cell_key,
                RerankerModel.feature_schema,
            )
            .where(RerankerModel.schema_sha_v2.is_(None))
            .order_by(RerankerModel.id)
        ).all()
        for row_id, name, version, cell_key, schema in models:
            label = f"model {name}#{version}" + (f" cell {cell_key!r}" if cell_key else "")
            changes.append(BackfillChange("reranker_models", row_id, label, _v2(label, schema)))
        schemas = session.execute(
            select(LiveSchema.id, LiveSchema.name, LiveSchema.feature_schema)
            .where(LiveSchema.schema_sha_v2.is_(None))
            .order_by(LiveSchema.id)
        ).all()
        for row_id, name, schema in schemas:
            label = f"live schema {name!r}"
            changes.append(BackfillChange("live_schemas", row_id, label, _v2(label, schema)))
        if not dry_run:
            for change in changes:
                table = RerankerModel if change.table == "reranker_models" else LiveSchema
                session.execute(
                    update(table)
                    .where(table.id == change.id, table.schema_sha_v2.is_(None))
                    .values(schema_sha_v2=change.schema_sha_v2)
                )
    return changes
