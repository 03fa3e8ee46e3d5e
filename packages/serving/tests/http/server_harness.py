"""Harness: a real ``tessera-serve http`` process on a free loopback port, and a registry to serve.

``served`` registers and promotes a real (tiny LightGBM) run, then ``server`` starts the
server as a subprocess with a tokens file (the token's sha256 only) and waits for
``/healthz``. Tests talk to it with httpx over TCP.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import numpy as np

from tessera_serving import ServingConfig, open_registry, promote, register_runs

TOKEN = "s3cret-token-for-tests"
SCHEMA: dict[str, list[str]] = {
    "knn": ["knn_score", "knn_votes"],
    "length": ["query_len", "len_ratio"],
}
DRIFTED: dict[str, list[str]] = {
    "knn": ["knn_score", "knn_votes"],
    "length": ["query_len", "len_ratio", "title_len"],
}
TESSERA_SERVE = Path(sys.executable).parent / "tessera-serve"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rows(n_queries: int = 5, per_query: int = 6, seed: int = 0) -> dict[str, list[Any]]:
    """Columnar candidates for the tiny model: contiguous queries, a few NaN features."""
    rng = np.random.default_rng(seed)
    n = n_queries * per_query
    knn = rng.random(n)
    knn[::7] = np.nan
    return {
        "query_id": [f"q{i // per_query}" for i in range(n)],
        "candidate_id": [f"c{i}" for i in range(n)],
        "base_score": [round(float(x), 3) for x in rng.random(n)],
        "knn_score": [None if np.isnan(x) else float(x) for x in knn],
        "knn_votes": [float(x) for x in rng.integers(0, 20, n)],
        "query_len": [float(x) for x in rng.integers(10, 200, n)],
        "len_ratio": [float(x) for x in rng.random(n) * 2],
    }


@dataclass
class Server:
    """One server process; ``client`` carries the token, ``anon`` does not."""

    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path
    client: httpx.Client
    anon: httpx.Client

    def log_lines(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log_path.read_text(encoding="utf-8").splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))
        return out

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.client.close()
        self.anon.close()
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                return self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                return self.process.wait(timeout=10)
        return int(self.process.returncode)


def serving_env(config: ServingConfig, **extra: str) -> dict[str, str]:
    """This environment with ``config``'s locations (and passive OpenMP waiting)."""
    env = dict(os.environ)
    env.update(
        TESSERA_HOME=str(config.state_dir),
        TESSERA_DATABASE_URL=config.database_url,
        TESSERA_ARTIFACTS_URL=config.artifacts_url,
        OMP_WAIT_POLICY="passive",
        **extra,
    )
    return env


def run_cli(
    config: ServingConfig, cwd: Path, *args: str | Path
) -> subprocess.CompletedProcess[str]:
    """Run ``tessera-serve`` in a subprocess against ``config``."""
    return subprocess.run(
        [str(TESSERA_SERVE), *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env=serving_env(config),
        timeout=300,
    )


def start_server(config: ServingConfig, tmp_path: Path, **env: str) -> Server:
    """Start ``tessera-serve http`` and wait until ``/healthz`` answers."""
    tokens = tmp_path / "tokens.txt"
    if not tokens.exists():
        tokens.write_text(hashlib.sha256(TOKEN.encode()).hexdigest() + "\n", encoding="utf-8")
    port = free_port()
    log_path = tmp_path / f"server-{port}.log"
    full_env = serving_env(
        config,
        TESSERA_API_TOKENS_FILE=str(tokens),
        TESSERA_API_BACKEND="lightgbm",
        TESSERA_NUM_THREADS="1",
        TESSERA_API_RECORD_FLUSH_S="0.05",
        **env,
    )
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(TESSERA_SERVE), "http", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=tmp_path,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240  # a loaded 2-core machine starts slowly
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {log_path.read_text()}")
        try:
            if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    else:
        process.kill()
        raise AssertionError(f"server did not answer: {log_path.read_text()}")
    headers = {"Authorization": f"Bearer {TOKEN}"}
    return Server(
        process,
        base,
        log_path,
        httpx.Client(base_url=base, headers=headers, timeout=60),
        httpx.Client(base_url=base, timeout=60),
    )


def register_and_promote(
    config: ServingConfig, runs: ModuleType, parent: Path, name: str = "rr", **opts: Any
) -> None:
    """Register a real run directory as ``name`` and promote it."""
    run_dir = runs.write_run_dir(parent, name, **opts)
    with open_registry(config) as registry:
        [registered] = register_runs(registry, [run_dir], allow_unknown_schema=True)
        promote(registry, f"{registered.name}#{registered.version}")
