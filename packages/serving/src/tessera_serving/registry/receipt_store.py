"""Serving's receipts in the registry: store one (validated) receipt per stage run, read them
back by job or by pipeline run, export them as JSON files.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tessera_contracts import (
    Receipt,
    ReceiptRecorder,
    validate_plain,
    write_receipt,
)
from tessera_serving import __version__
from tessera_serving.registry.engine import Registry
from tessera_serving.registry.receipt_tables import StageReceipt

PRODUCER_NAME = "tessera-serving"


def bind_call(fn: Callable[..., Any], args: Any, kwargs: Any) -> inspect.BoundArguments:
    """The arguments of a call to ``fn`` by parameter name, defaults applied."""
    bound = inspect.signature(fn).bind(*args, **kwargs)
    bound.apply_defaults()
    return bound


def store_receipt(registry: Registry, receipt: Receipt, job_id: int | None = None) -> int:
    """Insert ``receipt`` (validated again first) in its own transaction; return the row id."""
    checked = validate_plain(Receipt, receipt.to_plain(), f"receipt {receipt.stage!r}")
    with registry.transaction() as session:
        row = StageReceipt(
            pipeline=checked.pipeline,
            run_id=checked.run_id,
            stage=checked.stage,
            job_id=job_id,
            passed=checked.validation.passed,
            fingerprint=checked.fingerprint,
            receipt=checked.to_plain(),
        )
        session.add(row)
        session.flush()
        return int(row.id)


class JobLink:
    """The job a receipt belongs to, learnt while the stage runs (``None`` until then)."""

    def __init__(self) -> None:
        self.job_id: int | None = None

    def __call__(self, job_id: int) -> None:
        self.job_id = job_id


def serving_recorder(
    registry: Registry, stage: str, *, unit: str, link: JobLink | None = None
) -> ReceiptRecorder:
    """A recorder whose receipt is also stored in the registry (with its job, when known)."""

    def sink(receipt: Receipt) -> None:
        store_receipt(registry, receipt, link.job_id if link is not None else None)

    return ReceiptRecorder(
        stage=stage,
        producer=(PRODUCER_NAME, __version__),
        code_dir=Path(__file__).resolve().parent,
        unit=unit,
        sinks=[sink],
    )


def _receipts(registry: Registry, *where: Any) -> list[Receipt]:
    with registry.transaction(readonly=True) as session:
        rows = session.scalars(select(StageReceipt).where(*where).order_by(StageReceipt.id)).all()
        data = [(row.id, row.receipt) for row in rows]
    return [validate_plain(Receipt, doc, f"stage_receipts row {row_id}") for row_id, doc in data]


def receipts_for_job(registry: Registry, job_id: int) -> list[Receipt]:
    """The receipts recorded for one scoring or re-scoring job."""
    return _receipts(registry, StageReceipt.job_id == job_id)


def receipts_for_run(registry: Registry, run_id: str, pipeline: str | None = None) -> list[Receipt]:
    """Every receipt serving stored for a pipeline run id (optionally of one pipeline)."""
    where = [StageReceipt.run_id == run_id]
    if pipeline is not None:
        where.append(StageReceipt.pipeline == pipeline)
    return _receipts(registry, *where)


def latest_runs(registry: Registry, pipeline: str | None, limit: int = 2) -> list[tuple[str, str]]:
    """The newest ``limit`` (pipeline, run id) pairs with receipts, newest first."""
    with registry.transaction(readonly=True) as session:
        query = select(StageReceipt.pipeline, StageReceipt.run_id, StageReceipt.id)
        if pipeline is not None:
            query = query.where(StageReceipt.pipeline == pipeline)
        rows = session.execute(query.order_by(StageReceipt.id.desc())).all()
    seen: list[tuple[str, str]] = []
    for pipe, run_id, _id in rows:
        if (pipe, run_id) not in seen:
            seen.append((pipe, run_id))
        if len(seen) == limit:
            break
    return seen


def export_receipts(receipts: list[Receipt], directory: Path) -> list[Path]:
    """Write receipts as ``<directory>/<stage>.json`` files (validated, atomic)."""
    return [write_receipt(receipt, directory) for receipt in receipts]
