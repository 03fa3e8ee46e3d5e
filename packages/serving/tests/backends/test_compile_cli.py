"""``tessera-serve compile`` and ``score --backend compiled`` through real subprocesses."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tessera_contracts import FEATURE_SCHEMA_METADATA_KEY

pytestmark = pytest.mark.slow  # five CLI processes, each importing LightGBM


def _lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def test_compile_then_score_reuses_the_cached_object(
    sqlite_cli: Any, runs: ModuleType, tmp_path: Path
) -> None:
    run_dir = runs.write_run_dir(tmp_path / "runs", "rr", num_trees=8)
    assert sqlite_cli("register", run_dir, "--allow-unknown-schema").returncode == 0

    first = sqlite_cli("compile", "rr", "--json", "--threads", "1")
    assert first.returncode == 0, first.stderr
    (built,) = _lines(first.stdout)
    assert (built["model"], built["event"], built["cache"]) == ("rr#1", "backend.compiled", "built")
    assert built["max_abs_diff"] <= built["tolerance"]
    assert (sqlite_cli.config.state_dir / "compiled" / "objects").is_dir()

    again = sqlite_cli("compile", "rr", "--threads", "1")
    assert again.returncode == 0 and "compiled (hit" in again.stdout

    schema = runs.DEFAULT_SCHEMA
    names = runs.feature_names_of(schema)
    rng = np.random.default_rng(0)
    columns: dict[str, Any] = {
        "query_id": np.repeat(np.arange(20), 5),
        "candidate_id": np.arange(100),
        "base_score": rng.random(100),
    }
    columns.update({name: rng.random(100) for name in names})
    table = pa.table(columns).replace_schema_metadata(
        {FEATURE_SCHEMA_METADATA_KEY: json.dumps(schema)}
    )
    pq.write_table(table, tmp_path / "in.parquet")
    # --home wins over the environment, and the compiled cache follows it
    elsewhere = tmp_path / "elsewhere"
    scored = sqlite_cli(
        "score", "--model", "rr#1", "--input", tmp_path / "in.parquet",
        "--output", tmp_path / "out.parquet", "--backend", "compiled", "--threads", "1", "--json",
        "--home", sqlite_cli.config.state_dir, TESSERA_HOME=str(elsewhere),
    )  # fmt: skip
    assert scored.returncode == 0, scored.stderr
    assert not elsewhere.exists()
    events = [e for e in map(json.loads, scored.stderr.splitlines()) if e.get("event")]
    compiled = [e for e in events if e["event"] == "backend.compiled"]
    assert compiled and compiled[0]["cache"] == "hit"


def test_compile_of_an_unknown_model_is_a_one_line_error(sqlite_cli: Any) -> None:
    result = sqlite_cli("compile", "nope")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "nope" in result.stderr


def test_register_compile_builds_the_cache_at_registration(
    sqlite_cli: Any, runs: ModuleType, tmp_path: Path
) -> None:
    run_dir = runs.write_run_dir(tmp_path / "runs", "rc", num_trees=6)
    registered = sqlite_cli("register", run_dir, "--allow-unknown-schema", "--compile")
    assert registered.returncode == 0, registered.stderr
    assert registered.stdout.splitlines()[0] == "registered rc#1 (pooled)"
    assert "rc#1: compiled (built" in registered.stdout
    again = sqlite_cli("compile", "rc", "--json", "--threads", "1")
    assert again.returncode == 0, again.stderr
    assert [line["cache"] for line in _lines(again.stdout)] == ["hit"]
