"""The registry routes on a real server, on SQLite and PostgreSQL: list, show, import by
reference (store URIs only), and the promote gate."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest
from server_harness import Server, register_and_promote, start_server

from tessera_serving import ServingConfig, open_registry


@pytest.fixture
def server_on_both(
    config: ServingConfig, runs: ModuleType, tmp_path: Path
) -> tuple[Server, ServingConfig]:
    register_and_promote(config, runs, tmp_path / "runs")
    server = start_server(config, tmp_path)
    yield server, config
    server.stop()


def test_list_and_show(server_on_both: tuple[Server, ServingConfig]) -> None:
    server, _ = server_on_both
    [listed] = server.anon.get("/reranker-models").json()
    assert listed["name"] == "rr" and listed["version"] == 1 and listed["stage"] == "production"
    by_name = server.anon.get("/reranker-models/rr").json()
    assert [v["version"] for v in by_name["versions"]] == [1]
    shown = server.anon.get("/reranker-models/rr/versions/1").json()
    assert shown["stage"] == "production" and len(shown["rows"][0]["artifact_sha256"]) == 64
    assert "run_json" not in shown["rows"][0]
    full = server.anon.get("/reranker-models/rr/versions/1", params={"full": "true"}).json()
    assert (
        json.loads(full["rows"][0]["run_json"])["model"]["sha256"]
        == (shown["rows"][0]["artifact_sha256"])
    )
    assert server.anon.get("/reranker-models/nope").status_code == 404
    assert server.anon.get("/reranker-models/rr/versions/7").status_code == 404
    assert server.anon.get("/reranker-models/rr/versions/x").status_code == 422


def test_import_by_reference_then_promote(
    server_on_both: tuple[Server, ServingConfig], runs: ModuleType, tmp_path: Path
) -> None:
    server, config = server_on_both
    run_dir = runs.write_run_dir(tmp_path / "more", "rr", seed=1)
    with open_registry(config) as registry:
        sha = registry.store.put_file(run_dir / "model.txt")
        uri = registry.store.uri(sha)
    record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    body = {"artifact_uri": uri, "run": record, "allow_unknown_schema": True}
    assert server.anon.post("/reranker-models/import-by-reference", json=body).status_code == 401
    imported = server.client.post("/reranker-models/import-by-reference", json=body)
    assert imported.status_code == 201, imported.text
    assert imported.json()["version"] == 2 and imported.json()["created"] is True
    again = server.client.post("/reranker-models/import-by-reference", json=body).json()
    assert again["version"] == 2 and again["created"] is False  # idempotent
    shown = server.anon.get("/reranker-models/rr/versions/2").json()
    assert shown["rows"][0]["registered_via"] == "reference"

    outside = tmp_path / "outside.txt"
    outside.write_bytes((run_dir / "model.txt").read_bytes())
    escaped = server.client.post(
        "/reranker-models/import-by-reference", json={**body, "artifact_uri": outside.as_uri()}
    )
    assert escaped.status_code == 422
    assert escaped.headers["content-type"] == "application/problem+json"
    assert str(config.artifacts_url) in escaped.json()["detail"]  # names the store it is outside
    no_sha = server.client.post(
        "/reranker-models/import-by-reference", json={**body, "run": {"name": "x"}}
    )
    assert no_sha.status_code == 422 and "model.sha256" in no_sha.json()["detail"]

    promoted = server.client.post("/reranker-models/rr/versions/2/promote", json={"reason": "ab"})
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["changed"] is True and promoted.json()["archived"] == [1]
    history = server.anon.get("/reranker-models/rr/versions/2").json()["promotions"]
    assert history[-1]["to"] == "production" and history[-1]["reason"] == "ab"
    same = server.client.post("/reranker-models/rr/versions/2/promote").json()
    assert same["changed"] is False


def test_the_promote_gate_refuses_a_hold_verdict(
    server_on_both: tuple[Server, ServingConfig], runs: ModuleType, tmp_path: Path
) -> None:
    server, config = server_on_both
    run_dir = runs.write_run_dir(tmp_path / "hold", "rr", seed=2, verdict="HOLD")
    from tessera_serving import register_runs

    with open_registry(config) as registry:
        register_runs(registry, [run_dir], allow_unknown_schema=True)
    refused = server.client.post("/reranker-models/rr/versions/2/promote")
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert "gate verdict is HOLD" in refused.json()["detail"]
    assert server.anon.get("/reranker-models/rr/versions/2").json()["stage"] != "production"
