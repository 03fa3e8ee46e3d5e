"""Guarded scoring over Arrow record batches: the core that the CLI, jobs and rescore share.

``score_batches(model, batches, feature_schema)`` yields, for every input row in input order,
``query_id, candidate_id, score, rank, source, model_sha256``. Rows the guard clears are
scored by their booster (columns picked by name in the booster's own order, cast to float64
into one reused C-contiguous buffer, nulls as NaN); other rows keep ``base_score``.

The decision is per query: a query is reranked only if every one of its rows can be
(otherwise all its rows fall back), so a query is never half-reranked. ``model_sha256`` is
the sha256 of the booster that produced the score, null for ``fallback`` rows (the refused
model is named in the job's events). Rank is 1-based within a query, by score descending,
ties by input order (NaN scores last). Queries must be contiguous; a query that spans
batches is carried over, so output batches need not align with input batches.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from tessera_serving.errors import ScoringError
from tessera_serving.scoring import events as ev
from tessera_serving.scoring import guard
from tessera_serving.scoring.matrix import MatrixBuilder, float64_values
from tessera_serving.scoring.queries import (
    Pending,
    QueryRuns,
    plain_array,
    plain_type,
    query_starts,
    rank_order,
)
from tessera_serving.scoring.scoring_model import ScoreStats, ScoringModel

__all__ = [
    "ScoreStats",
    "ScoringModel",
    "ScoringPlan",
    "prepare",
    "query_starts",
    "rank_order",
    "score_batches",
]

QUERY_ID, CANDIDATE_ID, BASE_SCORE, CATEGORY = "query_id", "candidate_id", "base_score", "category"
REQUIRED_COLUMNS = (QUERY_ID, CANDIDATE_ID, BASE_SCORE)
RERANKER, FALLBACK = "reranker", "fallback"
_SOURCES = pa.array([FALLBACK, RERANKER], pa.string())
_REFUSED, _UNCOVERED = -1, -2  # cell codes for rows no cleared booster may score


def output_schema(query_type: pa.DataType, candidate_type: pa.DataType) -> pa.Schema:
    """The output columns, keeping the input's id types."""
    return pa.schema(
        [
            pa.field(QUERY_ID, query_type, nullable=False),
            pa.field(CANDIDATE_ID, candidate_type),
            pa.field("score", pa.float64()),
            pa.field("rank", pa.int64(), nullable=False),
            pa.field("source", pa.string(), nullable=False),
            pa.field("model_sha256", pa.string()),
        ]
    )


class ScoringPlan:
    """The guard's verdict for one input schema, ready to score batches of that schema."""

    def __init__(
        self,
        model: ScoringModel,
        arrow_schema: pa.Schema,
        result: guard.GuardResult,
        sink: ev.EventSink,
    ) -> None:
        missing = [c for c in REQUIRED_COLUMNS if arrow_schema.get_field_index(c) < 0]
        if missing:
            raise ScoringError(
                f"input has no column(s) {missing}: expected {list(REQUIRED_COLUMNS)} "
                "and the feature columns (DESIGN.md section 3)"
            )
        self.live_sha = result.live.sha
        self.stats = ScoreStats()
        self._sink = sink
        self._per_category = result.per_category
        self._all_cells = [c.cell for c in model.cells]
        applied = list(result.applied)
        if self._per_category and applied and arrow_schema.get_field_index(CATEGORY) < 0:
            sink(
                ev.skipped(
                    ev.NO_BOOSTER_FOR_CELL,
                    detail="input has no 'category' column",
                    model_ids=[c.model_id for c in applied],
                )
            )
            applied = []
        self.applied = applied
        self._predictors = [model.predictor(c) for c in applied]
        self._builders: dict[tuple[str, ...], MatrixBuilder] = {}
        for c in applied:
            self._builders.setdefault(c.feature_names, MatrixBuilder(c.feature_names))
        self._code_to_applied = np.full(len(model.cells), _REFUSED, dtype=np.int16)
        for i, c in enumerate(model.cells):
            if c in applied:
                self._code_to_applied[i] = applied.index(c)
        self._shas = pa.array([None, *[c.artifact_sha256 for c in applied]], pa.string())
        query_type = plain_type(arrow_schema.field(QUERY_ID).type)
        self.schema = output_schema(query_type, plain_type(arrow_schema.field(CANDIDATE_ID).type))

    @property
    def columns(self) -> list[str]:
        """The input columns scoring reads (ids, base score, category, cleared features)."""
        cols = list(REQUIRED_COLUMNS)
        if self._per_category:
            cols.append(CATEGORY)
        for names in self._builders:
            cols.extend(n for n in names if n not in cols)
        return cols

    def score(self, batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        """Yield output batches for ``batches`` (see the module docstring), then the events."""
        carry: Pending | None = None
        runs, done = QueryRuns(), 0
        for batch in batches:
            if batch.num_rows == 0:
                continue
            part = self._predict(batch)
            if carry is not None:
                part = carry.concat(part)
            starts = query_starts(part.qid)
            cut = int(starts[-1])
            if cut > 0:
                head = part.slice(0, cut)
                runs.add(head.qid, starts[starts < cut], done)
                yield self._finish(head, starts[starts < cut])
                done += cut
            carry = part.slice(cut)
        if carry is not None and len(carry):
            starts = query_starts(carry.qid)
            runs.add(carry.qid, starts, done)
            yield self._finish(carry, starts)
        self._closing_events()

    def score_queries(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """Score a batch of whole queries at once (a re-score page); unlike ``score`` the
        closing events wait for ``close``, so a plan can score many such batches."""
        part = self._predict(batch)
        return self._finish(part, query_starts(part.qid))

    def close(self) -> None:
        """Emit the closing events (``reranker.applied`` with this plan's counts)."""
        self._closing_events()

    def _predict(self, batch: pa.RecordBatch) -> Pending:
        n = batch.num_rows
        qid = plain_array(batch.column(QUERY_ID))
        if qid.null_count:
            raise ScoringError(f"input column {QUERY_ID!r} has {qid.null_count} null value(s)")
        base = float64_values(batch.column(BASE_SCORE))
        pred = np.full(n, np.nan)
        cell = np.full(n, _REFUSED, dtype=np.int16)
        if self._per_category:
            self._cell_codes(batch, cell)
        elif self.applied:
            cell[:] = 0
        for i, predictor in enumerate(self._predictors):
            builder = self._builders[self.applied[i].feature_names]
            if not self._per_category:
                pred[:] = predictor.predict(builder.fill(batch))
                continue
            rows = np.flatnonzero(cell == i)
            if len(rows):
                pred[rows] = predictor.predict(builder.fill_rows(batch, rows))
        return Pending(qid, plain_array(batch.column(CANDIDATE_ID)), base, pred, cell)

    def _cell_codes(self, batch: pa.RecordBatch, cell: npt.NDArray[np.int16]) -> None:
        if not self.applied and batch.schema.get_field_index(CATEGORY) < 0:
            return
        cats = plain_array(batch.column(CATEGORY))
        codes = pc.index_in(cats, value_set=pa.array(self._all_cells, cats.type))
        known = codes.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        cell[:] = np.where(known >= 0, self._code_to_applied[np.maximum(known, 0)], _UNCOVERED)
        uncovered = cell == _UNCOVERED
        if uncovered.any():
            counts = pc.value_counts(cats.filter(pa.array(uncovered)))
            values = counts.field("values").to_pylist()
            for value, count in zip(values, counts.field("counts").to_pylist(), strict=True):
                self.stats.uncovered["<null>" if value is None else str(value)] += int(count or 0)

    def _finish(self, part: Pending, starts: npt.NDArray[np.int64]) -> pa.RecordBatch:
        n = len(part)
        group = np.zeros(n, dtype=np.int64)
        group[starts[1:]] = 1
        np.cumsum(group, out=group)
        ok = np.logical_and.reduceat(part.cell >= 0, starts)[group]
        score = np.where(ok, part.pred, part.base)
        order = rank_order(score, group)
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(n, dtype=np.int64) - starts[group[order]] + 1
        self._count(part.cell, ok)
        sha_index = np.where(ok, part.cell.astype(np.int64) + 1, 0)
        return pa.RecordBatch.from_arrays(
            [
                part.qid,
                part.cid,
                pa.array(score, pa.float64()),
                pa.array(rank, pa.int64()),
                _SOURCES.take(ok.view(np.uint8)),
                self._shas.take(sha_index),
            ],
            schema=self.schema,
        )

    def _count(self, cell: npt.NDArray[np.int16], ok: npt.NDArray[np.bool_]) -> None:
        reranked = int(ok.sum())
        self.stats.rows += len(cell)
        self.stats.by_source[RERANKER] += reranked
        self.stats.by_source[FALLBACK] += len(cell) - reranked
        for i, c in enumerate(self.applied):
            mine = cell == i
            self.stats.scored[c.model_id] += int((mine & ok).sum())
            self.stats.demoted[c.model_id] += int((mine & ~ok).sum())

    def _closing_events(self) -> None:
        for c in self.applied:
            self._sink(
                ev.applied(
                    c.model_id,
                    str(self.live_sha),
                    self.stats.scored[c.model_id],
                    rows_demoted=self.stats.demoted[c.model_id],
                    **c.context(),
                )
            )
        if self.stats.uncovered:
            top = dict(sorted(self.stats.uncovered.items(), key=lambda kv: (-kv[1], kv[0]))[:50])
            self._sink(
                ev.skipped(
                    ev.NO_BOOSTER_FOR_CELL,
                    rows=sum(self.stats.uncovered.values()),
                    categories=top,
                    cells=[c for c in self._all_cells if c is not None],
                )
            )


def prepare(
    model: ScoringModel,
    arrow_schema: pa.Schema,
    feature_schema: guard.FeatureSchema | None = None,
    *,
    require_stage: str | None = None,
    events: ev.EventSink | None = None,
    source: str = "input",
) -> ScoringPlan:
    """Run the guard for inputs of ``arrow_schema``; emit its refusals; load cleared boosters."""
    sink: ev.EventSink = events if events is not None else ev.log_event
    guard.refuse_duplicate_columns(arrow_schema, source)
    live = guard.declared_schema(arrow_schema, feature_schema, source=source)
    result = guard.check(model.cells, live, arrow_schema, require_stage=require_stage)
    for event in result.events:
        sink(event)
    return ScoringPlan(model, arrow_schema, result, sink)


def score_batches(
    model: ScoringModel,
    batches: Iterable[pa.RecordBatch],
    feature_schema: guard.FeatureSchema | None = None,
    *,
    require_stage: str | None = None,
    events: ev.EventSink | None = None,
    stats: ScoreStats | None = None,
) -> Iterator[pa.RecordBatch]:
    """Score ``batches`` (one input's batches, one schema) behind the guard.

    ``feature_schema`` overrides the batches' ``tessera.feature_schema`` metadata. Events
    go to ``events`` (default: logged); pass ``stats`` to read the counts afterwards.
    """
    iterator = iter(batches)
    first = next(iterator, None)
    if first is None:
        return
    plan = prepare(model, first.schema, feature_schema, require_stage=require_stage, events=events)
    if stats is not None:
        plan.stats = stats
    yield from plan.score(itertools.chain([first], iterator))
