"""The schema_sha_v2 backfill (DESIGN.md "Fingerprint migration").

Fills ``schema_sha_v2`` on model rows and live schemas that lack it, computing it through
the contracts from each row's stored ``feature_schema``. Rows already filled are skipped;
``feature_schema_sha`` is never written. ``dry_run`` only lists what would change. All
changes happen in one transaction: an invalid stored schema aborts with nothing changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tessera_contracts import ContractError, compute_schema_sha
from tessera_serving.errors import RegistryError
from tessera_serving.registry import LiveSchema, Registry, RerankerModel
from tessera_serving.registry.receipt_store import rejected_on_failure, serving_recorder
from tessera_serving.registry.receipts import record_backfill, record_pending
from tessera_serving.registry.stored_json import as_text, parse_stored
from tessera_serving.testhooks import pause_point


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


def _v2(label: str, stored: str | None) -> str:
    schema, unparseable = parse_stored(stored, label, "feature_schema")
    if unparseable is not None:
        raise RegistryError(f"{unparseable}; nothing was backfilled")
    try:
        return compute_schema_sha(schema)
    except ContractError as exc:
        raise RegistryError(
            f"{label}: stored feature_schema is invalid ({exc}); nothing was backfilled"
        ) from exc


def backfill_schema_sha_v2(registry: Registry, *, dry_run: bool = False) -> list[BackfillChange]:
    """Compute and (unless ``dry_run``) store the missing column fingerprints.

    Leaves a ``backfill`` receipt: the rows without a fingerprint in, the changes out.
    """
    rec = serving_recorder(registry, "backfill", unit="rows")
    with rec:
        rec.param("dry_run", bool(dry_run))
        with registry.transaction(readonly=dry_run) as session:
            models, schemas = _rows_without_v2(session)
            pending = record_pending(rec, models, schemas)
            with rejected_on_failure(rec, pending):
                changes = _changes(models, schemas)
                pause_point("backfill.after_read")
                if not dry_run:
                    _store(session, changes)
                    session.flush()
                    pause_point("backfill.before_commit")
        record_backfill(rec, pending, changes)
    return changes


def _rows_without_v2(session: Session) -> tuple[list[Any], list[Any]]:
    models = session.execute(
        select(
            RerankerModel.id,
            RerankerModel.name,
            RerankerModel.version,
            RerankerModel.cell_key,
            as_text(RerankerModel.feature_schema),
        )
        .where(RerankerModel.schema_sha_v2.is_(None))
        .order_by(RerankerModel.id)
    ).all()
    schemas = session.execute(
        select(LiveSchema.id, LiveSchema.name, as_text(LiveSchema.feature_schema))
        .where(LiveSchema.schema_sha_v2.is_(None))
        .order_by(LiveSchema.id)
    ).all()
    return list(models), list(schemas)


def _changes(models: list[Any], schemas: list[Any]) -> list[BackfillChange]:
    changes: list[BackfillChange] = []
    for row_id, name, version, cell_key, schema in models:
        label = f"model {name}#{version}" + (f" cell {cell_key!r}" if cell_key else "")
        changes.append(BackfillChange("reranker_models", row_id, label, _v2(label, schema)))
    for row_id, name, schema in schemas:
        label = f"live schema {name!r}"
        changes.append(BackfillChange("live_schemas", row_id, label, _v2(label, schema)))
    return changes


def _store(session: Session, changes: list[BackfillChange]) -> None:
    for change in changes:
        table = RerankerModel if change.table == "reranker_models" else LiveSchema
        session.execute(
            update(table)
            .where(table.id == change.id, table.schema_sha_v2.is_(None))
            .values(schema_sha_v2=change.schema_sha_v2)
        )
