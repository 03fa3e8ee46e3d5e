"""Registry stage receipts (DESIGN.md section 7): registration, import by reference, backfill.

Each stage function opens its recorder (``serving_recorder``) and records what it read and
wrote as it goes, from the bytes and rows it already holds: nothing is read a second time.
The receipt is stored in the registry (``stage_receipts``) and, with
``$TESSERA_RECEIPTS_DIR``, written to ``<dir>/<pipeline>/<run_id>/<stage>.json``. An
exception inside the stage records a failed receipt and propagates unchanged.

Content only: run.json is hashed as ``run_record_content``; registry rows without ids,
versions, timestamps or names (the model names are a parameter).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol

from tessera_contracts import FileRef, run_record_content
from tessera_contracts.receipts import ReceiptRecorder
from tessera_serving.registry.models import ModelRow
from tessera_serving.registry.rundir import LoadedRun
from tessera_serving.registry.stored_json import parse_stored

_ROW_FIELDS = (
    "cell", "artifact_sha256", "feature_schema_sha", "schema_sha_v2", "objective",
    "stage", "smoke", "gate_verdict", "license_id", "num_trees",
)  # fmt: skip


class RegisteredRows(Protocol):
    """What a registration returns, as the receipt sees it."""

    @property
    def created(self) -> bool: ...
    @property
    def rows(self) -> tuple[ModelRow, ...]: ...


def _cell_key(cell: object) -> str:
    return "pooled" if cell is None else f"cell={cell}"


def record_run_content(rec: ReceiptRecorder, raw: bytes, name: str = "run.json#content") -> None:
    """``run.json`` bytes already read, as content; unreadable JSON is the stage's to report."""
    try:
        record = json.loads(raw)
    except ValueError:
        return
    if isinstance(record, dict):
        rec.add_input_data(name, run_record_content(record))


def record_loaded_run(rec: ReceiptRecorder, run: LoadedRun, used: set[str]) -> None:
    """run.json (as content) and model.txt of one checked run, keyed by its cell.

    spec.yaml is provenance stored verbatim; it names the dataset's location, so it is left
    out: the run's identity is its run.json content and its booster.
    """
    key = _cell_key(run.record.cell)
    if key in used:
        key = f"{key}@{run.run_dir.name}"
    used.add(key)
    record_run_content(rec, run.run_json.encode("utf-8"), f"{key}/run.json#content")
    rec.add_input_ref(
        FileRef(
            path=f"{key}/model.txt", kind="file", sha256=run.model_sha256,
            bytes=len(run.model_bytes), records=None,
        )
    )  # fmt: skip


def record_registered(rec: ReceiptRecorder, result: Sequence[RegisteredRows]) -> None:
    """The model rows registered (new: accepted; already there: skipped) as outputs."""
    rows = [(reg.created, row) for reg in result for row in reg.rows]
    for _created, row in rows:
        rec.add_output_data(
            f"{row.name}/{_cell_key(row.cell)}",
            {f: getattr(row, f) for f in _ROW_FIELDS},
            records=1,
        )
    rec.param("model_names", ",".join(sorted({row.name for _, row in rows})))
    created = sum(1 for c, _ in rows if c)
    rec.count(records_in=len(rows), accepted=created, skipped=len(rows) - created)


def record_pending(rec: ReceiptRecorder, models: Sequence[Any], schemas: Sequence[Any]) -> int:
    """The rows without schema_sha_v2, as the backfill read them (no ids); return how many."""

    def schema(stored: str | None) -> Any:
        value, unparseable = parse_stored(stored, "row", "feature_schema")
        return stored if unparseable is not None else value  # as stored, for the receipt

    pending = [
        {"model": f"{name}#{version}", "cell": cell, "feature_schema": schema(stored)}
        for _id, name, version, cell, stored in models
    ] + [{"live_schema": name, "feature_schema": schema(stored)} for _id, name, stored in schemas]
    rec.add_input_data("rows_without_schema_sha_v2", pending, records=len(pending))
    return len(pending)


def record_backfill(rec: ReceiptRecorder, pending: int, changes: Sequence[Any]) -> None:
    """The fingerprints set (or that would be) as outputs."""
    rec.add_output_data(
        "changes",
        [{"table": c.table, "label": c.label, "schema_sha_v2": c.schema_sha_v2} for c in changes],
        records=len(changes),
    )
    done = min(len(changes), pending)
    rec.count(records_in=pending, accepted=done, skipped=pending - done)
