"""A rescoring worker's view of a sweep's inputs: each stored job's input file, fetched once.

Each input gets a prepared scoring plan (the guard runs once per input, outside any page);
each page loop reads its rows with its own forward reader.
"""

from __future__ import annotations

from pathlib import Path

from tessera_serving.errors import NotFoundError
from tessera_serving.registry import Registry
from tessera_serving.registry.scoring_tables import ScoringJob
from tessera_serving.scoring import events as ev
from tessera_serving.scoring.parquet_io import open_parquet
from tessera_serving.scoring.scorer import ScoringModel, ScoringPlan, prepare
from tessera_serving.scoring.sweep_pages import ForwardRows


class SweepInputs:
    """The sweep's input files, fetched once per worker, with a prepared plan for each."""

    def __init__(self, registry: Registry, tmp: Path, batch_size: int) -> None:
        self._registry, self._tmp, self._batch_size = registry, tmp, batch_size
        self._paths: dict[int, Path] = {}
        self.ready: dict[int, ScoringPlan] = {}

    def path(self, source: ScoringJob) -> Path:
        if source.id not in self._paths:
            if source.input_sha256 is None or source.input_uri is None:
                raise NotFoundError(
                    f"scoring job {source.id} did not keep its input in the artifact store "
                    "(only jobs that stored their scores can be re-scored)"
                )
            self._paths[source.id] = self._registry.store.fetch(source.input_sha256, self._tmp)
        return self._paths[source.id]

    def prepare(self, input_job_id: int, model: ScoringModel, sink: ev.EventSink) -> None:
        """Run the guard for one input (its events go to ``sink``) outside any page."""
        with self._registry.transaction(readonly=True) as session:
            source = session.get(ScoringJob, input_job_id)
        if source is None:
            raise NotFoundError(f"scoring job {input_job_id} (a sweep page's input) is gone")
        path = self.path(source)
        plan = prepare(
            model,
            open_parquet(path).schema_arrow,
            source.feature_schema,
            events=sink,
            source=f"input {path}",
        )
        self.ready[input_job_id] = plan

    def reader(self, input_job_id: int) -> ForwardRows:
        """A new forward reader of a prepared input's rows (one per page loop: it has state)."""
        return ForwardRows(self._paths[input_job_id], self.ready[input_job_id].columns,
                           self._batch_size)  # fmt: skip

    def close(self) -> None:
        for plan in self.ready.values():
            plan.close()
