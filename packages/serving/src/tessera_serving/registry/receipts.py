"""Registry stage receipts (DESIGN.md section 7): registration, import by reference, backfill.

Each decorator wraps one stage's API entry point (one line at its definition). The receipt
is stored in the registry (``stage_receipts``) and, with ``$TESSERA_RECEIPTS_DIR``, written
to ``<dir>/<pipeline>/<run_id>/<stage>.json``. An exception inside the stage records a
failed receipt and propagates unchanged.

Content only: run.json is hashed without ``created_at``/``duration_s``/``name``; registry
rows without ids, versions, timestamps or names (the model names are a parameter).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import select

from tessera_contracts import ReceiptRecorder
from tessera_serving.registry.engine import Registry
from tessera_serving.registry.receipt_store import bind_call, serving_recorder
from tessera_serving.registry.rundir import expand_run_paths
from tessera_serving.registry.tables import LiveSchema, RerankerModel

P = ParamSpec("P")


R = TypeVar("R")


_RUN_VOLATILE = ("created_at", "duration_s", "name", "producer")  # not content


_ROW_FIELDS = (
    "cell", "artifact_sha256", "feature_schema_sha", "schema_sha_v2", "objective",
    "stage", "smoke", "gate_verdict", "license_id", "num_trees",
)  # fmt: skip


def _record_run_dir(rec: ReceiptRecorder, run_dir: Path, used: set[str]) -> None:
    """run.json (as content), model.txt and spec.yaml of one run, keyed by its cell."""
    try:
        record = json.loads((run_dir / "run.json").read_bytes())
    except (OSError, ValueError):
        return  # registration reports the unreadable run directory itself
    if not isinstance(record, dict):
        return
    key = "pooled" if record.get("cell") is None else f"cell={record['cell']}"
    if key in used:
        key = f"{key}@{run_dir.name}"
    used.add(key)
    content = {k: v for k, v in record.items() if k not in _RUN_VOLATILE}
    if isinstance(content.get("dataset"), dict):  # hashes a manifest with a timestamp
        content["dataset"] = {k: v for k, v in content["dataset"].items() if k != "manifest_sha256"}
    rec.add_input_data(f"{key}/run.json#content", content)
    # spec.yaml is provenance stored verbatim; it names the dataset's location, so it is left
    # out: the run's identity is its run.json content and its booster.
    if (run_dir / "model.txt").is_file():
        rec.add_input(run_dir / "model.txt", name=f"{key}/model.txt")


def recorded_registration(fn: Callable[P, list[Any]]) -> Callable[P, list[Any]]:
    """Decorate ``register_runs``: inputs are the run directories, outputs the model rows."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> list[Any]:
        bound = bind_call(fn, args, kwargs)
        given = list(bound.arguments["paths"])  # an iterator is read once, here
        bound.arguments["paths"] = given
        paths = [Path(p) for p in expand_run_paths(given)]
        registry: Registry = bound.arguments["registry"]
        rec = serving_recorder(registry, "registration", unit="runs")
        with rec:
            rec.param("name", bound.arguments.get("name"))
            rec.param("allow_unknown_schema", bool(bound.arguments.get("allow_unknown_schema")))
            used: set[str] = set()
            for path in paths:
                _record_run_dir(rec, Path(path), used)
            try:
                result = fn(*bound.args, **bound.kwargs)
            except Exception:
                rec.count(records_in=len(paths), rejected=len(paths))
                raise
            _record_registered(rec, result)
        return result

    return wrapper


def _record_registered(rec: ReceiptRecorder, result: list[Any]) -> None:
    """The model rows registered (new: accepted; already there: skipped) as outputs."""
    rows = [(reg.created, row) for reg in result for row in reg.rows]
    for _created, row in rows:
        cell = "pooled" if row.cell is None else f"cell={row.cell}"
        rec.add_output_data(
            f"{row.name}/{cell}", {f: getattr(row, f) for f in _ROW_FIELDS}, records=1
        )
    rec.param("model_names", ",".join(sorted({row.name for _, row in rows})))
    created = sum(1 for c, _ in rows if c)
    rec.count(records_in=len(rows), accepted=created, skipped=len(rows) - created)


def recorded_import(fn: Callable[P, Any]) -> Callable[P, Any]:
    """Decorate ``import_by_reference``: a registration from run.json + an artifact in the store."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
        bound = bind_call(fn, args, kwargs)
        registry: Registry = bound.arguments["registry"]
        rec = serving_recorder(registry, "registration", unit="runs")
        with rec:
            rec.param("name", bound.arguments.get("name"))
            rec.param("allow_unknown_schema", bool(bound.arguments.get("allow_unknown_schema")))
            rec.param("via", "reference")
            run_json = Path(bound.arguments["run_json"])
            try:
                content = json.loads(run_json.read_bytes())
            except (OSError, ValueError):
                content = None  # the import reports the unreadable file itself
            if isinstance(content, dict):
                content = {k: v for k, v in content.items() if k not in _RUN_VOLATILE}
                rec.add_input_data("run.json#content", content)
            rec.add_input_data("artifact", {"sha256": str(bound.arguments["sha256"])})
            try:
                result = fn(*bound.args, **bound.kwargs)
            except Exception:
                rec.count(records_in=1, rejected=1)
                raise
            _record_registered(rec, [result])
        return result

    return wrapper


def _rows_without_v2(registry: Registry) -> list[dict[str, Any]]:
    with registry.transaction(readonly=True) as session:
        models = session.execute(
            select(RerankerModel.name, RerankerModel.version, RerankerModel.cell_key,
                   RerankerModel.feature_schema)
            .where(RerankerModel.schema_sha_v2.is_(None))
            .order_by(RerankerModel.id)
        ).all()  # fmt: skip
        schemas = session.execute(
            select(LiveSchema.name, LiveSchema.feature_schema)
            .where(LiveSchema.schema_sha_v2.is_(None))
            .order_by(LiveSchema.id)
        ).all()
    return [{"model": f"{n}#{v}", "cell": c, "feature_schema": fs} for n, v, c, fs in models] + [
        {"live_schema": n, "feature_schema": fs} for n, fs in schemas
    ]


def recorded_backfill(fn: Callable[P, list[Any]]) -> Callable[P, list[Any]]:
    """Decorate ``backfill_schema_sha_v2``: rows without v2 in, the fingerprints set out."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> list[Any]:
        bound = bind_call(fn, args, kwargs)
        registry: Registry = bound.arguments["registry"]
        rec = serving_recorder(registry, "backfill", unit="rows")
        with rec:
            rec.param("dry_run", bool(bound.arguments.get("dry_run")))
            pending = _rows_without_v2(registry)
            rec.add_input_data("rows_without_schema_sha_v2", pending, records=len(pending))
            try:
                changes = fn(*bound.args, **bound.kwargs)
            except Exception:
                rec.count(records_in=len(pending), rejected=len(pending))
                raise
            rec.add_output_data(
                "changes",
                [{"table": c.table, "label": c.label, "schema_sha_v2": c.schema_sha_v2}
                 for c in changes],
                records=len(changes),
            )  # fmt: skip
            done = min(len(changes), len(pending))
            rec.count(records_in=len(pending), accepted=done, skipped=len(pending) - done)
        return changes

    return wrapper
