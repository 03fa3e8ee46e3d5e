"""What every request gets from the real server: request ids, problem documents, auth,
the body limit, the access log, metrics, OpenAPI and the readiness report."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import httpx
from server_harness import TOKEN, Server, rows, run_cli, start_server

from tessera_serving.config import ServingConfig

PROBLEM = "application/problem+json"


def test_healthz_and_request_ids(server: Server) -> None:
    first = server.anon.get("/healthz")
    assert first.status_code == 200 and first.json() == {"status": "ok"}
    assert len(first.headers["x-request-id"]) == 32  # generated
    echoed = server.anon.get("/healthz", headers={"X-Request-Id": "batch-42.attempt:1"})
    assert echoed.headers["x-request-id"] == "batch-42.attempt:1"
    unsafe = server.anon.get("/healthz", headers={"X-Request-Id": "bad id\twith tabs"})
    assert unsafe.headers["x-request-id"] != "bad id\twith tabs"  # replaced, not echoed


def test_errors_are_problem_documents_without_tracebacks(server: Server) -> None:
    missing_route = server.anon.get("/no/such/route", headers={"X-Request-Id": "r-404"})
    assert missing_route.status_code == 404
    assert missing_route.headers["content-type"] == PROBLEM
    body = missing_route.json()
    assert {"type", "title", "status", "detail"} <= set(body) and body["status"] == 404
    assert body["request_id"] == "r-404"
    unknown = server.anon.get("/reranker-models/nope/versions/1")
    assert unknown.status_code == 404 and unknown.headers["content-type"] == PROBLEM
    assert "'nope' is not registered" in unknown.json()["detail"]
    bad_json = server.client.post(
        "/v1/score", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert bad_json.status_code == 422 and bad_json.headers["content-type"] == PROBLEM
    assert "Traceback" not in bad_json.text
    wrong_type = server.client.post("/v1/score", content=b"x", headers={"content-type": "text/csv"})
    assert wrong_type.status_code == 415 and wrong_type.json()["type"].endswith("media_type")


def test_post_routes_need_a_valid_bearer_token(server: Server) -> None:
    body = {"model": "rr", "rows": rows()}
    none = server.anon.post("/v1/score", json=body)
    assert none.status_code == 401 and none.headers["www-authenticate"] == "Bearer"
    assert none.headers["content-type"] == PROBLEM
    wrong = server.anon.post("/v1/score", json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "not one of this server's tokens" in wrong.json()["detail"]
    right = server.anon.post("/v1/score", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert right.status_code == 200
    assert server.anon.get("/reranker-models").status_code == 200  # reads are open by default


def test_read_auth_and_no_tokens_file(served: ServingConfig, tmp_path: Path) -> None:
    server = start_server(served, tmp_path, TESSERA_API_READ_AUTH="1")
    try:
        assert server.anon.get("/reranker-models").status_code == 401
        assert server.anon.get("/metrics").status_code == 401
        assert server.client.get("/reranker-models").status_code == 200
        assert server.anon.get("/healthz").status_code == 200  # probes stay open
    finally:
        server.stop()
    (tmp_path / "tokens.txt").write_text("# no tokens yet\n", encoding="utf-8")
    server = start_server(served, tmp_path)
    try:
        refused = server.client.post("/admin/reload")
        assert refused.status_code == 401
        assert "TESSERA_API_TOKENS_FILE" in refused.json()["detail"]
    finally:
        server.stop()


def test_a_tokens_file_of_plain_tokens_is_refused_at_start(
    served: ServingConfig, tmp_path: Path
) -> None:
    (tmp_path / "tokens.txt").write_text(f"{TOKEN}\n", encoding="utf-8")
    try:
        start_server(served, tmp_path)
    except AssertionError as exc:
        message = str(exc)
    else:
        raise AssertionError("the server started with a plain token in its tokens file")
    assert "line 1: expected the sha256 hex digest of a token" in message
    assert "Traceback" not in message
    assert hashlib.sha256(TOKEN.encode()).hexdigest() not in message


def test_bodies_over_the_limit_get_413(served: ServingConfig, tmp_path: Path) -> None:
    server = start_server(served, tmp_path, TESSERA_API_MAX_BODY_BYTES="2000")
    try:
        big = {"model": "rr", "rows": rows(n_queries=20)}
        refused = server.client.post("/v1/score", json=big)
        assert refused.status_code == 413 and refused.headers["content-type"] == PROBLEM
        assert "limit of 2000 bytes" in refused.json()["detail"]

        def chunks() -> object:  # no Content-Length: the limit applies while reading
            payload = httpx.Request("POST", "/", json=big).content
            for i in range(0, len(payload), 500):
                yield payload[i : i + 500]

        streamed = server.client.post(
            "/v1/score", content=chunks(), headers={"content-type": "application/json"}
        )
        assert streamed.status_code == 413
        small = server.client.post("/v1/score", json={"model": "rr", "rows": rows(1, 3)})
        assert small.status_code == 200
    finally:
        server.stop()


def test_access_log_metrics_and_openapi(server: Server) -> None:
    server.client.post(
        "/v1/score", json={"model": "rr", "rows": rows()}, headers={"X-Request-Id": "abc"}
    )
    openapi = server.anon.get("/openapi.json").json()
    for path in ("/v1/score", "/reranker-models/{name}/versions/{version}/promote", "/readyz"):
        assert path in openapi["paths"], path
    score_body = openapi["paths"]["/v1/score"]["post"]["requestBody"]["content"]
    assert {"application/json", "application/vnd.apache.arrow.stream"} <= set(score_body)
    docs = server.anon.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    metrics = server.anon.get("/metrics").text
    assert (
        'tessera_http_requests_total{method="POST",route="/v1/score",status="200"} 1.0' in metrics
    )
    assert 'tessera_rows_scored_total{source="fallback"} 30.0' in metrics  # no feature schema
    assert (
        'tessera_guard_events_total{event="reranker.skipped",reason="no_feature_schema"}' in metrics
    )
    assert 'tessera_loaded_model{backend="lightgbm",model_sha256="' in metrics
    time.sleep(0.2)
    lines = [line for line in server.log_lines() if line.get("event") == "http.request"]
    scored = [line for line in lines if line["request_id"] == "abc"]
    assert len(scored) == 1 and scored[0]["status"] == 200 and scored[0]["route"] == "/v1/score"
    assert scored[0]["duration_ms"] > 0 and scored[0]["method"] == "POST"


def test_readyz_reports_what_it_serves_and_why_not(
    server: Server, sqlite_config: ServingConfig, tmp_path: Path
) -> None:
    ready = server.anon.get("/readyz")
    assert ready.status_code == 200
    [model] = ready.json()["models"]
    assert model["model"] == "rr#1" and len(model["boosters"][0]["model_sha256"]) == 64
    empty_db = tmp_path / "empty.db"
    empty_db.touch()
    unmigrated = ServingConfig.from_env(
        state_dir=tmp_path / "other",
        database_url=f"sqlite:///{empty_db}",
        artifacts_url=sqlite_config.artifacts_url,
    )
    other = start_server(unmigrated, tmp_path)
    try:
        report = other.anon.get("/readyz")
        assert report.status_code == 503
        assert any("code expects" in r for r in report.json()["reasons"])
        assert other.anon.get("/healthz").status_code == 200
    finally:
        other.stop()


def test_http_refuses_a_missing_registry_in_one_line(tmp_path: Path) -> None:
    missing = ServingConfig.from_env(state_dir=tmp_path / "nowhere")
    done = run_cli(missing, tmp_path, "http", "--port", "0")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"tessera-serve: error: registry database {tmp_path / 'nowhere' / 'registry.db'} "
        "does not exist: run `tessera-serve db upgrade`"
    ]
