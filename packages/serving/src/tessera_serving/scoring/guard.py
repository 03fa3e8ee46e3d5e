"""The schema guard: which of a model's boosters may score this input, and why not otherwise.

The live fingerprint is ``compute_schema_sha`` of the input's declared feature schema (Arrow
metadata ``tessera.feature_schema`` or a caller-supplied mapping) and must equal the model's
``schema_sha_v2`` exactly. A model without ``schema_sha_v2`` is skipped, never guessed. The
guard only decides; it never raises over a mismatch (the rows fall back to ``base_score``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from tessera_contracts import FEATURE_SCHEMA_METADATA_KEY, ContractError, compute_schema_sha
from tessera_serving.errors import ScoringError
from tessera_serving.scoring import events as ev

FeatureSchema = Mapping[str, Sequence[str]]


@dataclass(frozen=True)
class ModelCell:
    """What scoring needs from one registry model row (one booster; ``cell`` None = pooled)."""

    model_id: int
    name: str
    version: int
    cell: str | None
    stage: str
    schema_sha_v2: str | None
    artifact_sha256: str
    feature_names: tuple[str, ...]
    # the model's feature schema as (family, columns) pairs (hashable), for drift reports
    families: tuple[tuple[str, tuple[str, ...]], ...] | None = None

    @classmethod
    def from_row(cls, row: Any) -> ModelCell:
        """Copy the fields from a registry row (anything with these attributes)."""
        schema = getattr(row, "feature_schema", None)
        return cls(
            model_id=int(row.id),
            name=str(row.name),
            version=int(row.version),
            cell=None if row.cell is None else str(row.cell),
            stage=str(row.stage),
            schema_sha_v2=row.schema_sha_v2,
            artifact_sha256=str(row.artifact_sha256),
            feature_names=tuple(row.feature_names),
            families=None
            if schema is None
            else tuple((str(k), tuple(map(str, v))) for k, v in sorted(schema.items())),
        )

    @property
    def ref(self) -> str:
        """``NAME#VERSION`` (plus ``/cell`` for a per-category booster)."""
        base = f"{self.name}#{self.version}"
        return base if self.cell is None else f"{base}/{self.cell}"

    def context(self) -> dict[str, Any]:
        """Event fields that identify this booster."""
        return {"model": self.ref, "cell": self.cell, "model_sha256": self.artifact_sha256}


@dataclass(frozen=True)
class DeclaredSchema:
    """The input's declared feature schema and its v2 fingerprint (or why there is none)."""

    schema: dict[str, list[str]] | None
    sha: str | None
    problem: str | None = None  # a skip reason when ``sha`` is None
    detail: str | None = None


def declared_schema(
    arrow_schema: pa.Schema, override: FeatureSchema | None = None, *, source: str = "input"
) -> DeclaredSchema:
    """The live schema: ``override`` if given, else the Arrow metadata, fingerprinted."""
    if override is not None:
        raw: Any = {k: list(v) for k, v in override.items()}
    else:
        meta = arrow_schema.metadata or {}
        text = meta.get(FEATURE_SCHEMA_METADATA_KEY.encode())
        if text is None:
            return DeclaredSchema(
                None,
                None,
                ev.NO_FEATURE_SCHEMA,
                f"{source} has no metadata key "
                f"{FEATURE_SCHEMA_METADATA_KEY!r} and no feature-schema override was given",
            )
        try:
            raw = json.loads(text)
        except ValueError as exc:
            return DeclaredSchema(None, None, ev.INVALID_FEATURE_SCHEMA, f"{source}: {exc}")
    if not isinstance(raw, dict) or not all(isinstance(v, list) for v in raw.values()):
        return DeclaredSchema(
            None,
            None,
            ev.INVALID_FEATURE_SCHEMA,
            f"{source}: expected a JSON object family -> [columns]",
        )
    try:
        sha = compute_schema_sha(raw)
    except ContractError as exc:
        return DeclaredSchema(None, None, ev.INVALID_FEATURE_SCHEMA, f"{source}: {exc}")
    return DeclaredSchema(raw, sha)


def _numeric(dtype: pa.DataType) -> bool:
    return bool(
        pa.types.is_integer(dtype)
        or pa.types.is_floating(dtype)
        or pa.types.is_boolean(dtype)
        or pa.types.is_decimal(dtype)
        or pa.types.is_null(dtype)
    )


@dataclass
class GuardResult:
    """Boosters cleared to score, the refusal events, and the live fingerprint."""

    live: DeclaredSchema
    applied: list[ModelCell] = field(default_factory=list)
    events: list[ev.Event] = field(default_factory=list)
    per_category: bool = False


def check(
    cells: Sequence[ModelCell],
    live: DeclaredSchema,
    arrow_schema: pa.Schema,
    *,
    require_stage: str | None = None,
) -> GuardResult:
    """Clear or refuse each booster of a model version for an input (see module docstring)."""
    result = GuardResult(live, per_category=any(c.cell is not None for c in cells))
    if live.sha is None:
        ids = [c.model_id for c in cells]
        result.events.append(ev.skipped(str(live.problem), detail=live.detail, model_ids=ids))
        return result
    columns = {f.name: f.type for f in arrow_schema}
    for cell in cells:
        refusal = _refusal(cell, live, columns, require_stage)
        if refusal is None:
            result.applied.append(cell)
        else:
            result.events.append(refusal)
    return result


def column_difference(
    expected: Mapping[str, Sequence[str]], live: Mapping[str, Sequence[str]]
) -> dict[str, dict[str, list[str]]]:
    """Per family, the model's columns the live schema lacks and the live columns it adds.

    Returns ``{"missing_columns": {family: [...]}, "extra_columns": {family: [...]}}`` with
    only the families that differ (a whole family missing or extra lists all its columns).
    """
    missing: dict[str, list[str]] = {}
    extra: dict[str, list[str]] = {}
    for family in sorted(set(expected) | set(live)):
        want, have = list(expected.get(family, [])), list(live.get(family, []))
        if lacking := [c for c in want if c not in have]:
            missing[family] = lacking
        if added := [c for c in have if c not in want]:
            extra[family] = added
    return {"missing_columns": missing, "extra_columns": extra}


def _difference(cell: ModelCell, live: DeclaredSchema) -> dict[str, Any]:
    if cell.families is None or live.schema is None:
        return {}
    return column_difference({k: list(v) for k, v in cell.families}, live.schema)


def _refusal(
    cell: ModelCell,
    live: DeclaredSchema,
    columns: Mapping[str, pa.DataType],
    require_stage: str | None,
) -> ev.Event | None:
    live_sha = str(live.sha)
    ctx = cell.context()
    if require_stage is not None and cell.stage != require_stage:
        return ev.skipped(
            ev.model_not_in_stage_reason(require_stage),
            reranker_model_id=cell.model_id,
            stage=cell.stage,
            required_stage=require_stage,
            **ctx,
        )
    if cell.schema_sha_v2 is None:
        return ev.skipped(
            ev.SCHEMA_SHA_V2_MISSING,
            reranker_model_id=cell.model_id,
            detail="run `tessera-serve backfill-schema-sha-v2`",
            **_difference(cell, live),
            **ctx,
        )
    if cell.schema_sha_v2 != live_sha:
        diff = _difference(cell, live)
        return ev.schema_mismatch(cell.model_id, cell.schema_sha_v2, live_sha, **diff, **ctx)
    missing = [n for n in cell.feature_names if n not in columns]
    if missing:
        in_file = {f: [c for c in cols if c in columns] for f, cols in (live.schema or {}).items()}
        return ev.skipped(
            ev.FEATURE_COLUMNS_MISSING,
            reranker_model_id=cell.model_id,
            columns=missing,
            **_difference(cell, DeclaredSchema(in_file, live.sha)),
            **ctx,
        )
    bad = {n: str(columns[n]) for n in cell.feature_names if not _numeric(columns[n])}
    if bad:
        return ev.skipped(
            ev.FEATURE_COLUMN_NOT_NUMERIC, reranker_model_id=cell.model_id, columns=bad, **ctx
        )
    return None


def refuse_duplicate_columns(arrow_schema: pa.Schema, source: str) -> None:
    """Columns are picked by name, so an input with a repeated name is refused outright."""
    names = arrow_schema.names
    dups = sorted({n for n in names if names.count(n) > 1})
    if dups:
        where = "; ".join(
            f"{n!r} at positions {[i for i, m in enumerate(names) if m == n]}" for n in dups
        )
        raise ScoringError(
            f"{source} has duplicated column(s): {where}; column names must be unique"
        )
