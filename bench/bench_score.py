"""Benchmark guarded scoring end to end against raw ``Booster.predict`` (issue 5).

Same model, same rows, same run: raw ``Booster.predict`` on the already-loaded C-contiguous
float64 matrix vs ``score_file`` (Parquet in -> guard -> matrix -> predict -> Parquet out)
through the Python API and through ``tessera-serve score`` in a subprocess. Also: where the
API's time goes, and peak RSS of a child scoring 1M/5M/10M rows (``--store``/``rescore``
throughput: bench_store.py). Data and models go to bench/out/ (gitignored).

    OMP_WAIT_POLICY=passive uv run python bench/bench_score.py --rows 1000000 --repeats 3
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import lightgbm as lgb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

OUT = Path(__file__).resolve().parent / "out" / "score"
FAMILIES = {f"fam{i}": [f"f{i}{j}" for j in range(10)] for i in range(4)}
FEATURES = [c for cols in FAMILIES.values() for c in cols]
ROW_GROUP = 131_072
MODELS = {"big": (300, 63), "small": (100, 31)}


def _chunk(start: int, n: int, seed: int = 0) -> pa.Table:
    """Rows ``start..start+n`` (deterministic per 128k block); 100-row queries."""
    rng = np.random.default_rng([seed, start])
    rows = np.arange(start, start + n)
    x = rng.standard_normal((n, len(FEATURES)))
    x[rng.random((n, len(FEATURES))) < 0.01] = np.nan
    signal = np.nan_to_num(x[:, 0] + 0.5 * x[:, 1] - 0.7 * x[:, 12] + 0.3 * x[:, 25] * x[:, 3])
    label = np.clip(np.round(signal + rng.normal(0, 0.7, n)), 0, 3).astype(np.int32)
    cols: dict[str, Any] = {
        "query_id": rows // 100,
        "candidate_id": rows,
        "label": label,
        "category": np.where(rows % 3 == 0, "cc", "mf"),
        "base_score": np.round(signal * 0.3 + rng.normal(0, 1, n), 4),
    }
    for j, name in enumerate(reversed(FEATURES)):  # file order differs from the booster's
        cols[name] = x[:, len(FEATURES) - 1 - j]
    return pa.table(cols)


def make_input(rows: int) -> Path:
    path = OUT / f"candidates-{rows}.parquet"
    if path.exists():
        return path
    meta = {b"tessera.feature_schema": json.dumps(FAMILIES).encode()}
    tmp = path.with_suffix(".tmp")
    schema = _chunk(0, 1).schema.with_metadata(meta)
    with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
        for start in range(0, rows, ROW_GROUP):
            writer.write_table(
                _chunk(start, min(ROW_GROUP, rows - start)).cast(schema), row_group_size=ROW_GROUP
            )
    tmp.replace(path)
    return path


def train(name: str) -> str:
    trees, leaves = MODELS[name]
    path = OUT / f"model-{name}.txt"
    if path.exists():
        return path.read_text()
    t = _chunk(10**9, 200_000, seed=1)
    x = np.column_stack([t.column(c).to_numpy() for c in FEATURES])
    ds = lgb.Dataset(
        x, t.column("label").to_numpy(), group=np.full(2000, 100), feature_name=FEATURES
    )
    params = {
        "objective": "lambdarank",
        "num_leaves": leaves,
        "learning_rate": 0.05,
        "verbose": -1,
        "num_threads": 2,
        "seed": 7,
        "deterministic": True,
    }
    text = str(lgb.train(params, ds, num_boost_round=trees).model_to_string())
    path.write_text(text)
    return text


def median_time(fn: Callable[[], Any], repeats: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


class TimedPredictor:
    """Delegates to a predictor and adds up the time spent predicting."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.seconds = inner, 0.0
        self.backend, self.feature_names = inner.backend, inner.feature_names

    def predict(self, matrix: Any) -> Any:
        t0 = time.perf_counter()
        out = self.inner.predict(matrix)
        self.seconds += time.perf_counter() - t0
        return out


def open_bench_registry(home: Path, texts: dict[str, str]) -> Any:
    """A fresh SQLite registry with the bench models inserted as production rows."""
    from tessera_contracts import compute_feature_schema_sha, compute_schema_sha
    from tessera_serving.config import ServingConfig
    from tessera_serving.registry import (
        RerankerModel,
        create_registry_engine,
        open_registry,
        upgrade,
    )

    shutil.rmtree(home, ignore_errors=True)
    config = ServingConfig.from_env(state_dir=home)
    engine = create_registry_engine(config.database_url, create_dir=True)
    upgrade(engine)
    engine.dispose()
    registry = open_registry(config)
    for version, (name, text) in enumerate(texts.items(), start=1):
        sha = registry.store.put_bytes(text.encode())
        with registry.transaction() as s:
            s.add(
                RerankerModel(
                    name="bench",
                    version=version,
                    cell_key="",
                    run_name=name,
                    run_sha256=sha,
                    run_created_at=datetime.now(UTC),
                    registered_via="run_dir",
                    producer_name="bench",
                    producer_version="0",
                    producer_git_sha=None,
                    spec_yaml=None,
                    run_json="{}",
                    dataset_name="bench",
                    dataset_manifest_sha256="0" * 64,
                    feature_families=sorted(FAMILIES),
                    feature_schema=FAMILIES,
                    feature_names=FEATURES,
                    feature_schema_sha=compute_feature_schema_sha(FAMILIES),
                    schema_sha_v2=compute_schema_sha(FAMILIES),
                    objective="lambdarank",
                    num_trees=MODELS[name][0],
                    metrics={},
                    gate={},
                    gate_verdict="PROMOTE",
                    smoke=False,
                    license_id="CC0-1.0",
                    license_url="https://example.org",
                    artifact_uri=registry.store.uri(sha),
                    artifact_sha256=sha,
                    stage="production",
                )
            )
    return registry


def direct_model(text: str, threads: int, backend: str) -> Any:
    from tessera_contracts import compute_schema_sha
    from tessera_serving.backends import load_predictor
    from tessera_serving.scoring.guard import ModelCell
    from tessera_serving.scoring.scorer import ScoringModel

    sha = hashlib.sha256(text.encode()).hexdigest()
    cell = ModelCell(
        1, "bench", 1, None, "production", compute_schema_sha(FAMILIES), sha, tuple(FEATURES)
    )
    return ScoringModel(
        [cell], lambda c: load_predictor(text, backend=backend, num_threads=threads)
    )


def breakdown(text: str, path: Path, threads: int, backend: str) -> dict[str, float]:
    """One instrumented API pass: read, matrix+rank, predict, write."""
    from tessera_serving.scoring.parquet_io import atomic_parquet_writer, iter_input, open_parquet
    from tessera_serving.scoring.scorer import prepare

    model = direct_model(text, threads, backend)
    parquet = open_parquet(path)
    plan = prepare(model, parquet.schema_arrow, events=lambda e: None)
    timed = TimedPredictor(plan._predictors[0])
    plan._predictors[0] = timed
    t0 = time.perf_counter()
    for _ in iter_input(open_parquet(path), plan.columns, 65_536):
        pass
    read = time.perf_counter() - t0
    write = produce = 0.0
    out = OUT / "breakdown.parquet"
    with atomic_parquet_writer(out, plan.schema) as writer:
        batches: Iterator[pa.RecordBatch] = plan.score(iter_input(parquet, plan.columns, 65_536))
        while True:
            t0 = time.perf_counter()
            batch = next(batches, None)
            produce += time.perf_counter() - t0
            if batch is None:
                break
            t0 = time.perf_counter()
            writer.write_batch(batch)
            write += time.perf_counter() - t0
    return {
        "read": read,
        "matrix_guard_rank": produce - read - timed.seconds,
        "predict": timed.seconds,
        "write": write,
        "total": produce + write,
    }


def run_api(text: str, path: Path, threads: int, backend: str) -> None:
    from tessera_serving.scoring.parquet_io import score_file

    score_file(
        direct_model(text, threads, backend), path, OUT / "api.parquet", events=lambda e: None
    )


def run_cli(
    home: Path, ref: str, path: Path, threads: int, backend: str, *extra: str
) -> tuple[float, dict[str, Any]]:
    env = {**os.environ, "TESSERA_HOME": str(home), "OMP_WAIT_POLICY": "passive"}
    exe = Path(sys.executable).parent / "tessera-serve"
    t0 = time.perf_counter()
    done = subprocess.run(
        [
            str(exe),
            "score",
            "--model",
            ref,
            "--input",
            str(path),
            "--output",
            str(OUT / "cli.parquet"),
            "--backend",
            backend,
            "--threads",
            str(threads),
            "--json",
            *extra,
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"tessera-serve score failed: {done.stderr[-2000:]}")
    return wall, json.loads(done.stdout)


def job_seconds(registry: Any, job_id: int) -> float:
    from tessera_serving.scoring.jobs import get_job

    job = get_job(registry, job_id)
    return (
        datetime.fromisoformat(job["finished_at"]) - datetime.fromisoformat(job["created_at"])
    ).total_seconds()


def vm_hwm_mib() -> float:
    """This process's peak RSS since its exec (``VmHWM``; ``ru_maxrss`` would include the
    forking parent's peak, which Linux carries across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_memory(args: argparse.Namespace) -> None:
    """In a child process: score ``args.child_memory`` and print peak RSS (MiB) as JSON."""
    text = (OUT / f"model-{args.child_model}.txt").read_text()
    t0 = time.perf_counter()
    if args.child_raw:
        t = pq.read_table(args.child_memory, columns=FEATURES)
        x = np.column_stack([t.column(c).to_numpy() for c in FEATURES])
        lgb.Booster(model_str=text).predict(x, num_threads=args.threads)
    else:
        run_api(text, Path(args.child_memory), args.threads, args.backend)
    peak = vm_hwm_mib()
    print(json.dumps({"peak_rss_mib": peak, "seconds": time.perf_counter() - t0}))


def memory_row(rows: int, args: argparse.Namespace, raw: bool = False) -> dict[str, Any]:
    path = make_input(rows)
    cmd = [
        sys.executable,
        __file__,
        "--child-memory",
        str(path),
        "--child-model",
        "small",
        "--threads",
        str(args.threads),
        "--backend",
        args.backend,
    ]
    done = subprocess.run(
        cmd + (["--child-raw"] if raw else []), capture_output=True, text=True, check=True
    )
    return {"rows": rows, "raw": raw, **json.loads(done.stdout.splitlines()[-1])}


def startup_seconds() -> float:
    """A fresh interpreter importing what ``tessera-serve score`` imports (incl. LightGBM)."""
    code = "import lightgbm, tessera_serving.cli, tessera_serving.scoring.score_job"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - t0


def e2e_row(
    args: argparse.Namespace,
    matrix: Any,
    text: str,
    version: int,
    path: Path,
    home: Path,
    registry: Any,
    skip: set[str],
) -> dict[str, Any]:
    """Raw predict, API and CLI interleaved per repeat, so each ratio sees the same load."""
    booster = lgb.Booster(model_str=text)
    runs: dict[str, list[float]] = {"raw": [], "api": [], "cli_wall": [], "cli_job": []}
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        booster.predict(matrix, num_threads=args.threads)
        runs["raw"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        run_api(text, path, args.threads, args.backend)
        runs["api"].append(time.perf_counter() - t0)
        if "cli" not in skip:
            wall, summary = run_cli(home, f"bench#{version}", path, args.threads, args.backend)
            runs["cli_wall"].append(wall)
            runs["cli_job"].append(job_seconds(registry, summary["job_id"]))
    row: dict[str, Any] = {f"{k}_s": statistics.median(v) for k, v in runs.items() if v}
    for key in ("api", "cli_wall", "cli_job"):
        if runs[key]:
            ratios = [x / r for x, r in zip(runs[key], runs["raw"], strict=True)]
            row[f"{key}_ratio"] = statistics.median(ratios)
    row["runs"] = runs
    row["breakdown"] = breakdown(text, path, args.threads, args.backend)
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--backend", default="lightgbm")
    p.add_argument("--models", default="big,small")
    p.add_argument("--memory-rows", default="1000000,5000000,10000000")
    p.add_argument("--skip", default="", help="comma list of: e2e,memory,cli")
    p.add_argument("--child-memory", help=argparse.SUPPRESS)
    p.add_argument("--child-model", help=argparse.SUPPRESS)
    p.add_argument("--child-raw", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if args.child_memory:
        child_memory(args)
        return
    skip = set(filter(None, args.skip.split(",")))
    report: dict[str, Any] = {
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} CPUs, "
        f"load avg {os.getloadavg()[0]:.1f} at start",
        "threads": args.threads,
        "backend": args.backend,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "rows": args.rows,
        "repeats": args.repeats,
        "lightgbm": lgb.__version__,
        "pyarrow": pa.__version__,
    }
    names = args.models.split(",")
    texts = {n: train(n) for n in names}
    path = make_input(args.rows)
    home = OUT / "home"
    registry = open_bench_registry(home, texts)
    if "e2e" not in skip:
        report["startup_s"] = startup_seconds()
        table = pq.read_table(path, columns=FEATURES)
        matrix = np.ascontiguousarray(
            np.column_stack([table.column(c).to_numpy() for c in FEATURES])
        )
        del table
        for version, name in enumerate(names, start=1):
            report[f"e2e_{name}"] = e2e_row(
                args, matrix, texts[name], version, path, home, registry, skip
            )
            print(json.dumps({name: report[f"e2e_{name}"]}, default=float), flush=True)
        del matrix
    if "memory" not in skip:
        rows = [int(r) for r in args.memory_rows.split(",") if r]
        report["memory"] = [memory_row(r, args) for r in rows]
        report["memory"].append(memory_row(rows[0], args, raw=True))
        print(json.dumps(report["memory"]), flush=True)
    (OUT / "bench_score.json").write_text(json.dumps(report, indent=2, default=float))
    print(json.dumps(report, indent=2, default=float))


if __name__ == "__main__":
    main()
