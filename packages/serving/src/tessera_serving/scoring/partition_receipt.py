"""The ``scoring`` receipt of a partitioned job: its request, model, every partition in and out.

Like a single-file job's receipt (``receipts.py``) it is stored in the registry, linked to the
job, and written under ``$TESSERA_RECEIPTS_DIR`` when set; a failed job leaves one too. The
partitions are read back from their commit records, so a rerun that completed only the missing
partitions still lists them all, each with the input sha256 its worker hashed; nothing is
re-read here.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

from sqlalchemy import select

from tessera_serving.registry.engine import Registry
from tessera_serving.registry.receipt_store import JobLink
from tessera_serving.registry.scale_tables import ScorePartition
from tessera_serving.scoring.receipts import add_model_input, scoring_recorder
from tessera_serving.scoring.scorer import FALLBACK


class PartitionedReceipt:
    """Records one partitioned job: open it before the job, link it, tell it the outcome."""

    def __init__(
        self, registry: Registry, model_ref: str, input_spec: str, output_dir: str, options: Any
    ) -> None:
        self.registry = registry
        self._link = JobLink()
        self.rec = scoring_recorder(registry, self._link, model_ref, options)
        self.rec.param("input", input_spec)
        self.rec.param("output", output_dir)
        self._partitions = 0
        self._batch_key: str | None = None

    def link(self, job_id: int, batch_key: str, partitions: int) -> None:
        """The job exists: its id, its identity and how many partitions it names."""
        self._link(job_id)
        self._batch_key = batch_key
        self._partitions = partitions

    def allowed_split_queries(self, count: int) -> None:
        """The job ranked ``count`` split queries within each partition, as asked."""
        self.rec.param("allow_split_queries", True)
        if count:
            self.rec.warn(f"{count} queries span partitions and were ranked within each")

    def __enter__(self) -> Self:
        self.rec.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._batch_key is not None:
            self._committed(self._batch_key)
        self.rec.__exit__(exc_type, exc, tb)

    def _committed(self, batch_key: str) -> None:
        """The job's committed partitions (this run's or earlier), succeeded or not."""
        rec = self.rec
        with self.registry.transaction(readonly=True) as session:
            records = session.scalars(
                select(ScorePartition)
                .where(ScorePartition.batch_key == batch_key)
                .order_by(ScorePartition.partition)
            ).all()
            inputs = [
                {"partition": r.partition, "sha256": r.input_sha256, "rows": r.rows}
                for r in records
            ]
            outputs = [{"uri": r.output_uri, "rows": r.rows} for r in records]
            fallback = sum(int((r.counts or {}).get(FALLBACK, 0)) for r in records)
            total, committed = sum(int(r.rows) for r in records), len(records)
        rec.add_input_data("partitions", inputs, records=total)
        if self._link.job_id is not None:
            add_model_input(rec, self.registry, self._link.job_id)
        rec.add_output_data("partitions", outputs, records=total)
        rec.count(records_in=total, accepted=total - fallback, skipped=fallback)
        if fallback:
            rec.warn(f"{fallback} of {total} rows kept the base_score ordering")
        if committed != self._partitions:
            rec.warn(f"{committed} of {self._partitions} partitions are committed")
