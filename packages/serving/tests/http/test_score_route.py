"""``POST /v1/score`` against the real server: the CLI's scores, every guard outcome, the
Arrow body, strict 422, and the job record written off the response path."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from server_harness import DRIFTED, SCHEMA, Server, rows, run_cli
from sqlalchemy import text

from tessera_contracts import FEATURE_SCHEMA_METADATA_KEY, compute_schema_sha
from tessera_serving import get_job, job_events, open_registry
from tessera_serving.config import ServingConfig

ARROW = "application/vnd.apache.arrow.stream"
OUT_COLUMNS = ("query_id", "candidate_id", "score", "rank", "source", "model_sha256")


def _recorded(config: ServingConfig, job_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The job row and events once the background writer has written them."""
    deadline = time.monotonic() + 10
    with open_registry(config) as registry:
        while True:
            job = get_job(registry, job_id)
            if job["status"] != "reserved" or time.monotonic() > deadline:
                return job, job_events(registry, job_id)
            time.sleep(0.05)


def _arrow_body(columns: dict[str, list[Any]], schema: dict[str, list[str]] | None) -> bytes:
    table = pa.table(columns)
    if schema is not None:
        meta = {FEATURE_SCHEMA_METADATA_KEY.encode(): json.dumps(schema).encode()}
        table = table.replace_schema_metadata(meta)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def test_scores_equal_the_cli_and_the_job_is_recorded(
    shared_server: Server, shared_config: ServingConfig, tmp_path: Path
) -> None:
    server, served = shared_server, shared_config
    columns = rows(n_queries=8, seed=3)
    response = server.client.post(
        "/v1/score", json={"model": "rr", "feature_schema": SCHEMA, "rows": columns}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "rr#1" and body["counts"] == {"reranker": 48, "fallback": 0}
    assert [e["event"] for e in body["events"]] == ["reranker.applied"]
    assert body["events"][0]["fields"]["schema_sha"] == compute_schema_sha(SCHEMA)

    table = pa.table(columns).replace_schema_metadata(
        {FEATURE_SCHEMA_METADATA_KEY.encode(): json.dumps(SCHEMA).encode()}
    )
    pq.write_table(table, tmp_path / "in.parquet")
    done = run_cli(
        served,
        tmp_path,
        "score", "--model", "rr", "--input", tmp_path / "in.parquet",
        "--output", tmp_path / "out.parquet", "--backend", "lightgbm", "--threads", "1",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    expected = pq.read_table(tmp_path / "out.parquet").to_pydict()
    for column in OUT_COLUMNS:
        assert body["rows"][column] == expected[column], column

    job, events = _recorded(served, body["job_id"])
    assert job["status"] == "succeeded" and job["kind"] == "score" and job["rows"] == 48
    assert job["model_name"] == "rr" and job["model_version"] == 1
    assert job["counts"] == {"reranker": 48, "fallback": 0}
    assert job["input_path"].startswith("http request ")
    assert [e["event"] for e in events] == ["reranker.applied"]


def test_arrow_bodies_score_like_json_and_can_answer_in_arrow(shared_server: Server) -> None:
    server = shared_server
    columns = rows(n_queries=4, seed=5)
    as_json = server.client.post(
        "/v1/score", json={"model": "rr", "feature_schema": SCHEMA, "rows": columns}
    ).json()
    as_arrow = server.client.post(
        "/v1/score",
        params={"model": "rr"},
        content=_arrow_body(columns, SCHEMA),
        headers={"content-type": ARROW},
    )
    assert as_arrow.status_code == 200, as_arrow.text
    assert as_arrow.json()["rows"] == as_json["rows"]
    arrow_out = server.client.post(
        "/v1/score",
        params={"model": "rr"},
        content=_arrow_body(columns, SCHEMA),
        headers={"content-type": ARROW, "accept": ARROW},
    )
    assert arrow_out.headers["content-type"] == ARROW
    table = pa.ipc.open_stream(arrow_out.content).read_all()
    assert table.column_names == list(OUT_COLUMNS)
    assert table.to_pydict()["score"] == as_json["rows"]["score"]
    meta = json.loads(table.schema.metadata[b"tessera.response"])
    assert meta["job_id"] == int(arrow_out.headers["x-tessera-job-id"])
    garbage = server.client.post(
        "/v1/score", params={"model": "rr"}, content=b"nope", headers={"content-type": ARROW}
    )
    assert garbage.status_code == 422 and garbage.json()["type"].endswith("invalid_arrow")


def test_each_guard_outcome(shared_server: Server, shared_config: ServingConfig) -> None:
    server, served = shared_server, shared_config
    columns = rows(n_queries=3, seed=1)
    drifted = {**columns, "title_len": [1.0] * len(columns["query_id"])}
    mismatch = server.client.post(
        "/v1/score", json={"model": "rr", "feature_schema": DRIFTED, "rows": drifted}
    ).json()
    assert mismatch["counts"] == {"reranker": 0, "fallback": 18}
    assert set(mismatch["rows"]["source"]) == {"fallback"}
    assert mismatch["rows"]["score"] == drifted["base_score"]
    assert set(mismatch["rows"]["model_sha256"]) == {None}
    [event] = mismatch["events"]
    assert event["event"] == "reranker.schema_mismatch" and event["level"] == "error"
    assert event["fields"]["expected_sha"] == compute_schema_sha(SCHEMA)
    assert event["fields"]["live_sha"] == compute_schema_sha(DRIFTED)

    strict = server.client.post(
        "/v1/score",
        json={"model": "rr", "feature_schema": DRIFTED, "rows": drifted, "strict": True},
    )
    assert strict.status_code == 422
    assert strict.headers["content-type"] == "application/problem+json"
    problem = strict.json()
    assert problem["type"].endswith(":schema_mismatch") and problem["status"] == 422
    assert problem["expected_sha"] == event["fields"]["expected_sha"]
    assert problem["live_sha"] == event["fields"]["live_sha"]
    assert problem["reranker_model_id"] == event["fields"]["reranker_model_id"]
    job, events = _recorded(served, problem["job_id"])
    assert job["status"] == "failed" and [e["event"] for e in events] == [
        "reranker.schema_mismatch"
    ]

    skipped = server.client.post("/v1/score", json={"model": "rr", "rows": columns}).json()
    assert [e["fields"]["reason"] for e in skipped["events"]] == ["no_feature_schema"]
    assert set(skipped["rows"]["source"]) == {"fallback"}

    missing = {k: v for k, v in columns.items() if k != "len_ratio"}
    refused = server.client.post(
        "/v1/score", json={"model": "rr", "feature_schema": SCHEMA, "rows": missing}
    ).json()
    assert [e["fields"]["reason"] for e in refused["events"]] == ["feature_columns_missing"]

    applied = server.client.post(
        "/v1/score", json={"model": "rr#1", "feature_schema": SCHEMA, "rows": columns}
    ).json()
    assert applied["counts"]["reranker"] == 18 and applied["model"] == "rr#1"


def test_bad_requests_are_one_line_problems(shared_server: Server) -> None:
    server = shared_server
    unknown = server.client.post("/v1/score", json={"model": "other", "rows": rows(1, 2)})
    assert unknown.status_code == 404 and "not served" in unknown.json()["detail"]
    unknown_version = server.client.post("/v1/score", json={"model": "rr#9", "rows": rows(1, 2)})
    assert unknown_version.status_code == 404
    assert "has no version 9" in unknown_version.json()["detail"]
    ragged = server.client.post(
        "/v1/score",
        json={"model": "rr", "rows": {"query_id": ["q"], "candidate_id": ["a", "b"]}},
    )
    assert ragged.status_code == 422 and ragged.json()["type"].endswith("invalid_rows")
    no_ids = server.client.post(
        "/v1/score", json={"model": "rr", "rows": {"candidate_id": ["a"], "base_score": [1.0]}}
    )
    assert no_ids.status_code == 422 and "query_id" in no_ids.json()["detail"]
    extra = server.client.post("/v1/score", json={"model": "rr", "rows": {}, "surprise": 1})
    assert extra.status_code == 422 and "surprise" in extra.json()["detail"]


def test_rescore_echoes_previous_values_and_stores_on_request(
    shared_server: Server, shared_config: ServingConfig
) -> None:
    server = shared_server
    columns = rows(n_queries=2, seed=9)
    n = len(columns["query_id"])
    previous = {"previous_score": [0.5] * n, "previous_model_sha": ["f" * 64] * n}
    body = {"model": "rr", "feature_schema": SCHEMA, "rows": {**columns, **previous}}
    fresh = server.client.post(
        "/v1/score", json={"model": "rr", "feature_schema": SCHEMA, "rows": columns}
    ).json()
    echoed = server.client.post("/v1/score/rescore", json=body)
    assert echoed.status_code == 200, echoed.text
    out = echoed.json()["rows"]
    assert out["score"] == fresh["rows"]["score"]
    assert out["previous_score"] == previous["previous_score"]
    assert out["previous_model_sha"] == previous["previous_model_sha"]

    no_previous = server.client.post(
        "/v1/score/rescore", json={"model": "rr", "feature_schema": SCHEMA, "rows": columns}
    )
    assert no_previous.status_code == 422 and "previous_score" in no_previous.json()["detail"]

    stored = server.client.post("/v1/score/rescore", json={**body, "store": True}).json()
    with open_registry(shared_config) as registry:
        job = get_job(registry, stored["job_id"])  # committed before the answer: no waiting
        events = job_events(registry, stored["job_id"])
        with registry.transaction(readonly=True) as session:
            current = session.execute(
                text("SELECT score, job_id FROM current_scores WHERE model_name = 'rr'")
            ).all()
    assert job["status"] == "succeeded" and job["stored"] is True and job["kind"] == "rescore"
    assert job["counts"]["stored"] == n and job["input_uri"]
    assert [e["event"] for e in events] == ["reranker.applied"]
    assert sorted(s for s, j in current if j == stored["job_id"]) == sorted(out["score"])


def test_the_openapi_document_defines_every_body_it_references(shared_server: Server) -> None:
    document = shared_server.anon.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    refs = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.add(node["$ref"].rsplit("/", 1)[-1])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    assert {"ScoreRequest", "RescoreRequest"} <= refs
    assert refs <= set(schemas), refs - set(schemas)
