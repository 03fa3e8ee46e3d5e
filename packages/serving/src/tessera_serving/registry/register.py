"""Registering runs: checked run directories -> stored boosters -> model rows, idempotently.

A set of run directories with one model name is one model version: a pooled run gives one
row, a per-category run set (``runs/<name>--<cell>``) one row per cell. Boosters are
uploaded first (content-addressed, so an interrupted upload leaves at most an unreferenced
object), then every row of every model name in the call is inserted in ONE transaction:
all or nothing. Registering the same runs again returns the existing version and restores
a stored booster that went missing or corrupt; two concurrent registrations race on unique
constraints and the loser re-reads the winner's rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tessera_contracts.receipts import ReceiptRecorder
from tessera_serving.errors import RegistrationError
from tessera_serving.registry import LiveSchema, Registry, RerankerModel, UniqueConflict
from tessera_serving.registry.models import ModelRow
from tessera_serving.registry.receipt_store import rejected_on_failure, serving_recorder
from tessera_serving.registry.receipts import record_loaded_run, record_registered
from tessera_serving.registry.reference_run import reference_run
from tessera_serving.registry.run_groups import check_model_name, group_runs
from tessera_serving.registry.rundir import LoadedRun, expand_run_sets, load_run_dir
from tessera_serving.registry.tables import VIA_REFERENCE, VIA_RUN_DIR
from tessera_serving.testhooks import pause_point

MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class Registered:
    """The outcome of registering one model version."""

    name: str
    version: int
    rows: tuple[ModelRow, ...]
    created: bool
    restored: tuple[str, ...] = ()

    def describe(self) -> str:
        cells = [row.cell for row in self.rows if row.cell is not None]
        what = f"{len(cells)} cells: {', '.join(cells)}" if cells else "pooled"
        verb = "registered" if self.created else "already registered as"
        fixed = f"; restored missing or corrupt artifact {', '.join(self.restored)}"
        return f"{verb} {self.name}#{self.version} ({what}){fixed if self.restored else ''}"

    def to_plain(self) -> dict[str, Any]:
        """A JSON-ready summary (``--json`` output)."""
        return {
            "name": self.name,
            "version": self.version,
            "created": self.created,
            "restored_artifacts": list(self.restored),
            "rows": [
                {"cell": r.cell, "run_name": r.run_name, "artifact_sha256": r.artifact_sha256}
                for r in self.rows
            ],
        }


def _existing(session: Session, name: str, runs: Sequence[LoadedRun]) -> list[RerankerModel]:
    found = []
    for run in runs:
        row = session.scalars(
            select(RerankerModel).where(
                RerankerModel.name == name,
                RerankerModel.cell_key == run.cell_key,
                RerankerModel.run_sha256 == run.run_sha256,
            )
        ).first()
        if row is not None:
            found.append(row)
    return found


def _already(session: Session, name: str, runs: Sequence[LoadedRun]) -> Registered | None:
    """The existing version holding exactly these runs, None if none; error if partial."""
    found = _existing(session, name, runs)
    if not found:
        return None
    versions = {row.version for row in found}
    if len(found) == len(runs) and len(versions) == 1:
        version = versions.pop()
        rows = session.scalars(
            select(RerankerModel)
            .where(RerankerModel.name == name, RerankerModel.version == version)
            .order_by(RerankerModel.cell_key)
        ).all()
        if len(rows) == len(runs):
            return Registered(name, version, tuple(ModelRow.of(r) for r in rows), created=False)
    row = found[0]
    raise RegistrationError(
        f"{row.run_name} ({row.cell or 'pooled'}) is already part of {name}#{row.version}; "
        "register a run set together, or use --name for a new model"
    )


def _require_live_schema(session: Session, run: LoadedRun) -> None:
    known = session.scalar(
        select(func.count()).where(LiveSchema.schema_sha_v2 == run.record.schema_sha)
    )
    if not known:
        raise RegistrationError(
            f"{run.run_dir / 'run.json'}: field 'schema_sha' {run.record.schema_sha!r} matches no "
            "known live feature schema: add it with `tessera-serve schemas add` "
            "or pass --allow-unknown-schema"
        )


def _row(run: LoadedRun, name: str, version: int, uri: str, via: str) -> RerankerModel:
    record = run.record
    return RerankerModel(
        name=name,
        version=version,
        cell_key=run.cell_key,
        run_name=record.name,
        run_sha256=run.run_sha256,
        run_created_at=record.created_at,
        registered_via=via,
        producer_name=record.producer.name,
        producer_version=record.producer.version,
        producer_git_sha=record.producer.git_sha,
        spec_yaml=run.spec_yaml,
        run_json=run.run_json,
        dataset_name=record.dataset.name,
        dataset_manifest_sha256=record.dataset.manifest_sha256,
        feature_families=list(record.feature_families),
        feature_schema={k: list(v) for k, v in record.feature_schema.items()},
        feature_names=list(record.feature_names),
        feature_schema_sha=record.feature_schema_sha,
        schema_sha_v2=record.schema_sha,
        objective=record.objective,
        num_trees=run.num_trees,
        metrics=record.metrics.to_plain(),
        gate=record.gate.to_plain(),
        gate_verdict=record.gate.verdict,
        smoke=record.smoke,
        license_id=record.license.id,
        license_url=record.license.url,
        artifact_uri=uri,
        artifact_sha256=run.model_sha256,
        stage="none",
    )


def _store_boosters(
    registry: Registry, runs: Sequence[LoadedRun], via: str
) -> tuple[dict[str, str], set[str]]:
    """Each run's booster URI, and the boosters written because missing or corrupt."""
    store = registry.store
    uris, written = {}, set()
    for run in runs:
        # a run directory's bytes were checked against run.json's sha256: safe to restore from
        if via == VIA_RUN_DIR and store.restore(run.model_bytes):
            written.add(run.model_sha256)
        uris[run.run_sha256] = store.uri(run.model_sha256)
    return uris, written


def _insert_group(
    session: Session, name: str, runs: Sequence[LoadedRun], uris: dict[str, str], via: str
) -> Registered:
    """The existing version holding ``runs``, or a new version of ``name`` (flushed)."""
    done = _already(session, name, runs)
    if done is not None:
        return done
    latest = session.scalar(
        select(func.max(RerankerModel.version)).where(RerankerModel.name == name)
    )
    version = int(latest or 0) + 1
    rows = [_row(run, name, version, uris[run.run_sha256], via) for run in runs]
    session.add_all(rows)
    session.flush()
    return Registered(name, version, tuple(ModelRow.of(r) for r in rows), True)


def _with_restored(result: Registered, written: set[str]) -> Registered:
    """An existing version whose boosters had to be written again: they were restored."""
    shas = tuple(sorted({r.artifact_sha256 for r in result.rows} & written))
    return replace(result, restored=shas) if shas and not result.created else result


def register_groups(
    registry: Registry,
    groups: dict[str, list[LoadedRun]],
    *,
    allow_unknown_schema: bool = False,
    via: str = VIA_RUN_DIR,
) -> list[Registered]:
    """Store the boosters, then insert every group in ONE transaction: all or nothing."""
    for name in groups:
        check_model_name(name)
    every_run = [run for members in groups.values() for run in members]
    uris, written = _store_boosters(registry, every_run, via)
    pause_point("register.after_upload")
    for _attempt in range(MAX_ATTEMPTS):
        try:
            with registry.transaction() as session:
                if not allow_unknown_schema:
                    for run in every_run:
                        _require_live_schema(session, run)
                results = [
                    _insert_group(session, name, members, uris, via)
                    for name, members in groups.items()
                ]
                pause_point("register.before_commit")
            return [_with_restored(result, written) for result in results]
        except UniqueConflict:
            continue  # a concurrent registration committed first: re-read and retry
    raise RegistrationError(
        f"models {sorted(groups)}: registration kept conflicting with concurrent writers"
    )


def register_runs(
    registry: Registry,
    paths: Iterable[str | Path],
    *,
    name: str | None = None,
    allow_unknown_schema: bool = False,
) -> list[Registered]:
    """Check every run directory first, then register every model name in one transaction.

    Leaves a ``registration`` receipt: the run directories in, the model rows out.
    """
    run_sets = expand_run_sets(paths)
    rec = serving_recorder(registry, "registration", unit="runs")
    with rec:
        rec.param("name", name)
        rec.param("allow_unknown_schema", bool(allow_unknown_schema))
        with rejected_on_failure(rec, len(run_sets)):
            result = _register_runs(registry, rec, run_sets, name, allow_unknown_schema)
        record_registered(rec, result)
    return result


def _register_runs(
    registry: Registry,
    rec: ReceiptRecorder,
    run_sets: list[tuple[Path, str | None]],
    name: str | None,
    allow_unknown_schema: bool,
) -> list[Registered]:
    if name is not None:
        check_model_name(name)
    runs = [(load_run_dir(path), implied) for path, implied in run_sets]
    used: set[str] = set()
    for run, _ in runs:
        record_loaded_run(rec, run, used)
    if not runs:
        raise RegistrationError("no run directories given")
    groups = group_runs(runs, name)
    for model in groups:
        check_model_name(model)
    if not allow_unknown_schema:  # before anything is stored, so one bad run writes nothing
        with registry.transaction(readonly=True) as session:
            for run, _ in runs:
                _require_live_schema(session, run)
    return register_groups(registry, groups, allow_unknown_schema=allow_unknown_schema)


def import_by_reference(
    registry: Registry,
    *,
    uri: str,
    sha256: str,
    run_json: Path,
    spec_yaml: Path | None = None,
    name: str | None = None,
    allow_unknown_schema: bool = False,
) -> Registered:
    """Register a booster already in the store (by URI + sha256) with its ``run.json``.

    Leaves a ``registration`` receipt (parameter ``via=reference``).
    """
    rec = serving_recorder(registry, "registration", unit="runs")
    with rec:
        rec.param("name", name)
        rec.param("allow_unknown_schema", bool(allow_unknown_schema))
        rec.param("via", "reference")
        rec.add_input_data("artifact", {"sha256": str(sha256)})
        with rejected_on_failure(rec, 1):
            model, run = reference_run(registry, rec, uri, sha256, Path(run_json), spec_yaml, name)
            [result] = register_groups(
                registry, {model: [run]}, allow_unknown_schema=allow_unknown_schema,
                via=VIA_REFERENCE,
            )  # fmt: skip
        record_registered(rec, [result])
    return result
