"""A query whose rows sit in two partitions: refused before any partition is scored (one line
naming the query and both partitions), or, with ``--allow-split-queries``, ranked within each
partition and recorded. Checked on every run, so a rerun completing missing partitions checks.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from cli_runner import Cli
from sqlalchemy import func, select

from tessera_serving.errors import ScoringError
from tessera_serving.registry import Registry
from tessera_serving.registry.receipt_store import receipts_for_job
from tessera_serving.registry.scale_tables import ScorePartition
from tessera_serving.registry.scoring_tables import ScoringJob
from tessera_serving.scoring.partitioned import run_partitioned_job
from tessera_serving.scoring.query_spans import find_split_queries
from tessera_serving.scoring.score_job import ScoreOptions

from .conftest import Booster, candidates_table, register, write_candidates

LGB = ScoreOptions(backend="lightgbm", num_threads=1)


def _int_part(path: Path, ids: list[int], statistics: bool = True) -> str:
    """A partition of one row per query id (only ``query_id`` matters to the survey)."""
    table = pa.table({"query_id": pa.array(ids, pa.int64()), "candidate_id": ids})
    pq.write_table(table, path, write_statistics=statistics)
    return str(path)


def test_disjoint_and_interleaved_integer_partitions_share_nothing(tmp_path: Path) -> None:
    ranged = [
        _int_part(tmp_path / f"r{k}.parquet", list(range(k * 10, k * 10 + 10))) for k in range(3)
    ]
    assert find_split_queries(ranged).count == 0
    hashed = [_int_part(tmp_path / f"h{k}.parquet", list(range(k, 60, 3))) for k in range(3)]
    assert find_split_queries(hashed).count == 0  # ranges overlap: the exact check clears it


def test_a_shared_integer_query_is_found_through_overlapping_ranges(tmp_path: Path) -> None:
    a = _int_part(tmp_path / "a.parquet", [0, 1, 2, 3])
    b = _int_part(tmp_path / "b.parquet", [10, 11, 12])
    c = _int_part(tmp_path / "c.parquet", [3, 20])  # overlaps a and b; shares 3 with a
    found = find_split_queries([a, b, c])
    assert (found.count, found.query, found.partitions) == (1, 3, (a, c))


def test_integer_widths_are_one_id_space_and_nulls_are_not_queries(tmp_path: Path) -> None:
    a = _int_part(tmp_path / "a.parquet", [0, 1, 7])
    narrow = pa.table({"query_id": pa.array([None, 7, 9], pa.int32()), "candidate_id": [1, 2, 3]})
    pq.write_table(narrow, tmp_path / "b.parquet")
    nulls = pa.table({"query_id": pa.array([None, 20], pa.int64()), "candidate_id": [4, 5]})
    pq.write_table(nulls, tmp_path / "c.parquet", write_statistics=False)
    found = find_split_queries([a, str(tmp_path / "b.parquet"), str(tmp_path / "c.parquet")])
    assert (found.count, found.query, found.partitions) == (1, 7, (a, str(tmp_path / "b.parquet")))


def test_a_partition_without_statistics_is_compared_with_all(tmp_path: Path) -> None:
    a = _int_part(tmp_path / "a.parquet", [0, 1, 2])
    b = _int_part(tmp_path / "b.parquet", [10, 11])
    c = _int_part(tmp_path / "c.parquet", [11, 30], statistics=False)
    found = find_split_queries([a, b, c])
    assert (found.count, found.query, found.partitions) == (1, 11, (b, c))


def test_shared_string_queries_are_counted_and_unreadable_files_left_to_workers(
    tmp_path: Path,
) -> None:
    table = candidates_table(n_queries=12)
    a = str(write_candidates(tmp_path / "a.parquet", table.slice(0, 60)))
    b = str(write_candidates(tmp_path / "b.parquet", table.slice(40)))
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    found = find_split_queries([a, str(tmp_path / "bad.parquet"), b])
    shared = set(table.slice(0, 60)["query_id"].to_pylist()) & set(
        table.slice(40)["query_id"].to_pylist()
    )
    assert found.count == len(shared) >= 1 and found.partitions == (a, b)
    assert found.query in shared


def _split_input(tmp_path: Path) -> tuple[Path, pa.Table]:
    """Two partitions that cut one query (the 20th row's) in two."""
    table = candidates_table(n_queries=12, seed=5)
    parts = tmp_path / "parts"
    parts.mkdir()
    write_candidates(parts / "p0.parquet", table.slice(0, 20))
    write_candidates(parts / "p1.parquet", table.slice(20))
    (tmp_path / "out").mkdir()
    return parts, table


def _committed(registry: Registry) -> int:
    with registry.transaction(readonly=True) as s:
        return int(s.scalar(select(func.count(ScorePartition.id))) or 0)


def _jobs(registry: Registry, parts: Path) -> list[tuple[int, str, str | None]]:
    """The partitioned jobs (not their partitions' child jobs): id, status, error."""
    query = select(ScoringJob).where(ScoringJob.input_path == str(parts)).order_by(ScoringJob.id)
    with registry.transaction(readonly=True) as s:
        return [(j.id, j.status, j.error) for j in s.scalars(query)]


def test_cli_refuses_a_split_query_then_allows_it_when_asked(
    sqlite_registry: Registry, sqlite_cli: Cli, tmp_path: Path, booster: Booster
) -> None:
    register(sqlite_registry, booster)
    parts, table = _split_input(tmp_path)
    query = table["query_id"][20].as_py()
    args = ["score", "--model", "rr", "--input", str(parts), "--output", str(tmp_path / "out"),
            "--backend", "lightgbm", "--threads", "1", "--workers", "1", "--json"]  # fmt: skip
    refused = sqlite_cli(*args)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    (line,) = [x for x in refused.stderr.splitlines() if not x.startswith("{")]
    assert f"query {query!r} has rows in two partitions" in line
    assert str(parts / "p0.parquet") in line and str(parts / "p1.parquet") in line
    assert "--allow-split-queries" in line
    assert list((tmp_path / "out").iterdir()) == [] and _committed(sqlite_registry) == 0
    [(_, status, error)] = _jobs(sqlite_registry, parts)
    assert status == "failed" and error is not None and f"query {query!r}" in error
    allowed = sqlite_cli(*args, "--allow-split-queries")
    assert allowed.returncode == 0, allowed.stderr
    summary = json.loads(allowed.stdout)
    assert summary["counts"]["split_queries"] == 1 and summary["rows"] == table.num_rows
    assert "query.split_across_partitions" in summary["events"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["p0.parquet", "p1.parquet"]
    ranks = pq.read_table(tmp_path / "out" / "p1.parquet").filter(
        pc.equal(pc.field("query_id"), query)
    )["rank"]
    assert sorted(ranks.to_pylist())[0] == 1  # ranked again within the second partition
    (receipt,) = receipts_for_job(sqlite_registry, summary["job_id"])
    assert receipt.parameters["allow_split_queries"] is True
    assert any("span partitions" in w for w in receipt.validation.warnings)


def test_a_rerun_checks_the_partitions_committed_before(
    sqlite_registry: Registry, tmp_path: Path, booster: Booster
) -> None:
    """The first run commits p0 (p1 is unreadable); p1 is then fixed with a query of p0: the
    rerun refuses before scoring p1, so nothing new is committed or written."""
    register(sqlite_registry, booster)
    table = candidates_table(n_queries=12, seed=5)
    parts = tmp_path / "parts"
    parts.mkdir()
    write_candidates(parts / "p0.parquet", table.slice(0, 20))
    (parts / "p1.parquet").write_bytes(b"half-copied")
    (tmp_path / "out").mkdir()
    out = str(tmp_path / "out")
    with pytest.raises(ScoringError, match="1 partition\\(s\\) failed"):
        run_partitioned_job(sqlite_registry, "rr", str(parts), out, LGB, workers=1)
    assert _committed(sqlite_registry) == 1
    write_candidates(parts / "p1.parquet", table.slice(19))  # shares the query of row 19
    with pytest.raises(ScoringError, match="has rows in two partitions") as refused:
        run_partitioned_job(sqlite_registry, "rr", str(parts), out, LGB, dask="local")
    assert str(parts / "p0.parquet") in str(refused.value)
    assert _committed(sqlite_registry) == 1
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["p0.parquet"]
    jobs = _jobs(sqlite_registry, parts)
    assert [status for _, status, _ in jobs] == ["failed", "failed"]
    (receipt,) = receipts_for_job(sqlite_registry, jobs[1][0])
    assert not receipt.validation.passed and receipt.stats.records_in == 20


def test_dask_refuses_a_split_query_and_allows_it_when_asked(
    sqlite_registry: Registry, tmp_path: Path, booster: Booster
) -> None:
    from distributed import Client, LocalCluster

    register(sqlite_registry, booster)
    parts, table = _split_input(tmp_path)
    out = str(tmp_path / "out")
    with (
        LocalCluster(n_workers=1, threads_per_worker=1, processes=False) as cluster,
        Client(cluster) as client,
    ):
        with pytest.raises(ScoringError, match="has rows in two partitions"):
            run_partitioned_job(sqlite_registry, "rr", str(parts), out, LGB, dask=client)
        assert _committed(sqlite_registry) == 0 and list(Path(out).iterdir()) == []
        result = run_partitioned_job(
            sqlite_registry, "rr", str(parts), out, LGB, dask=client, allow_split_queries=True
        )
    assert result.counts["split_queries"] == 1 and result.rows == table.num_rows
    assert _committed(sqlite_registry) == 2
