"""register -> score --store -> rescore with the artifact store on S3 and the registry on
PostgreSQL, all through the real CLI: the S3 server is moto on loopback, reached only through
the standard AWS variables (``AWS_ENDPOINT_URL`` included)."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pyarrow.parquet as pq
import pytest
from cli_runner import Cli

from tessera_serving.config import ServingConfig

from .conftest import candidates_table, write_candidates


def _ok(result: object) -> str:
    assert getattr(result, "returncode", None) == 0, getattr(result, "stderr", "")
    return str(getattr(result, "stdout", ""))


@pytest.mark.postgres
@pytest.mark.slow
def test_register_score_rescore_on_s3_and_postgresql(
    postgres_url: str, s3_url: str, runs: ModuleType, tmp_path: Path
) -> None:
    config = ServingConfig.from_env(
        state_dir=tmp_path / "home", database_url=postgres_url, artifacts_url=s3_url
    )
    cli = Cli(config, tmp_path)
    _ok(cli("db", "upgrade"))
    _ok(cli("schemas", "add", "--manifest", runs.write_manifest(tmp_path / "manifest.json")))
    runs.write_run_dir(tmp_path / "runs", "rr", seed=0)
    runs.write_run_dir(tmp_path / "runs", "rr", seed=1, dir_name="rr-v2")
    _ok(cli("register", tmp_path / "runs" / "rr"))
    _ok(cli("register", tmp_path / "runs" / "rr-v2", "--name", "rr"))
    assert s3_url + "/objects/" in _ok(cli("models", "show", "rr#1"))

    table = candidates_table(n_queries=60)
    source = write_candidates(tmp_path / "in.parquet", table)
    args = ["--input", source, "--output", tmp_path / "out.parquet", "--store", "--json"]
    scored = json.loads(_ok(cli("score", "--model", "rr#1", *args, "--backend", "compiled")))
    assert scored["rows"] == table.num_rows and scored["counts"]["stored"] == table.num_rows
    assert "backend.compiled" in scored["events"]
    job = json.loads(_ok(cli("jobs", "show", scored["job_id"], "--json")))
    assert job["input_uri"].startswith(s3_url + "/objects/")
    out = pq.read_table(tmp_path / "out.parquet")
    assert set(out.column("source").to_pylist()) == {"reranker"}

    # A second score start finds the compiled model in the S3 store (another machine would).
    again = cli(
        "score", "--model", "rr#1", *args[:2], "--output", tmp_path / "o2.parquet",
        "--backend", "compiled", "--json",
        TESSERA_HOME=str(tmp_path / "other-machine"),
    )  # fmt: skip
    events = [json.loads(line) for line in again.stderr.splitlines() if line.startswith("{")]
    compiled = [e for e in events if e.get("event") == "backend.compiled"]
    assert again.returncode == 0 and compiled and compiled[0]["cache"] == "hit", again.stderr

    rescored = json.loads(
        _ok(
            cli(
                "rescore",
                "--model",
                "rr#2",
                "--backend",
                "lightgbm",
                "--json",
                "--page-size",
                "100",
            )
        )
    )
    assert rescored["rescored"] == table.num_rows and rescored["resumed"] is False
    assert rescored["events"] == ["model.explicit_version", "reranker.applied"]  # rr#2: staging
    _ok(cli("verify"))
