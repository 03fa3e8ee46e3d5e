"""Benchmark ``score --store`` and ``rescore`` throughput (rows/s) on SQLite (or a given URL).

Same input, same run: ``score`` without ``--store`` (the baseline), with ``--store`` (one
transaction per 64k-row batch: current-score upsert + one audit row per write), then
``rescore`` sweeps of every stored row at several page sizes (each page one transaction).
Uses bench_score's data and models (bench/out/score/, gitignored).

    OMP_WAIT_POLICY=passive uv run python bench/bench_store.py --rows 100000

``--atomic-reps N`` also measures what atomic storing costs: the storing job (batches staged,
then published in one transaction) against writing each batch straight into the current
scores and audit (the pre-staging path, reproduced here with the same scorer and the same
``store_scores``), interleaved N times, medians of wall and CPU time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import bench_score as bs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--page-sizes", default="100,500,2000")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--backend", default="lightgbm")
    p.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    p.add_argument("--atomic-reps", type=int, default=0, help="staged vs direct, interleaved")
    args = p.parse_args()
    bs.OUT.mkdir(parents=True, exist_ok=True)
    from tessera_serving.scoring.rescore import run_rescore
    from tessera_serving.scoring.score_job import ScoreOptions, run_score_job

    texts = {"small": bs.train("small")}
    texts["small-v2"] = texts["small"].replace("[seed: 7]", "[seed: 7] ")  # another artifact
    bs.MODELS["small-v2"] = bs.MODELS["small"]
    path = bs.make_input(args.rows)
    home = bs.OUT / "store-home"
    if args.database_url:
        os.environ["TESSERA_DATABASE_URL"] = args.database_url
    registry = bs.open_bench_registry(home, texts)
    opts = ScoreOptions(backend=args.backend, num_threads=args.threads)
    report: dict[str, Any] = {
        "rows": args.rows,
        "database": registry.where,
        "threads": args.threads,
        "backend": args.backend,
    }
    t0 = time.perf_counter()
    run_score_job(registry, "bench#1", path, bs.OUT / "nostore.parquet", opts)
    report["score_s"] = time.perf_counter() - t0
    stored_opts = ScoreOptions(backend=args.backend, num_threads=args.threads, store=True)
    for label in ("store_insert", "store_update"):  # first write inserts, second updates
        t0 = time.perf_counter()
        run_score_job(registry, "bench#1", path, bs.OUT / "store.parquet", stored_opts)
        seconds = time.perf_counter() - t0
        report[f"{label}_s"] = seconds
        report[f"{label}_rows_per_s"] = args.rows / seconds
        report[f"{label}_db_rows_per_s"] = args.rows / max(seconds - report["score_s"], 1e-9)
    if args.atomic_reps:
        report["atomic"] = atomic_cost(registry, path, stored_opts, args.atomic_reps, args.rows)
    report["rescore"] = []
    for i, size in enumerate(int(s) for s in args.page_sizes.split(",")):
        ref = "bench#2" if i % 2 == 0 else "bench#1"
        t0 = time.perf_counter()
        result = run_rescore(
            registry, ref, page_size=size, backend=args.backend, num_threads=args.threads
        )
        seconds = time.perf_counter() - t0
        report["rescore"].append(
            {
                "page_size": size,
                "rows": result.rescored,
                "pages": result.pages,
                "seconds": seconds,
                "rows_per_s": result.rescored / seconds,
            }
        )
    registry.close()
    shutil.rmtree(home, ignore_errors=True)
    out = bs.OUT / "bench_store.json"
    out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


def _direct_store(registry: Any, path: Any, opts: Any) -> None:
    """Score ``path`` and write each batch straight into current scores + audit."""
    from tessera_serving.scoring.jobs import create_job, finish_job
    from tessera_serving.scoring.model_ref import registry_model, resolve_cells
    from tessera_serving.scoring.parquet_io import score_file
    from tessera_serving.scoring.stored_scores import rows_from_batch, store_scores

    cells = resolve_cells(registry, "bench#1")
    job_id = create_job(registry, kind="score", model_ref="bench#1", model_name="direct")

    def store(batch: Any, first_row: int) -> None:
        with registry.transaction() as session:
            store_scores(session, model_name="direct", job_id=job_id, input_job_id=job_id,
                         rows=rows_from_batch(batch, first_row))  # fmt: skip

    model = registry_model(
        registry, cells, backend=opts.backend, num_threads=opts.num_threads, sink=lambda e: None
    )
    score_file(model, path, bs.OUT / "direct.parquet", on_batch=store)
    finish_job(registry, job_id, status="succeeded")


def atomic_cost(registry: Any, path: Any, opts: Any, reps: int, rows: int) -> dict[str, Any]:
    """Median wall/CPU seconds of the staged job vs the direct path, interleaved."""
    import statistics

    from tessera_serving.scoring.score_job import run_score_job

    runs: dict[str, list[tuple[float, float]]] = {"direct": [], "staged": []}
    for _ in range(reps + 1):  # the first round inserts; the measured ones update
        for label in ("direct", "staged"):
            t0, c0 = time.perf_counter(), time.process_time()
            if label == "direct":
                _direct_store(registry, path, opts)
            else:
                run_score_job(registry, "bench#1", path, bs.OUT / "store.parquet", opts)
            runs[label].append((time.perf_counter() - t0, time.process_time() - c0))
    out: dict[str, Any] = {"reps": reps, "rows": rows}
    for label, times in runs.items():
        measured = times[1:]
        out[f"{label}_wall_s"] = statistics.median(t for t, _ in measured)
        out[f"{label}_cpu_s"] = statistics.median(c for _, c in measured)
    out["staged_over_direct_wall"] = out["staged_wall_s"] / out["direct_wall_s"]
    out["staged_over_direct_cpu"] = out["staged_cpu_s"] / out["direct_cpu_s"]
    return out


if __name__ == "__main__":
    main()
