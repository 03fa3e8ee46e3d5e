"""Benchmark: ``tessera-lab train`` vs raw ``lightgbm.train`` on the same data and parameters.

Both sides run as fresh processes (same interpreter, same imports to pay) on one
synthetic dataset of ``--rows`` rows (default 1,000,000) in bench/out/: the raw side
reads the same Parquet columns into a numpy matrix, trains with the same parameter dict
the lab uses and saves the model; the lab side verifies hashes and fingerprints, selects
columns, trains, evaluates model and baseline on eval, checks and writes the run
directory. Repetitions alternate lab/raw; medians are reported (the machine is shared).

    OMP_WAIT_POLICY=passive uv run python bench/bench_train.py [--rows N] [--repeat K]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

OUT = Path(__file__).resolve().parent / "out"
RAW_SCRIPT = """
import json, sys, time
import numpy as np, pyarrow.parquet as pq, lightgbm as lgb
from tessera_lab.evaluation import query_starts
cfg = json.loads(sys.argv[1])
table = pq.read_table(cfg["train"], columns=["query_id", "label", *cfg["features"]])
x = np.column_stack([table.column(c).to_numpy() for c in cfg["features"]])
qid = table.column("query_id").to_numpy()
starts = query_starts(qid)
group = np.diff(np.append(starts, len(qid)))
data = lgb.Dataset(x, label=table.column("label").to_numpy(), group=group,
                   feature_name=cfg["features"], free_raw_data=True)
booster = lgb.train(cfg["params"], data, num_boost_round=cfg["rounds"])
booster.save_model(cfg["model"])
"""


def machine() -> dict[str, str]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "ram_gib": f"{mem_kb / 2**20:.1f}",
        "python": platform.python_version(),
        "load_avg_at_start": " ".join(f"{v:.1f}" for v in os.getloadavg()),
    }


def ensure_dataset(rows: int) -> Path:
    from tessera_lab.dataset import synth_dataset

    path = OUT / f"synth-{rows}"
    if not (path / "manifest.json").is_file():
        shutil.rmtree(path, ignore_errors=True)
        synth_dataset(path, rows=rows, seed=0, label_kind="graded")
    return path


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall-clock and CPU seconds (user + system) of one child process."""
    start, cpu = time.perf_counter(), _children_cpu()
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{' '.join(command[:3])} failed:\n{result.stderr}")
    return elapsed, _children_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--num-threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    OUT.mkdir(exist_ok=True)
    dataset = ensure_dataset(args.rows)

    from tessera_lab.booster import lightgbm_params
    from tessera_lab.dataset import open_dataset
    from tessera_lab.spec import load_spec

    spec_path = OUT / "bench_train_spec.yaml"
    spec_data = {
        "dataset": str(dataset),
        "feature_families": ["alignment", "annotation_meta", "knn", "length", "taxonomy"],
        "objective": "lambdarank",
        "params": {"learning_rate": 0.1, "num_leaves": 63, "min_data_in_leaf": 50},
        "num_boost_round": args.rounds,
        "early_stopping": None,
        "seed": 0,
        "num_threads": args.num_threads,
        "license": {"id": "Apache-2.0", "url": "https://www.apache.org/licenses/LICENSE-2.0"},
    }
    spec_path.write_text(yaml.safe_dump(spec_data), encoding="utf-8")
    spec = load_spec(spec_path)
    manifest = open_dataset(dataset, verify=False).manifest
    raw_cfg = {
        "train": str(dataset / "train.parquet"),
        "features": manifest.feature_columns,
        "params": lightgbm_params(spec),
        "rounds": args.rounds,
        "model": str(OUT / "bench_raw_model.txt"),
    }
    env = dict(os.environ)
    runs_dir = OUT / "bench_runs"
    shutil.rmtree(runs_dir, ignore_errors=True)
    cli = str(Path(sys.executable).parent / "tessera-lab")
    lab_times, raw_times, lab_cpu, raw_cpu = [], [], [], []
    for i in range(args.repeat):
        lab = [cli, "train", str(spec_path), "--runs-dir", str(runs_dir), "--name", f"b{i}",
               "--quiet"]  # fmt: skip
        wall, cpu = timed(lab, env)
        lab_times.append(wall)
        lab_cpu.append(cpu)
        wall, cpu = timed([sys.executable, "-c", RAW_SCRIPT, json.dumps(raw_cfg)], env)
        raw_times.append(wall)
        raw_cpu.append(cpu)
        print(
            f"rep {i}: lab {lab_times[-1]:.2f} s ({lab_cpu[-1]:.2f} s CPU), "
            f"raw {raw_times[-1]:.2f} s ({raw_cpu[-1]:.2f} s CPU)",
            file=sys.stderr,
        )
    lab_m, raw_m = statistics.median(lab_times), statistics.median(raw_times)
    ratios = [lab / raw for lab, raw in zip(lab_times, raw_times, strict=True)]
    cpu_m = statistics.median(lab_cpu), statistics.median(raw_cpu)
    record = json.loads((runs_dir / "b0" / "run.json").read_text())
    result = {
        "machine": machine(),
        "threading": f"num_threads={args.num_threads}, "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}",
        "rows": {"train": record["dataset"]["train_rows"], "eval": record["dataset"]["eval_rows"]},
        "features": len(manifest.feature_columns),
        "rounds": args.rounds,
        "lab_s": [round(t, 2) for t in lab_times],
        "raw_s": [round(t, 2) for t in raw_times],
        "lab_median_s": round(lab_m, 2),
        "raw_median_s": round(raw_m, 2),
        "overhead_median": f"{100 * (lab_m / raw_m - 1):+.1f}%",
        "overhead_per_pair_median": f"{100 * (statistics.median(ratios) - 1):+.1f}%",
        "lab_cpu_s": [round(t, 2) for t in lab_cpu],
        "raw_cpu_s": [round(t, 2) for t in raw_cpu],
        "overhead_cpu_median": f"{100 * (cpu_m[0] / cpu_m[1] - 1):+.1f}%",
        "load_avg_at_end": " ".join(f"{v:.1f}" for v in os.getloadavg()),
    }
    print(json.dumps(result, indent=2))
    (OUT / "bench_train.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
