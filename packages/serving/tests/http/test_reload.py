"""Reloading the served models on a real server: SIGHUP while requests are in flight drops
none of them, and a model that fails verification is never served."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlparse

import httpx
from server_harness import SCHEMA, TOKEN, Server, rows

from tessera_serving import ServingConfig, open_registry, promote, register_runs


def _register(config: ServingConfig, runs: ModuleType, parent: Path, seed: int) -> str:
    run_dir = runs.write_run_dir(parent, "rr", seed=seed, dir_name=f"rr-{seed}")
    with open_registry(config) as registry:
        [done] = register_runs(registry, [run_dir], allow_unknown_schema=True)
        promote(registry, f"rr#{done.version}")
        return str(done.rows[0].artifact_sha256)


def _served(server: Server) -> str:
    models = server.anon.get("/readyz").json()["models"]
    return str(models[0]["model"])


def test_sighup_reloads_without_dropping_requests_in_flight(
    server: Server, served: ServingConfig, runs: ModuleType, tmp_path: Path
) -> None:
    results: list[tuple[float, int, str | None]] = []
    stop = threading.Event()
    body = {"model": "rr", "feature_schema": SCHEMA, "rows": rows(n_queries=20)}

    def hammer() -> None:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as client:
            while not stop.is_set():
                started = time.monotonic()
                response = client.post("/v1/score", json=body)
                model = response.json().get("model") if response.status_code == 200 else None
                results.append((started, response.status_code, model))

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.0)
        sha2 = _register(served, runs, tmp_path / "v2", seed=1)
        os.kill(server.process.pid, signal.SIGHUP)
        deadline = time.monotonic() + 60
        while _served(server) != "rr#2" and time.monotonic() < deadline:
            time.sleep(0.2)
        swapped = time.monotonic()
        time.sleep(1.0)  # keep requests flowing on the new model
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert _served(server) == "rr#2"
    statuses = {status for _, status, _ in results}
    assert statuses == {200}, [r for r in results if r[1] != 200][:3]
    assert {model for _, _, model in results} == {"rr#1", "rr#2"}
    after = [model for started, _, model in results if started > swapped]
    assert after and set(after) == {"rr#2"}  # every request begun after the swap is on rr#2
    metrics = server.anon.get("/metrics").text
    assert f'model_sha256="{sha2}",name="rr",version="2"}} 1.0' in metrics
    assert 'version="1"} 1.0' not in metrics  # the old version is no longer served
    assert server.process.poll() is None


def test_a_model_that_fails_verification_is_never_served(
    server: Server, served: ServingConfig, runs: ModuleType, tmp_path: Path
) -> None:
    sha2 = _register(served, runs, tmp_path / "v2", seed=1)
    with open_registry(served) as registry:
        path = Path(urlparse(registry.store.uri(sha2)).path)
    path.chmod(0o644)
    path.write_bytes(path.read_bytes().replace(b"shrinkage=0.2", b"shrinkage=0.3", 1))
    reloaded: dict[str, Any] = server.client.post("/admin/reload").json()
    assert [m["model"] for m in reloaded["models"]] == ["rr#1"]  # the verified one stays
    assert "rr" in reloaded["errors"] and sha2 in reloaded["errors"]["rr"]
    ready = server.anon.get("/readyz")
    assert ready.status_code == 503
    assert any(reason.startswith("model 'rr':") for reason in ready.json()["reasons"])
    scored = server.client.post(
        "/v1/score", json={"model": "rr", "feature_schema": SCHEMA, "rows": rows(2, 3)}
    )
    assert scored.status_code == 200 and scored.json()["model"] == "rr#1"
    explicit = server.client.post(
        "/v1/score", json={"model": "rr#2", "feature_schema": SCHEMA, "rows": rows(2, 3)}
    )
    assert explicit.status_code == 503
    assert sha2 in explicit.json()["detail"]
