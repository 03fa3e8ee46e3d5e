"""``tessera-serve score``, ``jobs show`` and ``events`` through real subprocesses.

Each guard outcome (DESIGN.md section 6) runs once through the CLI with a real Parquet file
and a real SQLite registry; the job row and its events are read back through the CLI too.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tessera_serving.registry import Registry
from tessera_serving.scoring.jobs import job_events

from .conftest import (
    FEATURE_SCHEMA,
    SCHEMA_SHA,
    Booster,
    candidates_table,
    make_booster,
    register,
    write_candidates,
)


def events_of(cli: Any, job_id: int) -> list[dict[str, Any]]:
    result = cli("events", job_id, "--json")
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def job_of(cli: Any, job_id: int) -> dict[str, Any]:
    result = cli("jobs", "show", job_id, "--json")
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def score(cli: Any, tmp_path: Path, input_path: Path, *extra: str, model: str = "rr") -> Any:
    out = tmp_path / "scores.parquet"
    result = cli(
        "score",
        "--model",
        model,
        "--input",
        input_path,
        "--output",
        out,
        "--backend",
        "lightgbm",
        "--threads",
        "1",
        "--json",
        *extra,
    )
    return result, out


def log_lines(stderr: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def test_applied_through_the_cli(
    sqlite_cli: Any, sqlite_registry: Registry, tmp_path: Path, table: pa.Table, booster: Booster
) -> None:
    model_id = register(sqlite_registry, booster)
    path = write_candidates(tmp_path / "in.parquet", table, row_group_size=50)
    result, out = score(sqlite_cli, tmp_path, path, "--batch-size", "37")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    scored = pq.read_table(out)
    assert scored.column_names == [
        "query_id",
        "candidate_id",
        "score",
        "rank",
        "source",
        "model_sha256",
    ]
    assert np.array_equal(scored.column("score").to_numpy(), booster.predict(table))
    assert scored.column("candidate_id").equals(table.column("candidate_id"))
    job = job_of(sqlite_cli, summary["job_id"])
    assert job["status"] == "succeeded" and job["rows"] == table.num_rows
    assert job["counts"] == {"reranker": table.num_rows, "fallback": 0}
    assert job["model_ids"] == [model_id] and job["live_schema_sha"] == SCHEMA_SHA
    assert job["input_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert job["stored"] is False
    (event,) = [e for e in events_of(sqlite_cli, summary["job_id"]) if e["event"].startswith("r")]
    assert event["event"] == "reranker.applied" and event["level"] == "info"
    assert (event["reranker_model_id"], event["schema_sha"], event["rows"]) == (
        model_id,
        SCHEMA_SHA,
        table.num_rows,
    )
    logged = [e for e in log_lines(result.stderr) if e["event"] == "reranker.applied"]
    assert logged and logged[0]["rows"] == table.num_rows


def test_mismatch_falls_back_and_fail_on_fallback_exits_3(
    sqlite_cli: Any, sqlite_registry: Registry, tmp_path: Path, table: pa.Table, booster: Booster
) -> None:
    model_id = register(sqlite_registry, booster)
    path = write_candidates(tmp_path / "in.parquet", table)
    schema_file = tmp_path / "live.yaml"
    schema_file.write_text("knn: [knn_score, knn_votes]\nlength: [query_len]\n")
    result, out = score(
        sqlite_cli, tmp_path, path, "--feature-schema", schema_file, "--fail-on-fallback"
    )
    assert result.returncode == 3, result.stderr
    assert "fell back" in result.stderr
    scored = pq.read_table(out)  # written before the non-zero exit
    assert np.array_equal(scored.column("score").to_numpy(), table.column("base_score").to_numpy())
    assert set(scored.column("source").to_pylist()) == {"fallback"}
    assert scored.column("model_sha256").null_count == table.num_rows
    job_id = json.loads(result.stdout)["job_id"]
    (event,) = events_of(sqlite_cli, job_id)
    assert event["event"] == "reranker.schema_mismatch" and event["level"] == "error"
    assert event["expected_sha"] == SCHEMA_SHA and event["reranker_model_id"] == model_id
    assert event["live_sha"] != SCHEMA_SHA
    assert job_of(sqlite_cli, job_id)["counts"] == {"reranker": 0, "fallback": table.num_rows}
    assert log_lines(result.stderr)[0]["event"] == "reranker.schema_mismatch"


@pytest.mark.parametrize(
    "case",
    ["no_feature_schema", "schema_sha_v2_missing", "model_not_production", "no_booster_for_cell"],
)
def test_skipped_paths_through_the_cli(
    sqlite_cli: Any,
    sqlite_registry: Registry,
    tmp_path: Path,
    table: pa.Table,
    booster: Booster,
    case: str,
) -> None:
    extra: list[str] = []
    schema: Any = FEATURE_SCHEMA
    data = table
    if case == "no_feature_schema":
        register(sqlite_registry, booster)
        schema = None
    elif case == "schema_sha_v2_missing":
        register(sqlite_registry, booster, schema_sha_v2=None)
    elif case == "model_not_production":
        register(sqlite_registry, booster, stage="staging")
        extra = ["--require-stage", "production"]
    else:
        register(sqlite_registry, booster, cell="a")
        data = candidates_table(n_queries=12, seed=3, categories=("a", "z"))
    path = write_candidates(tmp_path / "in.parquet", data, feature_schema=schema)
    result, out = score(sqlite_cli, tmp_path, path, *extra)
    assert result.returncode == 0, result.stderr
    scored = pq.read_table(out)
    assert scored.num_rows == data.num_rows
    events = job_events(sqlite_registry, json.loads(result.stdout)["job_id"])
    skipped = [e for e in events if e["event"] == "reranker.skipped"]
    assert [(e["level"], e["reason"]) for e in skipped] == [("warning", case)]
    if case != "no_booster_for_cell":
        assert set(scored.column("source").to_pylist()) == {"fallback"}
    else:  # queries with a 'z' row fall back whole; the others are reranked
        assert skipped[0]["categories"]["z"] == data.column("category").to_pylist().count("z")
        by_query: dict[str, set[str]] = {}
        for q, s in zip(
            scored.column("query_id").to_pylist(), scored.column("source").to_pylist(), strict=True
        ):
            by_query.setdefault(q, set()).add(s)
        assert all(len(s) == 1 for s in by_query.values())


def test_bad_input_is_one_line_and_writes_nothing(
    sqlite_cli: Any, sqlite_registry: Registry, tmp_path: Path, table: pa.Table, booster: Booster
) -> None:
    register(sqlite_registry, booster)
    result, out = score(sqlite_cli, tmp_path, tmp_path / "absent.parquet")
    assert result.returncode == 1 and not out.exists()
    assert result.stderr.strip().count("\n") == 0 and "absent.parquet" in result.stderr
    path = write_candidates(tmp_path / "in.parquet", table.drop_columns(["base_score"]))
    result, out = score(sqlite_cli, tmp_path, path)
    assert result.returncode == 1 and not out.exists()
    assert "base_score" in result.stderr.strip().splitlines()[-1]
    assert list(tmp_path.glob(".scores.parquet.tmp*")) == []
    result, out = score(sqlite_cli, tmp_path, path, model="nope")
    assert result.returncode == 1 and "nope" in result.stderr
    bad_schema = tmp_path / "bad.yaml"
    bad_schema.write_text("- just\n- a list\n")
    result, _ = score(sqlite_cli, tmp_path, path, "--feature-schema", bad_schema)
    assert result.returncode == 1 and "bad.yaml" in result.stderr


def test_failed_job_is_recorded(
    sqlite_registry: Registry, tmp_path: Path, table: pa.Table, booster: Booster
) -> None:
    from tessera_serving.errors import ScoringError
    from tessera_serving.scoring.jobs import get_job
    from tessera_serving.scoring.score_job import ScoreOptions, run_score_job

    register(sqlite_registry, booster)
    path = write_candidates(tmp_path / "in.parquet", table.drop_columns(["base_score"]))
    created: list[int] = []
    with pytest.raises(ScoringError, match="base_score"):
        run_score_job(
            sqlite_registry,
            "rr",
            path,
            tmp_path / "o.parquet",
            ScoreOptions(backend="lightgbm"),
            on_created=created.append,
        )
    job = get_job(sqlite_registry, created[0])
    assert job["status"] == "failed" and "base_score" in job["error"]


def test_unknown_job_is_a_clear_error(sqlite_cli: Any) -> None:
    result = sqlite_cli("jobs", "show", "999")
    assert result.returncode == 1 and "no scoring job 999" in result.stderr


def test_cli_backend_choices_are_the_backends() -> None:
    from tessera_serving import backends
    from tessera_serving.cli import score as score_cli

    assert score_cli.BACKEND_CHOICES == backends.BACKENDS
    assert score_cli.DEFAULT_BACKEND == backends.DEFAULT_BACKEND
    from tessera_serving.cli import rescore as rescore_cli
    from tessera_serving.scoring import parquet_io as scoring_io
    from tessera_serving.scoring import rescore

    assert score_cli.DEFAULT_BATCH_SIZE == scoring_io.DEFAULT_BATCH_SIZE
    assert rescore_cli.DEFAULT_PAGE_SIZE == rescore.DEFAULT_PAGE_SIZE


def test_python_api_matches_the_cli_bytes(
    sqlite_cli: Any, sqlite_registry: Registry, tmp_path: Path, table: pa.Table, booster: Booster
) -> None:
    from tessera_serving.scoring.score_job import ScoreOptions, run_score_job

    register(sqlite_registry, booster)
    path = write_candidates(tmp_path / "in.parquet", table)
    result, out = score(sqlite_cli, tmp_path, path)
    assert result.returncode == 0, result.stderr
    api_out = tmp_path / "api.parquet"
    job = run_score_job(
        sqlite_registry,
        "rr@production",
        path,
        api_out,
        ScoreOptions(backend="lightgbm", num_threads=1),
    )
    assert job.counts == {"reranker": table.num_rows, "fallback": 0}
    assert pq.read_table(api_out).equals(pq.read_table(out))
    other = make_booster(table, rounds=5, seed=9)
    register(sqlite_registry, other, version=2, stage="staging")
    newest = run_score_job(sqlite_registry, "rr", path, api_out, ScoreOptions(backend="lightgbm"))
    assert newest.events[-1].fields["model_sha256"] == other.sha256
