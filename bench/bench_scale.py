"""Benchmark the scale-out paths (issue 14): partitioned scoring, shared re-score sweeps, S3.

1. Partitioned scoring (scale_partitioned.py): 8 partitions of ``--rows`` rows each (the
   "small" model of bench_score.py, LightGBM backend, 1 thread per worker), scored by
   ``tessera-serve score`` on a local Dask cluster of 1 and 2 workers, against the
   single-process CLI on the concatenated file, interleaved; then a least-squares fit of
   ``time = fixed + rows / (workers * rate)`` over the Dask runs at two sizes.
2. Re-score on PostgreSQL: ``--stored`` stored scores re-scored by 1, 2 and 3 concurrent
   ``tessera-serve rescore`` processes (500-row pages); rows/s of the whole sweep.
3. S3 store (moto on loopback, as in the tests) vs the local store: put/get throughput of
   8 MiB objects, and the start of a compiled scorer on a cache hit (fresh local cache dir,
   i.e. a new machine; and warm).

    OMP_WAIT_POLICY=passive uv run python bench/bench_scale.py [--rows 250000] [--stored 100000]
    OMP_WAIT_POLICY=passive uv run python bench/bench_scale.py --only partitioned \\
        --rows 1000000 --repeats 3      # issue 14's 8 x 1M (data cached in bench/out)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "passive")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "packages" / "serving" / "tests"))

import numpy as np  # noqa: E402

import bench_score as bs  # noqa: E402
import scale_partitioned  # noqa: E402

OUT = ROOT / "bench" / "out" / "scale"
SERVE = Path(sys.executable).parent / "tessera-serve"
PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _cli(env: dict[str, str], *args: str) -> tuple[float, float, dict[str, Any]]:
    """Run ``tessera-serve``; return (wall s, CPU s of it and its children, JSON summary)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run([str(SERVE), *args], env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert done.returncode == 0, done.stderr[-2000:]
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, json.loads(done.stdout)


def partitioned(args: argparse.Namespace) -> dict[str, Any]:
    """Partitioned scoring: see scale_partitioned.py."""
    return scale_partitioned.partitioned(args, OUT, _cli)


def rescore(args: argparse.Namespace) -> dict[str, Any]:
    import psycopg

    from tessera_serving.config import ServingConfig
    from tessera_serving.registry import open_registry, upgrade
    from tessera_serving.registry.engine import create_registry_engine
    from tessera_serving.scoring.score_job import ScoreOptions, run_score_job

    sys.path.insert(0, str(ROOT / "packages" / "serving" / "tests" / "scoring"))
    from conftest import candidates_table, make_booster, register, write_candidates

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    home = OUT / "rescore"
    shutil.rmtree(home, ignore_errors=True)
    config = ServingConfig.from_env(
        state_dir=home, database_url=url, artifacts_url=str(home / "artifacts")
    )
    results: list[dict[str, Any]] = []
    try:
        engine = create_registry_engine(url)
        upgrade(engine)
        engine.dispose()
        table = candidates_table(n_queries=args.stored // 9 + 200).slice(0, args.stored)
        with open_registry(config) as registry:
            register(registry, make_booster(table))
            for version in (2, 3, 4):
                booster = make_booster(table, rounds=6, seed=version)
                register(registry, booster, version=version, stage="staging")
            path = write_candidates(home / "in.parquet", table)
            options = ScoreOptions(backend="lightgbm", num_threads=1, store=True)
            t0 = time.perf_counter()
            run_score_job(registry, "rr", path, home / "out.parquet", options)
            store_s = time.perf_counter() - t0
        env = {**os.environ, "TESSERA_HOME": str(home), "TESSERA_DATABASE_URL": url,
               "TESSERA_ARTIFACTS_URL": str(home / "artifacts")}  # fmt: skip
        for version, procs in zip((2, 3, 4), (1, 2, 3), strict=True):
            cmd = [str(SERVE), "rescore", "--model", f"rr#{version}", "--backend", "lightgbm",
                   "--threads", "1", "--json"]  # fmt: skip
            t0 = time.perf_counter()
            running = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
                       for _ in range(procs)]  # fmt: skip
            outs = [json.loads(p.communicate()[0]) for p in running]
            wall = time.perf_counter() - t0
            rows = sum(o["rescored"] for o in outs)
            assert rows == args.stored, outs
            pages = [o["pages"] for o in outs]
            results.append(
                {"processes": procs, "rows": rows, "wall": wall, "rows_per_s": rows / wall,
                 "pages": pages}
            )  # fmt: skip
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    return {"store_100k_s": store_s, "runs": results}


def rescore_writes(args: argparse.Namespace) -> dict[str, Any]:
    """One process, in-process, interleaved: a page written with one array-bound statement
    per table (the PostgreSQL path) vs. executemany (a statement per row, the old path)."""
    import psycopg
    from sqlalchemy import insert

    from tessera_serving.config import ServingConfig
    from tessera_serving.registry import open_registry, upgrade
    from tessera_serving.registry.engine import create_registry_engine
    from tessera_serving.scoring import stored_scores
    from tessera_serving.scoring.rescore import run_rescore
    from tessera_serving.scoring.score_job import ScoreOptions, run_score_job

    sys.path.insert(0, str(ROOT / "packages" / "serving" / "tests" / "scoring"))
    from conftest import candidates_table, make_booster, register, write_candidates

    def executemany(session: Any, updates: Any, audit: Any, job_id: int, now: Any) -> None:
        session.execute(stored_scores._RESCORE_CURRENT, updates)
        session.execute(insert(stored_scores._AUDIT), audit)

    arrays = stored_scores._rescore_with_arrays
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    home = OUT / "rescore-writes"
    shutil.rmtree(home, ignore_errors=True)
    config = ServingConfig.from_env(
        state_dir=home, database_url=url, artifacts_url=str(home / "artifacts")
    )
    runs: list[dict[str, Any]] = []
    try:
        engine = create_registry_engine(url)
        upgrade(engine)
        engine.dispose()
        table = candidates_table(n_queries=args.stored // 9 + 200).slice(0, args.stored)
        with open_registry(config) as registry:
            register(registry, make_booster(table))
            path = write_candidates(home / "in.parquet", table)
            options = ScoreOptions(backend="lightgbm", num_threads=1, store=True)
            run_score_job(registry, "rr", path, home / "out.parquet", options)
            versions = iter(range(2, 100))
            for _ in range(args.repeats):
                for name, fn in (("arrays", arrays), ("executemany", executemany)):
                    version = next(versions)
                    register(registry, make_booster(table, rounds=6, seed=version),
                             version=version, stage="staging")  # fmt: skip
                    stored_scores._rescore_with_arrays = fn
                    t0, c0 = time.perf_counter(), time.process_time()
                    done = run_rescore(registry, f"rr#{version}", backend="lightgbm",
                                       num_threads=1)  # fmt: skip
                    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                    rate = done.rescored / wall
                    runs.append({"writes": name, "rows": done.rescored, "wall": wall,
                                 "client_cpu": cpu, "rows_per_s": rate})  # fmt: skip
    finally:
        stored_scores._rescore_with_arrays = arrays
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    return {"runs": runs}


def s3_store(args: argparse.Namespace) -> dict[str, Any]:
    from s3_server import S3Server

    from tessera_serving.backends import load_predictor
    from tessera_serving.store import open_store

    server = S3Server.start()
    os.environ.update(server.env())
    out: dict[str, Any] = {}
    try:
        stores = {
            "local": open_store(OUT / f"store-{uuid.uuid4().hex[:6]}"),
            "s3": open_store(f"s3://{server.new_bucket()}/bench"),
        }
        blobs = [np.random.default_rng(i).bytes(8 << 20) for i in range(args.repeats * 2)]
        text = bs.train("small")
        for name, store in stores.items():
            t0 = time.perf_counter()
            shas = [store.put_bytes(b) for b in blobs]
            put = time.perf_counter() - t0
            t0 = time.perf_counter()
            for sha in shas:
                store.read_bytes(sha)
            get = time.perf_counter() - t0
            mib = 8 * len(blobs)
            cache = OUT / f"compiled-{name}-{uuid.uuid4().hex[:6]}"
            load_predictor(text, backend="compiled", store=store, cache_dir=cache / "builder")
            starts = {"new machine": [], "warm": []}
            for i in range(args.repeats):
                for kind, where in (("new machine", cache / f"m{i}"), ("warm", cache / "m0")):
                    t0 = time.perf_counter()
                    load_predictor(text, backend="compiled", store=store, cache_dir=where)
                    starts[kind].append(time.perf_counter() - t0)
            out[name] = {
                "put_mib_s": mib / put,
                "get_mib_s": mib / get,
                "cache_hit_start_s": {k: statistics.median(v) for k, v in starts.items()},
            }
    finally:
        server.stop()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=250_000, help="rows per partition (x8)")
    p.add_argument("--stored", type=int, default=100_000)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--only", choices=["partitioned", "rescore", "rescore-writes", "s3"])
    p.add_argument("--pool", action="store_true", help="partitioned: also the process pool")
    args = p.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    bs.OUT.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"load_average": os.getloadavg()}
    steps = [("s3", s3_store), ("rescore", rescore), ("rescore-writes", rescore_writes),
             ("partitioned", partitioned)]  # fmt: skip
    for name, fn in steps:
        if args.only in (None, name):
            report[name] = fn(args)
            print(json.dumps({name: report[name]}, indent=1), flush=True)
    (OUT / "report.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
