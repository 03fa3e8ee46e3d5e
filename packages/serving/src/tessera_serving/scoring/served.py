"""Models loaded for a long-running server, and in-process scoring of one Arrow table.

``load_served_model`` resolves a reference, loads every booster of the version through the
backend selection (compiled when available) and checks each one against the registry
before returning, so a model that could not be verified is never handed out.
``score_table`` runs the same guard, the same scoring core and the same events as
``tessera-serve score``, on a table already in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from tessera_serving.errors import SchemaMismatchError
from tessera_serving.registry import Registry
from tessera_serving.scoring import events as ev
from tessera_serving.scoring.guard import FeatureSchema, ModelCell
from tessera_serving.scoring.model_ref import registry_model, resolve_cells
from tessera_serving.scoring.scorer import FALLBACK, RERANKER, ScoringModel, prepare


@dataclass(frozen=True)
class ServedModel:
    """One model version with every booster loaded and verified."""

    ref: str
    name: str
    version: int
    stage: str
    cells: tuple[ModelCell, ...]
    model: ScoringModel
    backends: tuple[str, ...]
    load_events: tuple[ev.Event, ...] = ()

    @property
    def shas(self) -> tuple[str, ...]:
        """The boosters' sha256s, in cell order."""
        return tuple(c.artifact_sha256 for c in self.cells)

    @property
    def version_ref(self) -> str:
        return f"{self.name}#{self.version}"


def load_served_model(
    registry: Registry, ref: str, *, backend: str = "auto", num_threads: int | None = None
) -> ServedModel:
    """Resolve ``ref`` and load and verify all its boosters (raises if any cannot be)."""
    cells = resolve_cells(registry, ref)
    log = ev.EventLog()
    model = registry_model(registry, cells, backend=backend, num_threads=num_threads, sink=log)
    backends = tuple(model.predictor(cell).backend for cell in cells)
    first = cells[0]
    return ServedModel(
        ref=ref,
        name=first.name,
        version=first.version,
        stage=first.stage,
        cells=tuple(cells),
        model=model,
        backends=backends,
        load_events=tuple(log.events),
    )


@dataclass
class TableScore:
    """The scored rows of one table, counts by source, the guard's events, the live sha."""

    table: pa.Table
    counts: dict[str, int]
    events: list[ev.Event] = field(default_factory=list)
    live_schema_sha: str | None = None


def score_table(
    served: ServedModel,
    table: pa.Table,
    feature_schema: FeatureSchema | None = None,
    *,
    strict: bool = False,
    source: str = "request",
) -> TableScore:
    """Score ``table`` behind the guard; ``strict`` turns a schema mismatch into an error.

    ``feature_schema`` overrides the table's ``tessera.feature_schema`` metadata. A strict
    mismatch raises :class:`SchemaMismatchError` (carrying the event's fields) before any
    row is scored; every other guard outcome falls back as the CLI does.
    """
    log = ev.EventLog()
    plan = prepare(served.model, table.schema, feature_schema, events=log, source=source)
    mismatch = next((e for e in log.events if e.name == ev.SCHEMA_MISMATCH), None)
    if strict and mismatch is not None:
        raise SchemaMismatchError(
            f"{source}: live feature schema {mismatch.fields.get('live_sha')} differs from "
            f"the model's {mismatch.fields.get('expected_sha')} (strict request)",
            dict(mismatch.fields),
        )
    batches = list(plan.score(table.select(plan.columns).to_batches()))
    out = pa.Table.from_batches(batches, schema=plan.schema)
    counts = {RERANKER: plan.stats.by_source[RERANKER], FALLBACK: plan.stats.by_source[FALLBACK]}
    return TableScore(out, counts, log.events, plan.live_sha)


def event_reasons(events: list[ev.Event]) -> list[tuple[str, str]]:
    """``(name, reason)`` per event (``""`` when the event has no reason), for metrics."""
    return [(e.name, str(e.fields.get("reason", ""))) for e in events]


def describe_loaded(served: ServedModel) -> dict[str, Any]:
    """A JSON-ready description of a served model (for ``/readyz`` and logs)."""
    return {
        "ref": served.ref,
        "model": served.version_ref,
        "stage": served.stage,
        "boosters": [
            {"cell": c.cell, "model_sha256": c.artifact_sha256, "backend": b}
            for c, b in zip(served.cells, served.backends, strict=True)
        ],
    }


def resolve_shas(registry: Registry, ref: str) -> tuple[str, ...]:
    """The booster sha256s of the version ``ref`` designates now, in cell order."""
    return tuple(c.artifact_sha256 for c in resolve_cells(registry, ref))
