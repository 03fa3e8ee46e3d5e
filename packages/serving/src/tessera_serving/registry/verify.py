"""``verify``: check every registry row and report each violation (DESIGN.md "Registry integrity").

Per model row: the artifact is in the configured store and hashes to its sha256 (each
distinct artifact is hashed once), the recorded URI names that sha256, license metadata is
present, the stage is a known one, ``schema_sha_v2`` is present, and both stored fingerprints
match the stored feature schema.
Per version: one stage for all cells; a production version has PROMOTE verdicts, no smoke
and a recorded promotion; at most one production version per name. Live schemas: v2 set
and correct.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from tessera_contracts import ContractError, compute_feature_schema_sha, compute_schema_sha
from tessera_serving.errors import ArtifactError
from tessera_serving.registry import STAGES, LiveSchema, Promotion, Registry, RerankerModel
from tessera_serving.registry.stored_json import as_text, parse_stored
from tessera_serving.store.base import ArtifactStore


@dataclass
class VerifyReport:
    """What ``verify`` looked at and every violation it found (one line each)."""

    rows: int = 0
    versions: int = 0
    artifacts: int = 0
    live_schemas: int = 0
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def to_plain(self) -> dict[str, Any]:
        """A JSON-ready report (``--json`` output)."""
        return {
            "ok": self.ok,
            "rows": self.rows,
            "versions": self.versions,
            "artifacts": self.artifacts,
            "live_schemas": self.live_schemas,
            "violations": list(self.violations),
        }

    def summary(self) -> str:
        verdict = "ok" if self.ok else f"{len(self.violations)} violation(s)"
        return (
            f"verify: {self.rows} model row(s) in {self.versions} version(s), "
            f"{self.artifacts} artifact(s), {self.live_schemas} live schema(s): {verdict}"
        )


_COLUMNS = (
    RerankerModel.id,
    RerankerModel.name,
    RerankerModel.version,
    RerankerModel.cell_key,
    RerankerModel.stage,
    RerankerModel.gate_verdict,
    RerankerModel.smoke,
    RerankerModel.license_id,
    RerankerModel.license_url,
    RerankerModel.artifact_sha256,
    RerankerModel.artifact_uri,
    as_text(RerankerModel.feature_schema).label("feature_schema"),
    RerankerModel.feature_schema_sha,
    RerankerModel.schema_sha_v2,
)


_Fingerprints = tuple[str, str] | str  # (v1, v2), or why the schema is invalid


def _fingerprints(schema: Any, cache: dict[Any, _Fingerprints]) -> _Fingerprints:
    """Both fingerprints of a stored schema, computed once per distinct schema."""
    try:
        key = tuple((family, tuple(columns)) for family, columns in schema.items())
    except (AttributeError, TypeError):
        return f"stored feature_schema is not a mapping of column lists: {schema!r:.80}"
    if key not in cache:
        try:
            cache[key] = (compute_feature_schema_sha(schema.keys()), compute_schema_sha(schema))
        except ContractError as exc:
            cache[key] = f"stored feature_schema is invalid: {exc}"
    return cache[key]


def _fingerprint_violations(
    where: str, stored: str | None, v1: str, v2: str | None, cache: dict[Any, _Fingerprints]
) -> list[str]:
    schema, unparseable = parse_stored(stored, where, "feature_schema")
    if unparseable is not None:
        return [unparseable]
    expected = _fingerprints(schema, cache)
    if isinstance(expected, str):
        return [f"{where}: {expected}"]
    expected_v1, expected_v2 = expected
    found = []
    if v1 != expected_v1:
        found.append(
            f"{where}: feature_schema_sha {v1} does not match its feature_schema ({expected_v1})"
        )
    if v2 is None:
        found.append(f"{where}: schema_sha_v2 missing: run `tessera-serve backfill-schema-sha-v2`")
    elif v2 != expected_v2:
        found.append(
            f"{where}: schema_sha_v2 {v2} does not match its feature_schema ({expected_v2})"
        )
    return found


def verify_registry(registry: Registry) -> VerifyReport:
    """Check every row (see the module docstring); never raises for a violation."""
    report = VerifyReport()
    artifact_problem: dict[str, str | None] = {}
    cache: dict[Any, _Fingerprints] = {}
    versions: dict[tuple[str, int], list[Any]] = defaultdict(list)
    with registry.transaction(readonly=True) as session:
        model_rows = session.execute(select(*_COLUMNS).order_by(RerankerModel.id)).all()
        promoted = set(
            session.execute(
                select(Promotion.model_name, Promotion.version).where(
                    Promotion.to_stage == "production"
                )
            ).all()
        )
        schema_rows = session.execute(
            select(
                LiveSchema.name,
                as_text(LiveSchema.feature_schema),
                LiveSchema.feature_schema_sha,
                LiveSchema.schema_sha_v2,
            )
        ).all()
    store = registry.store
    for row in model_rows:
        report.rows += 1
        versions[(row.name, row.version)].append(row)
        where = f"model {row.name}#{row.version}" + (
            f" cell {row.cell_key!r}" if row.cell_key else ""
        )
        where += f" (row {row.id})"
        _check_row(report, row, where, store, artifact_problem, cache)
    report.artifacts = len(artifact_problem)
    report.versions = len(versions)
    report.violations.extend(_version_violations(versions, promoted))
    for name, schema, v1, v2 in schema_rows:
        report.live_schemas += 1
        report.violations.extend(
            _fingerprint_violations(f"live schema {name!r}", schema, v1, v2, cache)
        )
    return report


def _check_row(
    report: VerifyReport,
    row: Any,
    where: str,
    store: ArtifactStore,
    artifact_problem: dict[str, str | None],
    cache: dict[Any, _Fingerprints],
) -> None:
    """One model row's violations: its artifact (checked once per sha), URI, license,
    stage and fingerprints."""
    if row.artifact_sha256 not in artifact_problem:
        try:
            store.verify(row.artifact_sha256)
            artifact_problem[row.artifact_sha256] = None
        except ArtifactError as exc:
            artifact_problem[row.artifact_sha256] = str(exc)
    problem = artifact_problem[row.artifact_sha256]
    if problem is not None:
        report.violations.append(f"{where}: {problem}")
    if not row.artifact_uri.endswith(row.artifact_sha256):
        report.violations.append(
            f"{where}: artifact_uri {row.artifact_uri} does not name its sha256 "
            f"{row.artifact_sha256}"
        )
    if not (row.license_id or "").strip() or not (row.license_url or "").strip():
        report.violations.append(f"{where}: license metadata missing (license_id/license_url)")
    if row.stage not in STAGES:
        report.violations.append(f"{where}: unknown stage {row.stage!r}, expected one of {STAGES}")
    report.violations.extend(
        _fingerprint_violations(
            where, row.feature_schema, row.feature_schema_sha, row.schema_sha_v2, cache
        )
    )


def _version_violations(
    versions: dict[tuple[str, int], list[Any]], promoted: set[Any]
) -> list[str]:
    found: list[str] = []
    production: dict[str, list[int]] = defaultdict(list)
    for (name, version), rows in sorted(versions.items()):
        where = f"model {name}#{version}"
        stages = sorted({row.stage for row in rows})
        if len(stages) > 1:
            found.append(f"{where}: cells disagree on the stage ({', '.join(stages)})")
        if "production" not in stages:
            continue
        production[name].append(version)
        if (name, version) not in promoted:
            found.append(f"{where}: in production without a recorded promotion")
        for row in rows:
            cell = f" cell {row.cell_key!r}" if row.cell_key else ""
            if row.gate_verdict != "PROMOTE":
                found.append(f"{where}{cell}: in production with gate verdict {row.gate_verdict}")
            if row.smoke:
                found.append(f"{where}{cell}: in production but is a smoke run")
    for name, prod_versions in sorted(production.items()):
        if len(prod_versions) > 1:
            listed = ", ".join(f"#{v}" for v in prod_versions)
            found.append(f"model {name}: {len(prod_versions)} versions in production ({listed})")
    return found
