"""Bad input, bad flags and unsafe defaults through the real ``tessera-serve score``.

Each case: one line on stderr naming the flag, file, column or row; a non-zero exit; no
output file; no job left ``running``. The registry does not matter here, so SQLite only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scoring.conftest import Booster, register, write_candidates

from tessera_serving.registry import Registry

from .conftest import LGB_FLAGS, counts, one_line_error


def score(cli: Any, path: Path, out: Path, *extra: str, model: str = "rr", **env: str) -> Any:
    return cli("score", "--model", model, "--input", path, "--output", out, "--json", *extra, **env)


@pytest.fixture
def ready(sqlite_registry: Registry, booster: Booster, tmp_path: Path, table: pa.Table) -> Path:
    register(sqlite_registry, booster)
    return write_candidates(tmp_path / "in.parquet", table)


def _move_row_to_end(table: pa.Table, row: int) -> pa.Table:
    order = [i for i in range(table.num_rows) if i != row] + [row]
    return table.take(pa.array(order))


@pytest.mark.parametrize("batch_size", ["65536", "7"])
def test_a_query_split_in_two_is_refused_with_its_rows(
    sqlite_cli: Any,
    sqlite_registry: Registry,
    booster: Booster,
    tmp_path: Path,
    table: pa.Table,
    batch_size: str,
) -> None:
    register(sqlite_registry, booster)
    qids = table.column("query_id").to_pylist()
    second = qids.index(qids[0], 0) + qids.count(qids[0])  # first row of the second query
    moved = _move_row_to_end(table, second)
    path = write_candidates(tmp_path / "in.parquet", moved)
    out = tmp_path / "out.parquet"
    result = score(sqlite_cli, path, out, *LGB_FLAGS, "--batch-size", batch_size, "--store")
    assert result.returncode == 1
    line = one_line_error(result)
    n = table.num_rows
    size = qids.count(qids[second])
    assert f"query {qids[second]!r}" in line
    assert f"rows {n - 1}-{n - 1} and again" not in line  # names the first run, then the second
    assert f"rows {second}-{second + size - 2} and again from row {n - 1}" in line
    assert not out.exists()
    state = counts(sqlite_registry)
    assert (state.current, state.audit, state.staged) == (0, 0, 0)
    assert state.jobs == {"failed": 1}


def test_output_equal_to_input_or_a_directory_is_refused(
    sqlite_cli: Any, sqlite_registry: Registry, ready: Path, tmp_path: Path
) -> None:
    before = ready.read_bytes()
    same = score(sqlite_cli, ready, ready, *LGB_FLAGS)
    assert same.returncode == 1 and "is the input file" in one_line_error(same)
    assert ready.read_bytes() == before
    via_dots = score(sqlite_cli, ready, tmp_path / "." / "in.parquet", *LGB_FLAGS)
    assert via_dots.returncode == 1 and "is the input file" in one_line_error(via_dots)
    directory = tmp_path / "outdir"
    directory.mkdir()
    as_dir = score(sqlite_cli, ready, directory, *LGB_FLAGS)
    assert as_dir.returncode == 1 and "is a directory" in one_line_error(as_dir)
    assert counts(sqlite_registry).jobs == {}  # refused before any job was opened


def test_stale_temporaries_of_dead_writers_are_cleaned(
    sqlite_cli: Any, sqlite_registry: Registry, ready: Path, tmp_path: Path
) -> None:
    from tessera_serving.scoring.liveness import this_host

    out = tmp_path / "out.parquet"
    dead = tmp_path / f".out.parquet.tmp-{this_host()}-999999"
    legacy = tmp_path / ".out.parquet.tmp-999998"
    other_host = tmp_path / ".out.parquet.tmp-some-other-host-999997"
    for path in (dead, legacy, other_host):
        path.write_bytes(b"half a file")
    result = score(sqlite_cli, ready, out, *LGB_FLAGS)
    assert result.returncode == 0, result.stderr
    assert not dead.exists() and not legacy.exists()
    assert other_host.exists()  # another host's writer may be alive: not ours to judge


@pytest.mark.parametrize(
    ("flags", "env", "needle", "code"),
    [
        (["--threads", "0"], {}, "--threads must be an integer >= 1, got 0", 2),
        (["--threads", "-1"], {}, "--threads must be an integer >= 1, got -1", 2),
        (["--batch-size", "0"], {}, "--batch-size must be an integer >= 1, got 0", 2),
        ([], {"TESSERA_NUM_THREADS": "abc"}, "TESSERA_NUM_THREADS must be an integer", 1),
        ([], {"TESSERA_NUM_THREADS": "0"}, "TESSERA_NUM_THREADS must be an integer", 1),
        (["--require-stage", "bogus"], {}, "--require-stage", 2),
    ],
)
def test_bad_flags_are_one_line_and_open_no_job(
    sqlite_cli: Any,
    sqlite_registry: Registry,
    ready: Path,
    tmp_path: Path,
    flags: list[str],
    env: dict[str, str],
    needle: str,
    code: int,
) -> None:
    out = tmp_path / "out.parquet"
    result = sqlite_cli(
        "score", "--model", "rr", "--input", ready, "--output", out, "--backend", "lightgbm",
        *flags, **env,
    )  # fmt: skip
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    assert needle in result.stderr.splitlines()[-1]
    assert not out.exists() and counts(sqlite_registry).jobs == {}


def test_a_huge_thread_count_is_capped_not_a_crash(
    sqlite_cli: Any, sqlite_registry: Registry, ready: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.parquet"
    flag = score(sqlite_cli, ready, out, "--backend", "lightgbm", "--threads", "100000")
    assert flag.returncode == 0, flag.stderr
    env = score(sqlite_cli, ready, out, "--backend", "lightgbm", TESSERA_NUM_THREADS="100000")
    assert env.returncode == 0, env.stderr
    assert counts(sqlite_registry).jobs == {"succeeded": 2}


@pytest.mark.parametrize("column", ["knn_score", "query_id"])
def test_a_duplicated_column_is_one_line(
    sqlite_cli: Any,
    sqlite_registry: Registry,
    booster: Booster,
    tmp_path: Path,
    table: pa.Table,
    column: str,
) -> None:
    register(sqlite_registry, booster)
    doubled = table.append_column(pa.field(column, table.schema.field(column).type),
                                  table.column(column))  # fmt: skip
    path = write_candidates(tmp_path / "in.parquet", doubled)
    out = tmp_path / "out.parquet"
    result = score(sqlite_cli, path, out, *LGB_FLAGS)
    assert result.returncode == 1
    line = one_line_error(result)
    assert f"duplicated column(s): {column!r} at positions" in line and "in.parquet" in line
    assert not out.exists() and "running" not in counts(sqlite_registry).jobs


def test_a_plain_name_means_production_and_other_stages_must_be_named(
    sqlite_cli: Any, sqlite_registry: Registry, booster: Booster, tmp_path: Path, table: pa.Table
) -> None:
    register(sqlite_registry, booster, stage="staging")  # registered, never promoted
    path = write_candidates(tmp_path / "in.parquet", table)
    out = tmp_path / "out.parquet"
    plain = score(sqlite_cli, path, out, *LGB_FLAGS, "--store")
    assert plain.returncode == 1
    line = one_line_error(plain)
    assert "no version in stage 'production'" in line and "rr#N" in line
    assert not out.exists() and counts(sqlite_registry).jobs == {}
    named = score(sqlite_cli, path, out, *LGB_FLAGS, model="rr#1")
    assert named.returncode == 0, named.stderr
    job_id = json.loads(named.stdout)["job_id"]
    shown = json.loads(sqlite_cli("jobs", "show", str(job_id), "--json").stdout)
    assert shown["model_stage"] == "staging" and shown["model_ref"] == "rr#1"
    events = [
        json.loads(x) for x in sqlite_cli("events", str(job_id), "--json").stdout.split("\n") if x
    ]
    assert events[0]["event"] == "model.explicit_version" and events[0]["stage"] == "staging"
    assert set(pq.read_table(out).column("source").to_pylist()) == {"reranker"}
