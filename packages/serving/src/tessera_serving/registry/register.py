"""Registering runs: checked run directories -> stored boosters -> model rows, idempotently.

A set of run directories with one model name is one model version: a pooled run gives one
row, a per-category run set (``runs/<name>--<cell>``) one row per cell. Boosters are
uploaded first (content-addressed, so an interrupted upload leaves at most an unreferenced
object), then every row is inserted in one transaction. Registering the same runs again
returns the existing version; two concurrent registrations race on unique constraints and
the loser re-reads the winner's rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tessera_serving.errors import RegistrationError
from tessera_serving.registry import LiveSchema, Registry, RerankerModel, UniqueConflict
from tessera_serving.registry.models import ModelRow
from tessera_serving.registry.receipts import recorded_import, recorded_registration
from tessera_serving.registry.rundir import (
    LoadedRun,
    check_booster,
    expand_run_sets,
    load_run_dir,
    parse_run_json,
)
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

    def describe(self) -> str:
        cells = [row.cell for row in self.rows if row.cell is not None]
        what = f"{len(cells)} cells: {', '.join(cells)}" if cells else "pooled"
        verb = "registered" if self.created else "already registered as"
        return f"{verb} {self.name}#{self.version} ({what})"


def model_name_of(run: LoadedRun, override: str | None) -> str:
    """``--name`` if given, else the run's name without its ``--<cell>`` suffix."""
    if override:
        return override
    name, cell = run.record.name, run.record.cell
    if cell is None:
        return name
    if name.endswith(f"--{cell}"):
        return name[: -len(f"--{cell}")]
    return name.rsplit("--", 1)[0]  # the lab sanitises the category in the suffix


def group_runs(
    runs: Sequence[tuple[LoadedRun, str | None]], name: str | None
) -> dict[str, list[LoadedRun]]:
    """Runs grouped by model name; each group must be one pooled run or distinct cells."""
    groups: dict[str, list[LoadedRun]] = {}
    for run, implied in runs:
        groups.setdefault(model_name_of(run, name or implied), []).append(run)
    for model, members in groups.items():
        first = members[0]
        cells = [m.record.cell for m in members]
        if len(members) > 1 and None in cells:
            raise RegistrationError(
                f"{members[cells.index(None)].run_dir}: a pooled run cannot share model name "
                f"{model!r} with other runs in one registration"
            )
        dupes = sorted({c for c in cells if c is not None and cells.count(c) > 1})
        if dupes:
            raise RegistrationError(f"model {model!r}: cell {dupes[0]!r} given twice")
        for other in members[1:]:
            for field in ("objective", "schema_sha"):
                if getattr(other.record, field) != getattr(first.record, field):
                    raise RegistrationError(
                        f"{other.run_dir / 'run.json'}: field {field!r} is "
                        f"{getattr(other.record, field)!r} but {first.run_dir.name} has "
                        f"{getattr(first.record, field)!r}; cells of one model must agree"
                    )
    return groups


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


def register_group(
    registry: Registry,
    name: str,
    runs: Sequence[LoadedRun],
    *,
    allow_unknown_schema: bool = False,
    via: str = VIA_RUN_DIR,
) -> Registered:
    """Store the boosters of ``runs`` and insert them as one new version of ``name``."""
    with registry.transaction(readonly=True) as session:
        done = _already(session, name, runs)
    if done is not None:
        return done
    store = registry.store
    uris = {}
    for run in runs:
        if via == VIA_RUN_DIR:
            store.put_bytes(run.model_bytes)
        uris[run.run_sha256] = store.uri(run.model_sha256)
    pause_point("register.after_upload")
    for _attempt in range(MAX_ATTEMPTS):
        try:
            with registry.transaction() as session:
                done = _already(session, name, runs)
                if done is not None:
                    return done
                if not allow_unknown_schema:
                    for run in runs:
                        _require_live_schema(session, run)
                latest = session.scalar(
                    select(func.max(RerankerModel.version)).where(RerankerModel.name == name)
                )
                version = int(latest or 0) + 1
                rows = [_row(run, name, version, uris[run.run_sha256], via) for run in runs]
                session.add_all(rows)
                session.flush()
                pause_point("register.before_commit")
                return Registered(name, version, tuple(ModelRow.of(r) for r in rows), True)
        except UniqueConflict:
            continue  # a concurrent registration committed first: re-read and retry
    raise RegistrationError(
        f"model {name!r}: registration kept conflicting with concurrent writers"
    )


@recorded_registration
def register_runs(
    registry: Registry,
    paths: Iterable[str | Path],
    *,
    name: str | None = None,
    allow_unknown_schema: bool = False,
) -> list[Registered]:
    """Check every run directory first, then register each model name as one version."""
    runs = [(load_run_dir(path), implied) for path, implied in expand_run_sets(paths)]
    if not runs:
        raise RegistrationError("no run directories given")
    groups = group_runs(runs, name)
    if not allow_unknown_schema:  # before anything is stored, so one bad run writes nothing
        with registry.transaction(readonly=True) as session:
            for run, _ in runs:
                _require_live_schema(session, run)
    return [
        register_group(registry, model, members, allow_unknown_schema=allow_unknown_schema)
        for model, members in groups.items()
    ]


@recorded_import
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
    """Register a booster already in the store (by URI + sha256) with its ``run.json``."""
    from tessera_serving.registry.rundir import read_spec

    try:
        raw = Path(run_json).read_bytes()
    except OSError as exc:
        raise RegistrationError(f"{run_json}: cannot read: {exc.strerror or exc}") from exc
    record = parse_run_json(raw, str(run_json))
    store = registry.store
    try:
        in_store = store.sha256_from_uri(uri)
    except Exception as exc:
        raise RegistrationError(f"--uri {uri}: {exc}") from exc
    if in_store != sha256:
        raise RegistrationError(f"--uri {uri} names object {in_store}, not --sha256 {sha256}")
    model_bytes = store.read_bytes(sha256)
    num_trees = check_booster(model_bytes, record, uri, hashlib.sha256(model_bytes).hexdigest())
    run = LoadedRun(
        run_dir=Path(run_json).parent,
        record=record,
        run_json=raw.decode("utf-8"),
        run_sha256=hashlib.sha256(raw).hexdigest(),
        spec_yaml=read_spec(Path(spec_yaml)) if spec_yaml is not None else None,
        model_bytes=model_bytes,
        model_sha256=sha256,
        num_trees=num_trees,
    )
    model = model_name_of(run, name)
    return register_group(
        registry, model, [run], allow_unknown_schema=allow_unknown_schema, via=VIA_REFERENCE
    )
