"""``POST /jobs`` and the job routes on a real server: score (path and store URI), the
drifted input's events, TSV streaming, backfill, rescore, and a server killed with -9 in the
middle of a sweep (the job is marked abandoned and the sweep resumes, each row audited once).
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from server_harness import DRIFTED, SCHEMA, Server, rows, run_cli, start_server
from sqlalchemy import text

from tessera_contracts import FEATURE_SCHEMA_METADATA_KEY
from tessera_serving import ServingConfig, open_registry, promote, register_runs


def _parquet(path: Path, n_queries: int, schema: dict[str, list[str]], **extra: Any) -> Path:
    columns = {**rows(n_queries=n_queries, seed=4), **extra}
    table = pa.table(columns).replace_schema_metadata(
        {FEATURE_SCHEMA_METADATA_KEY.encode(): json.dumps(schema).encode()}
    )
    pq.write_table(table, path)
    return path


def _finished(server: Server, job_id: int, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = server.anon.get(f"/jobs/{job_id}").json()
        if job["status"] != "running" or time.monotonic() > deadline:
            return job
        time.sleep(0.1)


def _submit(server: Server, operation: str, **payload: Any) -> int:
    response = server.client.post("/jobs", json={"operation": operation, "payload": payload})
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/jobs/{response.json()['job_id']}"
    return int(response.json()["job_id"])


def test_score_jobs_events_and_the_tsv_stream(
    shared_server: Server, shared_config: ServingConfig, tmp_path: Path
) -> None:
    server = shared_server
    source = _parquet(tmp_path / "in.parquet", 12, SCHEMA)
    job_id = _submit(server, "score", model="rr", input=str(source))
    job = _finished(server, job_id)
    assert job["status"] == "succeeded" and job["rows"] == 72 and job["kind"] == "score"
    events = server.anon.get(f"/jobs/{job_id}/events").json()["events"]
    assert [e["event"] for e in events][-1] == "reranker.applied"
    applied = events[-1]
    assert applied["level"] == "info" and applied["fields"]["rows"] == 72 and applied["at"]

    tsv = server.anon.get(f"/scoring/prediction-sets/{job_id}/score.tsv")
    assert tsv.status_code == 200 and tsv.headers["content-type"].startswith("text/tab-sep")
    lines = tsv.text.splitlines()
    assert lines[0] == "query_id\tcandidate_id\tscore\trank\tsource\tmodel_sha256"
    cli = run_cli(
        shared_config, tmp_path, "score", "--model", "rr", "--input", source,
        "--output", tmp_path / "cli.parquet", "--backend", "lightgbm", "--threads", "1",
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    expected = pq.read_table(tmp_path / "cli.parquet").to_pylist()
    assert len(lines) == 1 + len(expected)
    for line, row in zip(lines[1:], expected, strict=True):
        qid, cid, score, rank, src, sha = line.split("\t")
        assert (qid, cid, int(rank), src, sha) == (
            row["query_id"], row["candidate_id"], row["rank"], row["source"], row["model_sha256"]
        )  # fmt: skip
        assert float(score) == row["score"]

    with open_registry(shared_config) as registry:
        uri = registry.store.uri(registry.store.put_file(source))
    by_uri = _finished(server, _submit(server, "score", model="rr", input=uri))
    assert by_uri["status"] == "succeeded" and by_uri["input_sha256"] == job["input_sha256"]

    drifted = _parquet(tmp_path / "drift.parquet", 3, DRIFTED, title_len=[1.0] * 18)
    drift_id = _submit(server, "score", model="rr", input=str(drifted))
    assert _finished(server, drift_id)["counts"] == {"reranker": 0, "fallback": 18}
    drift_events = server.anon.get(f"/jobs/{drift_id}/events").json()["events"]
    assert [e["event"] for e in drift_events] == ["reranker.schema_mismatch"]

    listed = server.anon.get("/jobs", params={"kind": "score", "status": "succeeded"}).json()
    ids = [j["id"] for j in listed["jobs"]]
    assert ids == sorted(ids, reverse=True)  # newest first
    assert {drift_id, by_uri["id"], job_id} <= set(ids)
    assert all(j["status"] == "succeeded" for j in listed["jobs"])
    assert server.anon.get("/jobs", params={"model": "zzz"}).json() == {"jobs": []}
    page = server.anon.get("/jobs", params={"limit": 1, "before": drift_id}).json()["jobs"]
    assert [j["id"] for j in page] == [by_uri["id"]]


def test_job_errors_are_problems(shared_server: Server) -> None:
    server = shared_server
    missing = server.client.post(
        "/jobs", json={"operation": "score", "payload": {"model": "rr", "input": "/nope.parquet"}}
    )
    assert missing.status_code == 404 and "no such file" in missing.json()["detail"]
    unknown_model = server.client.post(
        "/jobs", json={"operation": "score", "payload": {"model": "zz", "input": "/x"}}
    )
    assert unknown_model.status_code == 404
    bad_op = server.client.post("/jobs", json={"operation": "drop_tables", "payload": {}})
    assert bad_op.status_code == 422
    assert server.anon.post("/jobs", json={"operation": "score"}).status_code == 401
    assert server.anon.get("/jobs/999999").status_code == 404
    assert server.anon.get("/jobs/999999/events").status_code == 404
    no_set = server.anon.get("/scoring/prediction-sets/999999/score.tsv")
    assert no_set.status_code == 404
    sync_job = server.client.post(
        "/v1/score", json={"model": "rr", "feature_schema": SCHEMA, "rows": rows(1, 3)}
    ).json()["job_id"]
    time.sleep(0.3)
    no_file = server.anon.get(f"/scoring/prediction-sets/{sync_job}/score.tsv")
    assert no_file.status_code == 404 and "no prediction set" in no_file.json()["detail"]


def test_backfill_job(shared_server: Server) -> None:
    job_id = _submit(shared_server, "backfill_schema_sha_v2", dry_run=True)
    job = _finished(shared_server, job_id)
    assert job["status"] == "succeeded" and job["kind"] == "backfill"
    assert job["counts"] == {"would_change": 0}  # every row already has schema_sha_v2


def _audit_rows(config: ServingConfig) -> list[tuple[int, int]]:
    with open_registry(config) as registry, registry.transaction(readonly=True) as session:
        found = session.execute(
            text("SELECT sweep_id, current_id FROM score_audit WHERE sweep_id IS NOT NULL")
        )
        return [(int(a), int(b)) for a, b in found]


def test_a_killed_server_leaves_its_sweep_abandoned_then_resumed(
    served: ServingConfig, runs: ModuleType, tmp_path: Path
) -> None:
    first = start_server(served, tmp_path)
    try:
        source = _parquet(tmp_path / "stored.parquet", 10, SCHEMA)
        stored = _finished(
            first, _submit(first, "score", model="rr", input=str(source), store=True)
        )
        assert stored["status"] == "succeeded" and stored["counts"]["stored"] == 60
    finally:
        first.stop()
    run_dir = runs.write_run_dir(tmp_path / "v2", "rr", seed=1)
    with open_registry(served) as registry:
        [done] = register_runs(registry, [run_dir], allow_unknown_schema=True)
        promote(registry, f"rr#{done.version}")

    parked = tmp_path / "parked"
    second = start_server(
        served, tmp_path,
        TESSERA_TEST_PAUSE_AT="rescore.page.2.after_commit", TESSERA_TEST_PAUSE_FILE=str(parked),
    )  # fmt: skip
    sweep_job = _submit(second, "rescore", model="rr", page_size=12)
    deadline = time.monotonic() + 120
    while not parked.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert parked.exists(), "the sweep never reached its second page"
    second.stop(signal.SIGKILL)
    assert len(_audit_rows(served)) == 24  # two pages committed before the kill

    third = start_server(served, tmp_path)
    try:
        abandoned = third.anon.get(f"/jobs/{sweep_job}").json()
        assert abandoned["status"] == "abandoned"
        assert "died" in abandoned["error"]
        resumed = third.anon.get("/jobs", params={"kind": "rescore"}).json()["jobs"]
        assert [j["id"] for j in resumed][1:] == [sweep_job]
        finished = _finished(third, resumed[0]["id"])
        assert finished["status"] == "succeeded", finished
        assert finished["counts"]["rescored"] == 36  # the rows not written before the kill
    finally:
        third.stop()
    audit = _audit_rows(served)
    assert len(audit) == 60 and len(set(audit)) == 60  # every stored row exactly once
