"""Re-scoring rows sent in a request: the new score beside the previous one, optionally stored.

Rows carry ``previous_score`` and ``previous_model_sha``; the answer echoes both beside the
new ``score`` and ``model_sha256``. With ``store`` the request's rows go to the artifact store
(as Parquet, so a later sweep can re-read their features) and, in one transaction, the current
scores, their audit rows, the job row and its events are written before the answer.
"""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq

from tessera_serving.errors import ScoringError
from tessera_serving.registry import Registry, utcnow
from tessera_serving.registry.scoring_tables import JobEvent, ScoringJob
from tessera_serving.scoring.guard import FeatureSchema
from tessera_serving.scoring.jobs import json_safe
from tessera_serving.scoring.request_records import (
    RequestRecord,
    RequestRecorder,
    score_and_record,
)
from tessera_serving.scoring.served import ServedModel, TableScore
from tessera_serving.scoring.stored_scores import rows_from_batch, store_scores

PREVIOUS = ("previous_score", "previous_model_sha")


def rescore_and_record(
    recorder: RequestRecorder,
    registry: Registry,
    served: ServedModel,
    table: pa.Table,
    *,
    feature_schema: FeatureSchema | None,
    store: bool,
    source: str,
    input_sha256: str,
) -> tuple[int, TableScore]:
    """Score ``table`` and attach its previous values; store when asked (see the module)."""
    missing = [c for c in PREVIOUS if table.schema.get_field_index(c) < 0]
    if missing:
        raise ScoringError(f"{source}: rows have no column(s) {missing}; a re-score needs both")
    job_id, result = score_and_record(
        recorder, served, table, feature_schema=feature_schema, strict=False,
        source=source, input_sha256=input_sha256, deferred=store,
    )  # fmt: skip
    out = result.table
    for name in PREVIOUS:
        out = out.append_column(name, table.column(name))
    result.table = out
    if store:
        try:
            _store(registry, served, table, job_id, result, source)
        except Exception as exc:
            fields = {
                "kind": "rescore",
                "status": "failed",
                "model_ref": served.ref,
                "model_name": served.name,
                "error": str(exc).splitlines()[0],
            }
            recorder.submit(RequestRecord(job_id, fields, list(result.events)))
            raise
    return job_id, result


def _store(
    registry: Registry,
    served: ServedModel,
    table: pa.Table,
    job_id: int,
    result: TableScore,
    source: str,
) -> None:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    input_sha = registry.store.put_bytes(buffer.getvalue())
    batches = result.table.combine_chunks().to_batches()
    rows = rows_from_batch(batches[0], 0) if batches else []
    with registry.transaction() as session:
        stored = store_scores(
            session, model_name=served.name, job_id=job_id, input_job_id=job_id, rows=rows
        )
        job = session.get(ScoringJob, job_id)
        if job is None:
            raise ScoringError(f"job {job_id} vanished from the registry while storing")
        job.status, job.kind, job.stored = "succeeded", "rescore", True
        job.model_ref, job.model_name, job.model_version = served.ref, served.name, served.version
        job.model_ids = [c.model_id for c in served.cells]
        job.model_sha256s = list(served.shas)
        job.input_path, job.input_sha256 = source, input_sha
        job.input_uri = registry.store.uri(input_sha)
        job.rows, job.live_schema_sha = table.num_rows, result.live_schema_sha
        job.counts = {**result.counts, "stored": stored}
        job.finished_at = utcnow()
        for seq, event in enumerate(result.events, start=1):
            session.add(
                JobEvent(
                    job_id=job_id,
                    seq=seq,
                    name=event.name,
                    level=event.level,
                    fields=json_safe(dict(event.fields)),
                )
            )
