"""Partitioned score jobs: 8 partitions on a real Dask LocalCluster (threads; processes with a
worker killed mid-job) and on the local process pool (the whole job killed, then rerun).

The partitions are the row ranges (whole queries) of one candidates table, so the
partitioned output must equal scoring the concatenated file in one process, row for row.
"""

from __future__ import annotations

import json
import os
import posixpath
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from cli_runner import TESSERA_SERVE, Cli, cli_env
from sqlalchemy import func, select

from tessera_serving.registry import Registry
from tessera_serving.registry.scale_tables import ScorePartition
from tessera_serving.registry.scoring_tables import CurrentScore, ScoreAudit
from tessera_serving.scoring.partitioned import run_partitioned_job
from tessera_serving.scoring.score_job import ScoreOptions, run_score_job
from tessera_serving.testhooks import PAUSE_AT_ENV, PAUSE_FILE_ENV, RELEASE_FILE_ENV

from .conftest import (
    FEATURE_SCHEMA,
    Booster,
    candidates_table,
    register,
    write_candidates,
)

PARTS = 8
LGB = ScoreOptions(backend="lightgbm", num_threads=1, store=True)


def _partitions(tmp_path: Path, table: pa.Table) -> tuple[Path, Path]:
    """``table`` cut at query boundaries into PARTS files under ``parts/``; and the whole."""
    qid = table.column("query_id").to_pylist()
    starts = [i for i in range(len(qid)) if i == 0 or qid[i] != qid[i - 1]]
    cuts = [starts[len(starts) * k // PARTS] for k in range(PARTS)] + [len(qid)]
    parts = tmp_path / "parts"
    parts.mkdir()
    for k in range(PARTS):
        piece = table.slice(cuts[k], cuts[k + 1] - cuts[k])
        write_candidates(parts / f"part-{k:02d}.parquet", piece)
    return parts, write_candidates(tmp_path / "whole.parquet", table)


def _query_ids_prefixed(table: pa.Table, prefix: str) -> pa.Table:
    """``table`` with other queries: each string query id prefixed."""
    ids = pc.binary_join_element_wise(prefix, table.column("query_id"), "")
    return table.set_column(table.schema.get_field_index("query_id"), "query_id", ids)


def _concatenated(out_dir: Path) -> pa.Table:
    files = sorted(out_dir.glob("*.parquet"))
    assert [f.name for f in files] == [f"part-{k:02d}.parquet" for k in range(PARTS)]
    return pa.concat_tables([pq.read_table(f) for f in files])


def _counts(registry: Registry) -> tuple[int, int, int]:
    with registry.transaction(readonly=True) as s:
        return (
            int(s.scalar(select(func.count(ScorePartition.id))) or 0),
            int(s.scalar(select(func.count(CurrentScore.id))) or 0),
            int(s.scalar(select(func.count(ScoreAudit.id))) or 0),
        )


@pytest.fixture
def setup(sqlite_registry: Registry, tmp_path: Path, booster: Booster) -> Any:
    register(sqlite_registry, booster)
    table = candidates_table(n_queries=160, seed=3)
    parts, whole = _partitions(tmp_path, table)
    expected = run_score_job(
        sqlite_registry,
        "rr",
        whole,
        tmp_path / "whole-out.parquet",
        ScoreOptions("production", backend="lightgbm", num_threads=1),
    )
    assert expected.rows == table.num_rows
    (tmp_path / "out").mkdir()
    return table, parts, pq.read_table(tmp_path / "whole-out.parquet")


def test_threads_cluster_scores_8_partitions_like_one_file(
    sqlite_registry: Registry, tmp_path: Path, setup: Any
) -> None:
    from distributed import Client, LocalCluster

    table, parts, expected = setup
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=False) as cluster,
        Client(cluster) as client,
    ):
        result = run_partitioned_job(
            sqlite_registry, "rr", str(parts), str(tmp_path / "out"), LGB, dask=client
        )
        assert result.counts["committed"] == PARTS and result.rows == table.num_rows
        assert result.counts["stored"] == table.num_rows
        assert _concatenated(tmp_path / "out").equals(expected)
        assert _counts(sqlite_registry) == (PARTS, table.num_rows, table.num_rows)
        applied = [e for e in result.events if e.name == "reranker.applied"]
        assert sorted(e.fields["partition"] for e in applied) == sorted(
            str(p) for p in parts.glob("*.parquet")
        )
        again = run_partitioned_job(
            sqlite_registry, "rr", str(parts), str(tmp_path / "out"), LGB, dask=client
        )
    assert again.counts["committed"] == 0
    assert again.counts["skipped_committed_before"] == PARTS
    assert _counts(sqlite_registry) == (PARTS, table.num_rows, table.num_rows)


def _run_cli(cli: Cli, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(TESSERA_SERVE), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cli.cwd,
        env=cli_env(cli.config, **env),
        start_new_session=True,
    )


def _wait(path: Path, proc: subprocess.Popen[str]) -> int:
    deadline = time.monotonic() + 240
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.05)
    time.sleep(0.05)
    return int(path.read_text().strip())


def _score_args(parts: Path, out: Path, *extra: str) -> list[str]:
    return [
        "score", "--model", "rr", "--input", str(parts), "--output", str(out), "--store",
        "--backend", "lightgbm", "--threads", "1", "--json", *extra,
    ]  # fmt: skip


@pytest.mark.slow
def test_process_cluster_retries_a_killed_workers_partition(
    sqlite_registry: Registry, sqlite_cli: Cli, tmp_path: Path, setup: Any
) -> None:
    table, parts, expected = setup
    marker, release = tmp_path / "parked", tmp_path / "release"
    proc = _run_cli(
        sqlite_cli,
        *_score_args(parts, tmp_path / "out", "--dask", "local", "--workers", "2"),
        **{
            PAUSE_AT_ENV: "partition.part-03.parquet.before_commit",
            PAUSE_FILE_ENV: str(marker),
            RELEASE_FILE_ENV: str(release),
        },
    )
    try:
        worker_pid = _wait(marker, proc)
        assert worker_pid != proc.pid
        release.touch()  # the retried attempt passes; the first one dies before it commits
        os.kill(worker_pid, signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, stderr
    summary = json.loads(stdout)
    assert summary["counts"]["committed"] == PARTS and summary["rows"] == table.num_rows
    assert _concatenated(tmp_path / "out").equals(expected)
    assert _counts(sqlite_registry) == (PARTS, table.num_rows, table.num_rows)


@pytest.mark.slow
def test_killed_job_rerun_completes_only_the_missing_partitions(
    sqlite_registry: Registry, sqlite_cli: Cli, tmp_path: Path, setup: Any
) -> None:
    table, parts, expected = setup
    marker = tmp_path / "parked"
    args = _score_args(parts, tmp_path / "out")
    proc = _run_cli(
        sqlite_cli,
        *args,
        **{PAUSE_AT_ENV: "partition.part-05.parquet.before_commit", PAUSE_FILE_ENV: str(marker)},
    )
    try:
        _wait(marker, proc)
        deadline = time.monotonic() + 240
        while _counts(sqlite_registry)[0] < PARTS - 1:  # every other partition commits
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the whole job: CLI and its pool
        proc.wait()
    committed, current, audit = _counts(sqlite_registry)
    assert committed == PARTS - 1 and current == audit < table.num_rows
    rerun = sqlite_cli(*args)
    assert rerun.returncode == 0, rerun.stderr
    counts = json.loads(rerun.stdout)["counts"]
    assert (counts["committed"], counts["skipped_committed_before"]) == (1, PARTS - 1)
    assert _concatenated(tmp_path / "out").equals(expected)
    assert _counts(sqlite_registry) == (PARTS, table.num_rows, table.num_rows)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        f"part-{k:02d}.parquet" for k in range(PARTS)
    ]  # no temporary files left by the killed attempt


def test_partitions_that_fall_back_are_named_with_the_reason(
    sqlite_registry: Registry, sqlite_cli: Cli, tmp_path: Path, booster: Booster
) -> None:
    register(sqlite_registry, booster)
    parts = tmp_path / "parts"
    parts.mkdir()
    table = candidates_table(n_queries=20)
    write_candidates(parts / "good.parquet", table)
    drifted = {**FEATURE_SCHEMA, "knn": ["knn_score", "knn_votes_v2"]}
    renamed = ["knn_votes_v2" if c == "knn_votes" else c for c in table.column_names]
    other_queries = _query_ids_prefixed(table, "d").rename_columns(renamed)
    write_candidates(parts / "drifted.parquet", other_queries, drifted)
    (tmp_path / "out").mkdir()
    args = _score_args(parts, tmp_path / "out", "--workers", "1")
    result = sqlite_cli(*args)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["counts"]["fallback_partitions"] == {
        str(parts / "drifted.parquet"): "reranker.schema_mismatch"
    }
    assert summary["counts"]["fallback"] == table.num_rows
    listed = sqlite_cli("events", str(summary["job_id"]), "--json").stdout.splitlines()
    mismatch = [e for e in map(json.loads, listed) if e["event"] == "reranker.schema_mismatch"]
    assert [e["partition"] for e in mismatch] == [str(parts / "drifted.parquet")]


def test_bad_partition_input_is_one_line_and_the_rest_commit(
    sqlite_registry: Registry, sqlite_cli: Cli, tmp_path: Path, booster: Booster
) -> None:
    register(sqlite_registry, booster)
    parts = tmp_path / "parts"
    parts.mkdir()
    write_candidates(parts / "a.parquet", candidates_table(n_queries=10))
    (parts / "b.parquet").write_bytes(b"not parquet at all")
    (tmp_path / "out").mkdir()
    result = sqlite_cli(*_score_args(parts, tmp_path / "out", "--workers", "1"))
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if not line.startswith("{")]
    assert len(lines) == 1 and "b.parquet" in lines[0] and "not a readable Parquet" in lines[0]
    assert "Traceback" not in result.stderr
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["a.parquet"]
    assert _counts(sqlite_registry)[0] == 1


def test_partitions_in_and_out_of_s3(
    sqlite_registry: Registry, tmp_path: Path, setup: Any, s3_url: str
) -> None:
    """Input partitions read from, and outputs written to, the loopback S3 server."""
    import fsspec
    from distributed import Client, LocalCluster

    _table, parts, expected = setup
    fs, root = fsspec.core.url_to_fs(s3_url)
    for part in sorted(parts.glob("*.parquet")):
        fs.put_file(str(part), f"{root}/in/{part.name}")
    options = ScoreOptions(backend="lightgbm", num_threads=1)
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=False) as cluster,
        Client(cluster) as client,
    ):
        result = run_partitioned_job(
            sqlite_registry, "rr", f"{s3_url}/in/*.parquet", f"{s3_url}/out", options, dask=client
        )
    assert result.counts["committed"] == PARTS
    fs.invalidate_cache()
    outputs = sorted(fs.glob(f"{root}/out/*.parquet"))
    assert [posixpath.basename(o) for o in outputs] == [
        f"part-{k:02d}.parquet" for k in range(PARTS)
    ]
    got = pa.concat_tables([pq.read_table(fs.open(o, "rb")) for o in outputs])
    assert got.equals(expected)
