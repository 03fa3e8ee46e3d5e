"""Benchmark the HTTP service (``tessera-serve http``) against the in-process call and the CLI.

One run, interleaved where it compares: ``POST /v1/score`` for one query of 100 candidates x
40 features with a 500-tree x 63-leaf model, p50/p99 at concurrency 1 and 8 (requests/s at
8 = saturation on this machine), vs the same rows through the in-process Python API (the
floor) and through ``tessera-serve score`` as a subprocess (a batch worker today); Arrow IPC
vs columnar JSON bodies for 10,000-row requests; ``score.tsv`` streaming of a 1M-row job
(rows/s and the server's peak RSS while streaming). Data and models go to bench/out/http/.

    OMP_WAIT_POLICY=passive uv run --frozen python bench/bench_http.py [--backend compiled]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "passive")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
import pyarrow as pa
import pyarrow.parquet as pq

import bench_score as bs  # the same data generator and registry helper as bench_score

OUT = Path(__file__).resolve().parent / "out" / "http"
TOKEN = "bench-token"
SERVE = Path(sys.executable).parent / "tessera-serve"
bs.MODELS["http"] = (500, 63)
bs.OUT = OUT


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def summary(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50_ms": pct(values, 0.5), "p99_ms": pct(values, 0.99)}


def start_server(home: Path, backend: str, port: int) -> subprocess.Popen[bytes]:
    tokens = home / "tokens.txt"
    tokens.write_text(hashlib.sha256(TOKEN.encode()).hexdigest() + "\n")
    env = {
        **os.environ,
        "TESSERA_HOME": str(home),
        "TESSERA_API_TOKENS_FILE": str(tokens),
        "TESSERA_API_BACKEND": backend,
        "TESSERA_API_MAX_BODY_BYTES": str(256 << 20),
    }
    log = (home / "server.log").open("wb")
    proc = subprocess.Popen(
        [str(SERVE), "http", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    # A first compile of the big model takes ~1 min idle, far more on a busy machine:
    # `tessera-serve compile bench` beforehand fills the cache.
    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit(f"server not ready; see {home / 'server.log'}")


def rss_kb(pid: int, key: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1])
    return 0


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_query(rows: int, seed: int = 3) -> pa.Table:
    return bs._chunk(10**8 + seed * rows, rows, seed=seed).replace_schema_metadata(
        {b"tessera.feature_schema": json.dumps(bs.FAMILIES).encode()}
    )


def json_body(table: pa.Table) -> bytes:
    cols = {c: table.column(c).to_pylist() for c in table.column_names if c != "category"}
    cols = {k: [None if isinstance(x, float) and x != x else x for x in v] for k, v in cols.items()}
    return json.dumps({"model": "bench", "feature_schema": bs.FAMILIES, "rows": cols}).encode()


def arrow_body(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def latency(base: str, body: bytes, concurrency: int, total: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {TOKEN}", "content-type": "application/json"}
    times: list[float] = []

    def worker(n: int) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            client.post("/v1/score", content=body)  # warm the connection
            for _ in range(n):
                t0 = time.perf_counter()
                response = client.post("/v1/score", content=body)
                times.append(time.perf_counter() - t0)
                assert response.status_code == 200, response.text

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(worker, [total // concurrency] * concurrency))
    wall = time.perf_counter() - t0
    return {**summary(times), "requests_per_s": len(times) / wall}


def in_process(home: Path, backend: str, table: pa.Table, total: int) -> dict[str, Any]:
    from tessera_serving import ServingConfig, load_served_model, open_registry, score_table

    with open_registry(ServingConfig.from_env(state_dir=home)) as registry:
        served = load_served_model(registry, "bench", backend=backend)
    score_table(served, table)
    times = []
    for _ in range(total):
        t0 = time.perf_counter()
        score_table(served, table)
        times.append(time.perf_counter() - t0)
    return summary(times)


def cli(home: Path, backend: str, table: pa.Table, repeats: int) -> dict[str, Any]:
    source = OUT / "one-query.parquet"
    pq.write_table(table, source)
    env = {**os.environ, "TESSERA_HOME": str(home)}
    times = []
    for i in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(
            [
                str(SERVE),
                "score",
                "--model",
                "bench",
                "--input",
                str(source),
                "--output",
                str(OUT / f"cli-{i}.parquet"),
                "--backend",
                backend,
            ],
            env=env,
            check=True,
            capture_output=True,
        )
        times.append(time.perf_counter() - t0)
    return summary(times)


def bodies(base: str, rows: int, repeats: int) -> dict[str, Any]:
    table = one_query(rows, seed=11)
    payloads = {
        "json": (json_body(table), "application/json", {}),
        "arrow": (arrow_body(table), "application/vnd.apache.arrow.stream", {"model": "bench"}),
    }
    times: dict[str, list[float]] = {k: [] for k in payloads}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        for _ in range(repeats):  # interleaved
            for kind, (body, ctype, params) in payloads.items():
                t0 = time.perf_counter()
                r = client.post(
                    "/v1/score", content=body, params=params, headers={"content-type": ctype}
                )
                times[kind].append(time.perf_counter() - t0)
                assert r.status_code == 200, r.text
    out = {}
    for kind, values in times.items():
        med = statistics.median(values)
        out[kind] = {
            "body_bytes": len(payloads[kind][0]),
            "median_ms": med * 1000,
            "rows_per_s": rows / med,
        }
    out["json_over_arrow"] = out["json"]["median_ms"] / out["arrow"]["median_ms"]
    return out


def tsv_stream(base: str, pid: int, rows: int) -> dict[str, Any]:
    source = bs.make_input(rows)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=base, headers=headers, timeout=600) as client:
        job = client.post(
            "/jobs",
            json={"operation": "score", "payload": {"model": "bench", "input": str(source)}},
        )
        job_id = job.json()["job_id"]
        while client.get(f"/jobs/{job_id}").json()["status"] == "running":
            time.sleep(0.5)
        before, peak, done = rss_kb(pid), [0], threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], rss_kb(pid))
                time.sleep(0.02)

        sampler = threading.Thread(target=sample)
        sampler.start()
        cpu0, t0, lines = cpu_s(pid), time.perf_counter(), 0
        with client.stream("GET", f"/scoring/prediction-sets/{job_id}/score.tsv") as response:
            for chunk in response.iter_bytes():
                lines += chunk.count(b"\n")
        wall = time.perf_counter() - t0
        done.set()
        sampler.join()
    return {
        "rows": lines - 1,
        "seconds": wall,
        "server_cpu_s": cpu_s(pid) - cpu0,
        "rows_per_s": (lines - 1) / wall,
        "rss_before_mb": before / 1024,
        "rss_peak_while_streaming_mb": peak[0] / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="compiled", choices=("compiled", "lightgbm"))
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--tsv-rows", type=int, default=1_000_000)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    home = OUT / "home"
    text = bs.train("http")
    if not (home / "registry.db").exists():  # kept between runs: it holds the compile cache
        bs.open_bench_registry(home, {"http": text}).close()
    proc = start_server(home, args.backend, args.port)
    base = f"http://127.0.0.1:{args.port}"
    table = one_query(100)
    body = json_body(table)
    results: dict[str, Any] = {
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "backend": args.backend,
        "model": "500 trees x 63 leaves",
    }
    try:
        results["in_process_1q"] = in_process(home, args.backend, table, args.requests)
        results["http_c1"] = latency(base, body, 1, args.requests)
        results["http_c8"] = latency(base, body, 8, args.requests)
        results["in_process_1q_again"] = in_process(home, args.backend, table, args.requests)
        results["cli_subprocess_1q"] = cli(home, args.backend, table, 5)
        floor = min(results["in_process_1q"]["p50_ms"], results["in_process_1q_again"]["p50_ms"])
        results["http_overhead_p50_ms"] = results["http_c1"]["p50_ms"] - floor
        results["bodies_10k"] = bodies(base, 10_000, 7)
        results["tsv"] = tsv_stream(base, proc.pid, args.tsv_rows)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    print(json.dumps(results, indent=2))
    (OUT / "results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
