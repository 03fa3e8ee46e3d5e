"""Benchmark: evaluation throughput (rows/s) of the lab's vectorised metrics.

Scores ``--rows`` rows of the synthetic dataset's train split (its real query sizes,
labels, categories and weights) with random model scores, then times ``compare``
(model and baseline, overall and per category: NDCG@1/3/5/10, MAP, MRR, Fmax,
weighted Fmax) and ``ranking_metrics`` alone. Medians of ``--repeat`` runs.

    uv run python bench/bench_evaluate.py [--rows N] [--repeat K]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np

from tessera_lab.dataset import open_dataset
from tessera_lab.evaluation import Queries, compare, ranking_metrics

OUT = Path(__file__).resolve().parent / "out"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    path = OUT / f"synth-{args.rows}"
    if not (path / "manifest.json").is_file():
        raise SystemExit(f"{path}: run bench/bench_train.py --rows {args.rows} first")
    table = open_dataset(path, verify=False).read(
        "train", columns=["query_id", "label", "category", "base_score", "weight"]
    )
    qid = table.column("query_id").to_numpy()
    label = table.column("label").to_numpy()
    category = table.column("category").to_numpy(zero_copy_only=False).astype(str)
    base = table.column("base_score").to_numpy()
    weight = table.column("weight").to_numpy()
    score = np.random.default_rng(0).normal(size=len(label)) + label
    timings: dict[str, list[float]] = {"compare": [], "ranking_metrics": []}
    cpu: dict[str, list[float]] = {"compare": [], "ranking_metrics": []}
    for _ in range(args.repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        compare(qid, label, category, score, base, binary=False, weight=weight)
        timings["compare"].append(time.perf_counter() - start)
        cpu["compare"].append(time.process_time() - start_cpu)
        start, start_cpu = time.perf_counter(), time.process_time()
        ranking_metrics(Queries.from_ids(qid, label, weight), score, binary=False, weight=weight)
        timings["ranking_metrics"].append(time.perf_counter() - start)
        cpu["ranking_metrics"].append(time.process_time() - start_cpu)
    n = len(label)
    result = {
        "rows": n,
        "queries": len(np.unique(qid)),
        "load_avg": " ".join(f"{v:.1f}" for v in os.getloadavg()),
        **{
            name: {
                "median_s": round(statistics.median(t), 3),
                "rows_per_s": round(n / statistics.median(t)),
                "runs_s": [round(x, 3) for x in t],
                "cpu_median_s": round(statistics.median(cpu[name]), 3),
                "rows_per_cpu_s": round(n / statistics.median(cpu[name])),
            }
            for name, t in timings.items()
        },
    }
    print(json.dumps(result, indent=2))
    (OUT / "bench_evaluate.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
