"""Benchmark the scale-out paths (issue 14): partitioned scoring, shared re-score sweeps, S3.

1. Partitioned scoring (scale_partitioned.py): 8 partitions of ``--rows`` rows each (the
   "small" model of bench_score.py, LightGBM backend, 1 thread per worker), scored by
   ``tessera-serve score`` on a local Dask cluster of 1 and 2 workers, against the
   single-process CLI on the concatenated file, interleaved; then a least-squares fit of
   ``time = fixed + rows / (workers * rate)`` over the Dask runs at two sizes.
2. Re-score on PostgreSQL (``--only rescore``): ``--stored`` stored scores re-scored by 1, 2
   and 3 concurrent ``tessera-serve rescore`` processes and by one process with 2 and 3
   pages in flight (500-row pages, each on a new model version); rows/s of the whole sweep,
   the processes' CPU, and the single-process rows/s. ``--only rescore-writes``: one
   process, in-process, ``--repeats`` interleaved triples of sweeps: a page as one
   statement (its scores as one JSON parameter) with an asynchronous commit (now), the same
   with 2 pages in flight, and a read of what is left plus two array-bound statements with
   a synchronous commit (before); wall, client CPU and rows/s of each.
3. S3 store (moto on loopback, as in the tests) vs the local store: put/get throughput of
   8 MiB objects, and the start of a compiled scorer on a cache hit (fresh local cache dir,
   i.e. a new machine; and warm).

    OMP_WAIT_POLICY=passive uv run python bench/bench_scale.py [--rows 250000] [--stored 100000]
    OMP_WAIT_POLICY=passive uv run python bench/bench_scale.py --only partitioned \\
        --rows 1000000 --repeats 3      # issue 14's 8 x 1M (data cached in bench/out)
    OMP_WAIT_POLICY=passive uv run python bench/bench_scale.py --only rescore-writes --repeats 1
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
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


@contextlib.contextmanager
def _stored(
    args: argparse.Namespace, home: Path, versions: int
) -> Iterator[tuple[Any, str, float]]:
    """A fresh PostgreSQL schema holding ``--stored`` stored scores of model ``rr`` and
    ``versions`` more versions (``rr#2``...) to re-score with; yields (config, url, store s)."""
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
    shutil.rmtree(home, ignore_errors=True)
    config = ServingConfig.from_env(
        state_dir=home, database_url=url, artifacts_url=str(home / "artifacts")
    )
    try:
        engine = create_registry_engine(url)
        upgrade(engine)
        engine.dispose()
        table = candidates_table(n_queries=args.stored // 9 + 200).slice(0, args.stored)
        with open_registry(config) as registry:
            register(registry, make_booster(table))
            for version in range(2, 2 + versions):
                booster = make_booster(table, rounds=6, seed=version)
                register(registry, booster, version=version, stage="staging")
            path = write_candidates(home / "in.parquet", table)
            options = ScoreOptions(backend="lightgbm", num_threads=1, store=True)
            t0 = time.perf_counter()
            run_score_job(registry, "rr", path, home / "out.parquet", options)
            store_s = time.perf_counter() - t0
        yield config, url, store_s
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def rescore(args: argparse.Namespace) -> dict[str, Any]:
    """1, 2 and 3 concurrent ``tessera-serve rescore`` processes, and one process with 2 and
    3 pages in flight, each on a new version."""
    home = OUT / "rescore"
    results: list[dict[str, Any]] = []
    shapes = ((1, 1), (1, 2), (1, 3), (2, 1), (3, 1))  # (processes, pages in flight each)
    with _stored(args, home, len(shapes)) as (_, url, store_s):
        env = {**os.environ, "TESSERA_HOME": str(home), "TESSERA_DATABASE_URL": url,
               "TESSERA_ARTIFACTS_URL": str(home / "artifacts")}  # fmt: skip
        for version, (procs, in_flight) in enumerate(shapes, start=2):
            cmd = [str(SERVE), "rescore", "--model", f"rr#{version}", "--backend", "lightgbm",
                   "--threads", "1", "--json", "--in-flight", str(in_flight)]  # fmt: skip
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            running = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
                       for _ in range(procs)]  # fmt: skip
            outs = [json.loads(p.communicate()[0]) for p in running]
            wall = time.perf_counter() - t0
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            rows = sum(o["rescored"] for o in outs)
            assert rows == args.stored, outs
            results.append(
                {"processes": procs, "in_flight": in_flight, "rows": rows, "wall": wall,
                 "rows_per_s": rows / wall,
                 "client_cpu": cpu, "pages": [o["pages"] for o in outs],
                 "load_average": os.getloadavg()[0]}
            )  # fmt: skip
    return {"store_s": store_s, "runs": results,
            "single_process_rows_per_s": results[0]["rows_per_s"]}  # fmt: skip


_ARRAYS_UPDATE = (
    "UPDATE current_scores AS c SET score = n.score, source = n.source, "
    "model_sha256 = n.sha, job_id = %(job_id)s, updated_at = %(now)s "
    "FROM unnest(%(ids)s::bigint[], %(scores)s::float8[], %(sources)s::text[], "
    "%(shas)s::text[]) AS n(id, score, source, sha) "
    "WHERE c.id = n.id AND c.id = ANY(%(ids)s::bigint[])"
)
_AUDIT_COLUMNS = (
    ("current_id", "bigint"), ("job_id", "bigint"), ("sweep_id", "bigint"),
    ("score", "float8"), ("source", "text"), ("model_sha256", "text"),
    ("previous_score", "float8"), ("previous_source", "text"),
    ("previous_model_sha256", "text"), ("created_at", "timestamptz"),
)  # fmt: skip
_ARRAYS_AUDIT = (
    f"INSERT INTO score_audit ({', '.join(n for n, _ in _AUDIT_COLUMNS)}) "
    f"SELECT * FROM unnest({', '.join(f'%({n})s::{t}[]' for n, t in _AUDIT_COLUMNS)})"
)


def _arrays_page(session: Any, shared: Any, page: Any, output: Any) -> tuple[int, int]:
    """The page writes before: read what is left, then one array-bound UPDATE and one
    array-bound INSERT (every value encoded by the client), synchronous commit."""
    from tessera_serving.scoring import stored_scores
    from tessera_serving.scoring.scorer import RERANKER

    model, result = shared.model, shared.result
    rows = stored_scores.rows_from_batch(output, page.first_row)
    scored = [r for r in rows if r.source == RERANKER]
    updates, audit = stored_scores.rescore_writes(
        session, model_name=model.cells[0].name, job_id=result.job_id,
        sweep_id=result.sweep_id, input_job_id=page.input_job_id, rows=scored,
    )  # fmt: skip
    if updates:
        connection = session.connection()
        connection.exec_driver_sql(_ARRAYS_UPDATE, {
            "job_id": result.job_id, "now": updates[0]["b_updated_at"],
            "ids": [u["_id"] for u in updates], "scores": [u["b_score"] for u in updates],
            "sources": [u["b_source"] for u in updates],
            "shas": [u["b_model_sha256"] for u in updates],
        })  # fmt: skip
        connection.exec_driver_sql(
            _ARRAYS_AUDIT, {n: [row[n] for row in audit] for n, _ in _AUDIT_COLUMNS}
        )
    page.status, page.job_id, page.rescored = "done", result.job_id, len(updates)
    page.done_at = updates[0]["b_updated_at"] if updates else None
    return len(scored), len(updates)


def rescore_writes(args: argparse.Namespace) -> dict[str, Any]:
    """One process, in-process, interleaved: a page as one statement with
    ``synchronous_commit = off`` (now) vs. a read then two array-bound statements with a
    synchronous commit (before). The read's NOT EXISTS plan turns quadratic in the sweep's
    size once autovacuum has analysed the tables, so "before" varies with when that ran."""
    from tessera_serving.registry import open_registry
    from tessera_serving.scoring import rescore_workers as workers
    from tessera_serving.scoring.rescore import run_rescore

    now = (workers.begin_page_pg, workers._write_page)
    before = (lambda _session: None, _arrays_page)
    variants = {
        "one statement, JSON page, async commit (now)": (*now, 1),
        "the same, 2 pages in flight": (*now, 2),
        "read + array statements, sync commit (before)": (*before, 1),
    }
    runs: list[dict[str, Any]] = []
    with _stored(args, OUT / "rescore-writes", 3 * args.repeats) as (config, _, _store_s):
        versions = iter(range(2, 100))
        try:
            with open_registry(config) as registry:
                for _ in range(args.repeats):
                    for name, (begin, write, in_flight) in variants.items():
                        workers.begin_page_pg, workers._write_page = begin, write
                        version = next(versions)
                        t0, c0 = time.perf_counter(), time.process_time()
                        done = run_rescore(registry, f"rr#{version}", backend="lightgbm",
                                           num_threads=1, in_flight=in_flight)  # fmt: skip
                        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                        assert done.rescored == args.stored
                        runs.append(
                            {"writes": name, "rows": done.rescored, "wall": wall,
                             "client_cpu": cpu, "rows_per_s": done.rescored / wall,
                             "pages": done.pages, "load_average": os.getloadavg()[0]}
                        )  # fmt: skip
        finally:
            workers.begin_page_pg, workers._write_page = now
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
