"""lleaves compile options on one model: compile time and predict time per option, one run.

    uv run python bench/bench_lleaves_options.py compile [--model big]   # one subprocess each
    uv run python bench/bench_lleaves_options.py predict [--rows 200000 --reps 5]

Each variant compiles the serving-compatible model text (``backends.compat``), exactly what
``tessera-serve compile`` compiles, in its own process (a bad code model may crash LLVM);
compile wall and CPU come from that child. ``predict`` loads every object in one process
and times the variants round-robin on the same C-contiguous float64 matrix (threads 2,
OMP_WAIT_POLICY=passive), ratios against the serving default taken within each round.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numpy as np

OUT = Path(__file__).resolve().parent / "out"
OPTS_DIR = OUT / "lleaves_options"
BASE: dict[str, Any] = {"use_fp64": True, "raw_score": False}
VARIANTS: dict[str, dict[str, Any]] = {
    "default (block 34, large, inline)": {"fblocksize": 34, "fcodemodel": "large", "finline": True},
    "no inlining": {"fblocksize": 34, "fcodemodel": "large", "finline": False},
    "code model small": {"fblocksize": 34, "fcodemodel": "small", "finline": True},
    "block 100": {"fblocksize": 100, "fcodemodel": "large", "finline": True},
    "block 8": {"fblocksize": 8, "fcodemodel": "large", "finline": True},
    "block 16": {"fblocksize": 16, "fcodemodel": "large", "finline": True},
    "block 8, code model small": {"fblocksize": 8, "fcodemodel": "small", "finline": True},
}


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)[:40]


def _compatible_model(model: str) -> Path:
    from tessera_serving.backends.compat import lightgbm_compatible_text

    path = OPTS_DIR / f"model_{model}_compat.txt"
    path.write_text(lightgbm_compatible_text((OUT / f"model_{model}.txt").read_text()))
    return path


_CHILD = """
import json, sys, time, resource, lleaves
model_path, obj, opts = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
start = time.perf_counter()
lleaves.Model(model_file=model_path).compile(cache=obj, **opts)
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"wall": time.perf_counter() - start, "cpu": usage.ru_utime + usage.ru_stime}))
"""


def cmd_compile(args: argparse.Namespace) -> None:
    OPTS_DIR.mkdir(parents=True, exist_ok=True)
    model_path = _compatible_model(args.model)
    for name, opts in VARIANTS.items():
        obj = OPTS_DIR / f"{args.model}_{_slug(name)}.o"
        if args.only and name not in args.only:
            continue
        if obj.exists():
            print(f"compile {name!r}: exists, skipped", flush=True)
            continue
        tmp = obj.with_suffix(".tmp.o")
        tmp.unlink(missing_ok=True)
        load = os.getloadavg()[0]
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, str(model_path), str(tmp), json.dumps({**BASE, **opts})],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            print(f"compile {name!r}: FAILED rc={proc.returncode} {proc.stderr[-300:]}")
            continue
        tmp.replace(obj)
        result = json.loads(proc.stdout.splitlines()[-1])
        record = {"variant": name, **result, "load1": load, "bytes": obj.stat().st_size}
        (obj.with_suffix(".json")).write_text(json.dumps(record))
        print(
            f"compile {name!r}: wall {result['wall']:.1f}s cpu {result['cpu']:.1f}s "
            f"object {obj.stat().st_size / 1e6:.2f} MB load1 {load:.1f}",
            flush=True,
        )


def _matrix(rows: int) -> np.ndarray:
    import pyarrow.parquet as pq

    from bench_compiled import FEATURES  # type: ignore[import-not-found]

    path = next(p for p in sorted(OUT.glob("candidates_*.parquet")) if int(p.stem[11:]) >= rows)
    table = pq.read_table(path, columns=FEATURES).slice(0, rows)
    out = np.empty((rows, len(FEATURES)), dtype=np.float64)
    for j, name in enumerate(FEATURES):
        out[:, j] = table.column(name).to_numpy()
    return out


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cmd_predict(args: argparse.Namespace) -> None:
    import lightgbm as lgb
    import lleaves

    model_path = _compatible_model(args.model)
    matrix = _matrix(args.rows)
    reference = lgb.Booster(model_file=OUT / f"model_{args.model}.txt").predict(matrix)
    models: dict[str, Any] = {}
    for name, opts in VARIANTS.items():
        obj = OPTS_DIR / f"{args.model}_{_slug(name)}.o"
        if obj.exists():
            model = lleaves.Model(model_file=str(model_path))
            model.compile(cache=str(obj), **BASE, **opts)
            diff = float(np.max(np.abs(model.predict(matrix, n_jobs=2) - reference)))
            print(f"loaded {name!r}: max abs diff vs LightGBM {diff:.2e}", flush=True)
            models[name] = model
    default = next(iter(VARIANTS))
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in models}
    ratios: dict[str, list[float]] = {name: [] for name in models}
    for rep in range(args.reps):
        for name, model in models.items():
            start, cpu = time.perf_counter(), _cpu()
            model.predict(matrix, n_jobs=args.threads)
            times[name].append((time.perf_counter() - start, _cpu() - cpu))
        for name in models:
            ratios[name].append(times[name][-1][1] / times[default][-1][1])
        print(f"rep {rep} load1 {os.getloadavg()[0]:.1f}", flush=True)
    for name in models:
        meta = json.loads((OPTS_DIR / f"{args.model}_{_slug(name)}.json").read_text())
        print(
            f"RESULT {name!r} rows={args.rows} threads={args.threads} "
            f"predict_wall_med={statistics.median(t[0] for t in times[name]):.3f}s "
            f"predict_cpu_med={statistics.median(t[1] for t in times[name]):.3f}s "
            f"cpu_ratio_vs_default={statistics.median(ratios[name]):.3f} "
            f"per_rep={[round(r, 3) for r in ratios[name]]} "
            f"compile_wall={meta['wall']:.1f}s compile_cpu={meta['cpu']:.1f}s "
            f"object_mb={meta['bytes'] / 1e6:.2f} OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}",
            flush=True,
        )


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    comp = sub.add_parser("compile")
    comp.add_argument("--model", default="big")
    comp.add_argument("--only", nargs="*", default=[], help="variant names to compile")
    comp.set_defaults(func=cmd_compile)
    pred = sub.add_parser("predict")
    pred.add_argument("--model", default="big")
    pred.add_argument("--rows", type=int, default=200_000)
    pred.add_argument("--reps", type=int, default=5)
    pred.add_argument("--threads", type=int, default=2)
    pred.set_defaults(func=cmd_predict)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
