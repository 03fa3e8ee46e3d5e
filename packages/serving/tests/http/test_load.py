"""A bounded load test on loopback: a second process sends a few thousand requests (scoring,
and re-scoring that stores); no request is lost, every request's job record is written once
(after a graceful stop), and every stored row is there."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from server_harness import SCHEMA, TOKEN, Server
from sqlalchemy import text

from tessera_serving import ServingConfig, open_registry

CLIENT = r"""
import json, sys
from concurrent.futures import ThreadPoolExecutor
import httpx
base, token, total, schema = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
headers = {"Authorization": f"Bearer {token}"}

def body(i, store):
    rows = {"query_id": [f"q{i}"] * 3, "candidate_id": ["a", "b", "c"],
            "base_score": [0.1, 0.2, 0.3], "knn_score": [0.5, 0.1, 0.9],
            "knn_votes": [1.0, 2.0, 3.0], "query_len": [10.0, 20.0, 30.0],
            "len_ratio": [1.0, 0.5, 1.5]}
    if store:
        rows |= {"previous_score": [0.0] * 3, "previous_model_sha": ["0" * 64] * 3}
    return {"model": "rr", "feature_schema": schema, "rows": rows, "store": store} if store \
        else {"model": "rr", "feature_schema": schema, "rows": rows}

def work(chunk):
    out = []
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        for i in chunk:
            store = i % 10 == 0
            r = client.post("/v1/score/rescore" if store else "/v1/score", json=body(i, store))
            out.append([i, r.status_code, r.json().get("job_id"), store])
    return out

chunks = [list(range(k, total, 8)) for k in range(8)]
with ThreadPoolExecutor(8) as pool:
    results = [r for part in pool.map(work, chunks) for r in part]
print(json.dumps(results))
"""


def test_thousands_of_requests_lose_no_record_and_no_stored_row(
    server: Server, served: ServingConfig, tmp_path: Path
) -> None:
    total = 2000
    done = subprocess.run(
        [sys.executable, "-c", CLIENT, server.base_url, TOKEN, str(total), json.dumps(SCHEMA)],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout)
    assert len(results) == total
    assert {status for _, status, _, _ in results} == {200}
    job_ids = [job for _, _, job, _ in results]
    assert len(set(job_ids)) == total  # one job per request, never shared
    stored_jobs = {job for _, _, job, store in results if store}
    server.stop()  # SIGTERM: uvicorn shuts down gracefully, then re-raises the signal
    assert "Application shutdown complete." in server.log_path.read_text()

    with open_registry(served) as registry, registry.transaction(readonly=True) as session:
        jobs = dict(
            session.execute(
                text("SELECT id, status FROM scoring_jobs WHERE input_path LIKE 'http request %'")
            ).all()
        )
        events = session.execute(text("SELECT job_id, seq FROM job_events")).all()
        current = session.execute(text("SELECT job_id FROM current_scores")).all()
        audit = session.execute(text("SELECT COUNT(*) FROM score_audit")).scalar_one()
    assert set(jobs) == set(job_ids)
    assert set(jobs.values()) == {"succeeded"}
    assert len(events) == len(set(events)) == total  # one reranker.applied per request
    # Each stored request wrote its 3 rows (the last write of a pair is current) and an
    # audit row per write.
    assert len(stored_jobs) == total // 10
    assert audit == 3 * len(stored_jobs)
    assert len(current) == 3 * len(stored_jobs)
