"""Benchmark: ``tessera-lab train`` on the dask engine vs the local engine, same data and spec.

One synthetic dataset of ``--rows`` rows (default 200,000) in bench/out/; three specs that
differ only in ``engine``: ``local`` (one process, ``lightgbm.train``), and the dask engine
on an in-process ``LocalCluster`` with 1 and with 2 workers (threads, ``num_threads`` each).
Every run is a fresh ``tessera-lab train`` process; repetitions interleave the three;
medians are reported with CPU time (user + system of the child) beside wall-clock time,
and ``run.json``'s ``duration_s`` (the lab's own time: load, train, evaluate, write).
Then, to say where the difference goes: the imports each engine needs (fresh processes),
and in one process per engine the cluster start, the fit and the cluster stop.

    OMP_WAIT_POLICY=passive uv run python bench/bench_dask_train.py [--rows N] [--repeat K]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from bench_train import OUT, ensure_dataset, machine, timed

ENGINES: dict[str, Any] = {
    "local": "local",
    "dask-1": {"kind": "dask", "scheduler": "local", "workers": 1},
    "dask-2": {"kind": "dask", "scheduler": "local", "workers": 2},
}


def write_spec(dataset: Path, engine: Any, rounds: int, threads: int, name: str) -> Path:
    path = OUT / f"bench_dask_{name}.yaml"
    spec = {
        "dataset": str(dataset),
        "feature_families": ["alignment", "annotation_meta", "knn", "length", "taxonomy"],
        "objective": "lambdarank",
        "params": {"learning_rate": 0.1, "num_leaves": 63, "min_data_in_leaf": 50},
        "num_boost_round": rounds,
        "early_stopping": None,
        "seed": 0,
        "num_threads": threads,
        "engine": engine,
        "license": {"id": "Apache-2.0", "url": "https://www.apache.org/licenses/LICENSE-2.0"},
    }
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


IMPORTS = {
    "import-local": "import tessera_lab.training, tessera_lab.booster",
    "import-dask": "import tessera_lab.training, tessera_lab.booster, tessera_lab.distributed, "
    "dask.array, distributed, pandas, lightgbm.dask",
}


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> dict[str, float]:
    wall, cpu = _clock()
    return {"wall_s": round(wall - start[0], 3), "cpu_s": round(cpu - start[1], 3)}


def breakdown(spec_path: Path) -> dict[str, Any]:
    """In one process: cluster start, fit (placement + LightGBM), cluster stop; or the fit."""
    from tessera_lab.booster import fit_cell
    from tessera_lab.dataset import open_dataset
    from tessera_lab.distributed import dask_session, fit_cell_dask
    from tessera_lab.features import feature_names, select_feature_schema
    from tessera_lab.protocol import build_cells, read_rows
    from tessera_lab.spec import DaskEngine, load_spec

    spec = load_spec(spec_path)
    dataset = open_dataset(spec.dataset)
    names = feature_names(select_feature_schema(dataset.manifest, spec.feature_families, "b"))
    train, evals = (read_rows(dataset, s, spec, names) for s in ("train", "eval"))
    [cell] = build_cells(train, evals, spec, smoke=False, where="bench")
    if not isinstance(spec.engine, DaskEngine):
        start = _clock()
        fit_cell(cell, names, spec)
        return {"fit": _since(start)}
    start = _clock()
    with dask_session(spec.engine, spec.num_threads, "bench") as session:
        result = {"cluster_start": _since(start)}
        start = _clock()
        fit_cell_dask(session, cell, names, spec)
        result["fit"] = _since(start)
        start = _clock()
    result["cluster_stop"] = _since(start)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--num-threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--breakdown", type=Path, help=argparse.SUPPRESS)  # child mode
    args = parser.parse_args()
    if args.breakdown is not None:
        print(json.dumps(breakdown(args.breakdown)))
        return
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    OUT.mkdir(exist_ok=True)
    dataset = ensure_dataset(args.rows)
    specs = {
        name: write_spec(dataset, engine, args.rounds, args.num_threads, name)
        for name, engine in ENGINES.items()
    }
    runs_dir = OUT / "bench_dask_runs"
    shutil.rmtree(runs_dir, ignore_errors=True)
    cli = str(Path(sys.executable).parent / "tessera-lab")
    wall: dict[str, list[float]] = {name: [] for name in ENGINES}
    cpu: dict[str, list[float]] = {name: [] for name in ENGINES}
    lab: dict[str, list[float]] = {name: [] for name in ENGINES}
    ndcg: dict[str, float] = {}
    for i in range(args.repeat):
        order = list(ENGINES) if i % 2 == 0 else list(reversed(ENGINES))
        for name in order:
            run = f"{name}-{i}"
            command = [cli, "train", str(specs[name]), "--runs-dir", str(runs_dir),
                       "--name", run, "--quiet"]  # fmt: skip
            seconds, cpu_seconds = timed(command, dict(os.environ))
            record = json.loads((runs_dir / run / "run.json").read_text("utf-8"))
            wall[name].append(seconds)
            cpu[name].append(cpu_seconds)
            lab[name].append(record["duration_s"])
            ndcg[name] = record["metrics"]["eval"]["ndcg@10"]
            print(f"rep {i} {name}: {seconds:.2f} s wall, {cpu_seconds:.2f} s CPU", file=sys.stderr)
    parts: dict[str, list[Any]] = {name: [] for name in [*ENGINES, *IMPORTS]}
    for _ in range(args.repeat):
        for name, code in IMPORTS.items():
            seconds, cpu_seconds = timed([sys.executable, "-c", code], dict(os.environ))
            parts[name].append({"wall_s": round(seconds, 3), "cpu_s": round(cpu_seconds, 3)})
        for name in ENGINES:
            command = [sys.executable, __file__, "--breakdown", str(specs[name])]
            out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            parts[name].append(json.loads(out))
    med = {k: {m: statistics.median(v[k]) for m, v in (("wall", wall), ("cpu", cpu), ("lab", lab))}
           for k in ENGINES}  # fmt: skip
    record = json.loads((runs_dir / "local-0" / "run.json").read_text("utf-8"))
    result = {
        "machine": machine(),
        "threading": f"num_threads={args.num_threads} per process or worker, "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}",
        "rows": {"train": record["dataset"]["train_rows"], "eval": record["dataset"]["eval_rows"]},
        "rounds": args.rounds,
        "runs": {k: {"wall_s": wall[k], "cpu_s": cpu[k], "duration_s": lab[k]} for k in ENGINES},
        "medians": {k: {m: round(v, 2) for m, v in med[k].items()} for k in ENGINES},
        "vs_local": {
            k: {m: f"x{med[k][m] / med['local'][m]:.2f}" for m in ("wall", "cpu", "lab")}
            for k in ENGINES
            if k != "local"
        },
        "eval_ndcg@10": {k: round(v, 5) for k, v in ndcg.items()},
        "breakdown_median": {k: _median_parts(v) for k, v in parts.items()},
        "load_avg_at_end": " ".join(f"{v:.1f}" for v in os.getloadavg()),
    }
    print(json.dumps(result, indent=2))
    (OUT / "bench_dask_train.json").write_text(json.dumps(result, indent=2) + "\n")


def _median_parts(samples: list[Any]) -> Any:
    """Medians of nested ``{"wall_s", "cpu_s"}`` timings across repetitions."""
    first = samples[0]
    if "wall_s" in first:
        return {m: round(statistics.median(s[m] for s in samples), 3) for m in first}
    return {key: _median_parts([s[key] for s in samples]) for key in first}


if __name__ == "__main__":
    main()
