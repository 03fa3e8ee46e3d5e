"""A re-score page's writes on PostgreSQL (COPY + one statement, asynchronous commit).

Driven directly against a real PostgreSQL schema holding stored scores: what the page writes,
what it skips, NaN scores, a rolled-back page, and the commit setting's scope.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from tessera_serving.config import ServingConfig
from tessera_serving.registry import Registry, open_registry, upgrade, utcnow
from tessera_serving.registry.engine import create_registry_engine
from tessera_serving.registry.scale_tables import RescorePage
from tessera_serving.registry.scoring_tables import CurrentScore, RescoreSweep, ScoreAudit
from tessera_serving.scoring.rescore_page_pg import begin_page_pg, write_page_pg
from tessera_serving.scoring.score_job import ScoreOptions, run_score_job
from tessera_serving.scoring.scorer import RERANKER

from .conftest import candidates_table, make_booster, register, write_candidates

pytestmark = pytest.mark.postgres
SHA = "f" * 64


@pytest.fixture
def pg(postgres_url: str, tmp_path: Path) -> Any:
    """A PostgreSQL registry with the stored scores of one score job, and a sweep row."""
    engine = create_registry_engine(postgres_url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    config = ServingConfig.from_env(
        state_dir=tmp_path / "home",
        database_url=postgres_url,
        artifacts_url=str(tmp_path / "artifacts"),
    )
    table = candidates_table(n_queries=8)
    with open_registry(config) as registry:
        register(registry, make_booster(table))
        path = write_candidates(tmp_path / "in.parquet", table)
        options = ScoreOptions(backend="lightgbm", num_threads=1, store=True)
        job = run_score_job(registry, "rr", path, tmp_path / "out.parquet", options)
        with registry.transaction() as session:
            sweep = RescoreSweep(
                sweep_key="k", model_name="rr", model_ref="rr#2", model_ids=[1], status="running"
            )
            session.add(sweep)
            session.flush()
            sweep_id = sweep.id
        yield registry, job.job_id, sweep_id, table.num_rows


def _output(n: int, scores: list[float], sources: list[str]) -> pa.RecordBatch:
    """A scored page as ``score_queries`` returns it (only the columns the write reads)."""
    assert len(scores) == len(sources) == n
    return pa.RecordBatch.from_pydict(
        {
            "score": pa.array(scores, pa.float64()),
            "source": sources,
            "model_sha256": [SHA if s == RERANKER else None for s in sources],
        }
    )


def _new_page(registry: Registry, job: int, sweep: int, first: int, rows: int) -> RescorePage:
    with registry.transaction() as session:
        page = RescorePage(sweep_id=sweep, input_job_id=job, first_row=first,
                           end_row=first + rows, status="pending")  # fmt: skip
        session.add(page)
        return page


def _write(session: Session, page: RescorePage, job: int, output: pa.RecordBatch) -> Any:
    begin_page_pg(session)
    page = session.get_one(RescorePage, page.id)  # as the worker's claim loads it
    return write_page_pg(
        session, page, output, model_name="rr", job_id=job, sweep_id=page.sweep_id, now=utcnow()
    )


def _page(registry: Registry, job: int, output: pa.RecordBatch, page: RescorePage) -> Any:
    """Write ``output`` as ``page``'s scores in one transaction; check the page is done."""
    with registry.transaction() as session:
        scored, written = _write(session, page, job, output)
    with registry.transaction(readonly=True) as session:
        done = session.get(RescorePage, page.id)
        assert done is not None and (done.status, done.rescored) == ("done", written)
        assert done.job_id == job and done.done_at is not None
    return scored, written


def test_a_page_writes_scored_rows_once_with_their_history(pg: Any) -> None:
    registry, job, sweep, _ = pg
    output = _output(4, [0.25, math.nan, 7.0, 1.5], [RERANKER, RERANKER, "base_score", RERANKER])
    page = _new_page(registry, job, sweep, 2, output.num_rows)
    assert _page(registry, job, output, page) == (3, 3)
    assert _page(registry, job, output, page) == (3, 0)  # this sweep wrote them already
    with registry.transaction(readonly=True) as session:
        rows = session.execute(select(CurrentScore).order_by(CurrentScore.row_index)).scalars()
        by_index = {r.row_index: r for r in rows}
        index_of = {r.id: i for i, r in by_index.items()}
        audit = session.scalars(select(ScoreAudit).where(ScoreAudit.sweep_id == sweep)).all()
    assert [(by_index[i].score, by_index[i].model_sha256) for i in (2, 3, 5)] == [
        (0.25, SHA),
        (None, SHA),  # a NaN score is stored as NULL
        (1.5, SHA),
    ]
    assert by_index[4].model_sha256 != SHA  # the row the model did not score keeps its score
    assert sorted(index_of[a.current_id] for a in audit) == [2, 3, 5]
    assert {a.previous_model_sha256 for a in audit} != {SHA}
    assert all(a.previous_source == RERANKER for a in audit)


def test_a_rolled_back_page_leaves_nothing_and_the_next_page_still_writes(pg: Any) -> None:
    registry, job, sweep, _ = pg
    output = _output(2, [0.5, 0.75], [RERANKER, RERANKER])
    page = _new_page(registry, job, sweep, 0, 2)
    with pytest.raises(RuntimeError), registry.transaction() as session:
        _write(session, page, job, output)  # creates the connection's page table, rolled back
        raise RuntimeError("the page's worker failed before its commit")
    with registry.transaction(readonly=True) as session:
        assert session.scalars(select(ScoreAudit).where(ScoreAudit.sweep_id == sweep)).all() == []
        assert session.get(RescorePage, page.id).status == "pending"
    assert _page(registry, job, output, page) == (2, 2)


def test_only_the_page_transaction_skips_the_commit_fsync_wait(pg: Any) -> None:
    registry, *_ = pg
    with registry.transaction() as session:
        begin_page_pg(session)
        assert session.execute(text("SHOW synchronous_commit")).scalar() == "off"
    with registry.transaction() as session:
        assert session.execute(text("SHOW synchronous_commit")).scalar() == "on"
