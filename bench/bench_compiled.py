"""Fast scoring benchmark: compiled vs LightGBM backends, end to end vs raw Booster.predict.

    uv run python bench/bench_compiled.py prepare          # data + models into bench/out/
    uv run python bench/bench_compiled.py compile          # compile time and cache-hit time
    uv run python bench/bench_compiled.py e2e --reps 3     # ratios, same model, rows and run
    uv run python bench/bench_compiled.py memory           # peak RSS at 1M, 5M, 10M rows

Every line of output states threads and OMP_WAIT_POLICY. The machine is shared: each
repetition measures raw predict and both end-to-end pipelines back to back, ratios are
taken within a repetition, and medians over repetitions are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # before lightgbm loads (PERF-NOTES)

import lightgbm as lgb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

OUT = Path(__file__).resolve().parent / "out"
N_FEATURES = 40
FEATURES = [f"f{i:02d}" for i in range(N_FEATURES)]
MODELS = {"small": (100, 31), "big": (500, 63)}
ROW_GROUP = 131_072


def _env_line(threads: int) -> str:
    return f"threads={threads} OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}"


def _features(rng: np.random.Generator, rows: int) -> np.ndarray:
    x = rng.normal(size=(rows, N_FEATURES))
    x[rng.random(x.shape) < 0.05] = np.nan
    return x


def _labels(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    z = np.nan_to_num(x)
    signal = z[:, 0] + 0.5 * z[:, 1] * z[:, 2] - 0.3 * np.abs(z[:, 3]) + 0.2 * z[:, 4:10].sum(1)
    noisy = signal + rng.normal(scale=0.7, size=len(z))
    labels: np.ndarray = np.digitize(noisy, [0.0, 1.0, 2.0]).astype(np.int32)
    return labels


def write_candidates(path: Path, rows: int, seed: int) -> None:
    """A zstd Parquet file of ``rows`` candidates (20 per query) carrying its feature schema."""
    rng = np.random.default_rng(seed)
    meta: dict[bytes | str, bytes | str] = {
        "tessera.feature_schema": json.dumps({"bench": FEATURES})
    }
    names = ["query_id", "candidate_id", "base_score", *FEATURES]
    types: list[pa.DataType] = [pa.int64(), pa.int64()] + [pa.float64()] * (N_FEATURES + 1)
    schema = pa.schema([pa.field(n, t) for n, t in zip(names, types, strict=True)])
    schema = schema.with_metadata(meta)
    tmp = path.with_suffix(".tmp")
    with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
        for start in range(0, rows, ROW_GROUP):
            n = min(ROW_GROUP, rows - start)
            ids = np.arange(start, start + n, dtype=np.int64)
            x = _features(rng, n)
            cols = [pa.array(ids // 20), pa.array(ids), pa.array(rng.normal(size=n))]
            cols += [pa.array(x[:, j]) for j in range(N_FEATURES)]
            writer.write_table(pa.Table.from_arrays(cols, schema=schema), row_group_size=n)
    tmp.replace(path)


def train_model(name: str, trees: int, leaves: int) -> Path:
    """A lambdarank booster on 200k synthetic rows (2 threads, passive OpenMP wait)."""
    rng = np.random.default_rng(7)
    x = _features(rng, 200_000)
    y = _labels(rng, x)
    params = {
        "objective": "lambdarank",
        "num_leaves": leaves,
        "learning_rate": 0.05,
        "min_data_in_leaf": 20,
        "num_threads": 2,
        "seed": 7,
        "deterministic": True,
        "verbose": -1,
    }
    data = lgb.Dataset(x, y, group=[20] * 10_000, feature_name=FEATURES)
    booster = lgb.train(params, data, num_boost_round=trees)
    path = OUT / f"model_{name}.txt"
    booster.save_model(path)
    return path


def cmd_prepare(args: argparse.Namespace) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, (trees, leaves) in MODELS.items():
        path = OUT / f"model_{name}.txt"
        if not path.exists():
            start = time.perf_counter()
            train_model(name, trees, leaves)
            print(f"trained {name}: {trees}x{leaves} in {time.perf_counter() - start:.1f}s")
    for rows in args.rows:
        path = OUT / f"candidates_{rows}.parquet"
        if not path.exists():
            start = time.perf_counter()
            write_candidates(path, rows, seed=rows)
            size = path.stat().st_size / 1e6
            print(f"wrote {path.name}: {size:.0f} MB in {time.perf_counter() - start:.1f}s")


HOME = OUT / "home"
SERVE = Path(sys.executable).with_name("tessera-serve")


class Served(NamedTuple):
    """One ``tessera-serve`` run: wall and CPU (user+sys) seconds, output, peak RSS."""

    wall: float
    cpu: float
    stdout: str
    stderr: str
    peak_kib: int


def _serve(*args: object, threads: int | None = None) -> Served:
    """Run ``tessera-serve`` against the bench home and measure it.

    The peak RSS comes from GNU time: a child forked straight from this (large) process
    would report this process's RSS as its own high-water mark. Bytecode is cached under
    bench/out/pycache (this machine sets PYTHONDONTWRITEBYTECODE, which makes every
    process recompile ~2,000 modules, ~6 s), as an installed image would have it.
    """
    env = dict(os.environ, TESSERA_HOME=str(HOME), PYTHONPYCACHEPREFIX=str(OUT / "pycache"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if threads is not None:
        env["TESSERA_NUM_THREADS"] = str(threads)
    with tempfile.TemporaryDirectory() as tmp:
        peak_file = Path(tmp) / "peak"
        command = ["/usr/bin/time", "-f", "%M %U %S", "-o", str(peak_file), str(SERVE)]
        start = time.perf_counter()
        proc = subprocess.run(
            [*command, *map(str, args)], capture_output=True, text=True, env=env, check=False
        )
        elapsed = time.perf_counter() - start
        peak, user, system = peak_file.read_text().split()[-3:]
    if proc.returncode != 0:
        raise SystemExit(
            f"tessera-serve {args[0]} failed ({proc.returncode}): {proc.stderr[-2000:]}"
        )
    return Served(elapsed, float(user) + float(system), proc.stdout, proc.stderr, int(peak))


def _write_run(name: str, model_path: Path) -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "packages" / "serving" / "tests"))
    from runs_factory import (  # type: ignore[import-not-found]  # serving tests' run writer
        make_record,
        spec_yaml_text,
    )

    from tessera_contracts import to_json_text

    text = model_path.read_text()
    schema = {"bench": FEATURES}
    trees = sum(1 for line in text.splitlines() if line.startswith("Tree="))
    seed = int(re.search(r"^\[seed: (\d+)\]$", text, re.MULTILINE)[1])  # type: ignore[index]
    record = make_record(name, text, feature_schema=schema, feature_names=FEATURES,
                         num_trees=trees, seed=seed)  # fmt: skip
    run_dir = OUT / "runs" / name
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "model.txt").write_text(text)
    spec = spec_yaml_text(name, schema, "lambdarank", seed=seed, num_boost_round=trees)
    (run_dir / "spec.yaml").write_text(spec)
    (run_dir / "run.json").write_text(to_json_text(record))
    return run_dir


def cmd_register(args: argparse.Namespace) -> None:
    _serve("db", "upgrade")
    for name in MODELS:
        run_dir = _write_run(f"bench-{name}", OUT / f"model_{name}.txt")
        _serve("register", run_dir, "--allow-unknown-schema")
        _serve("promote", f"bench-{name}", "--reason", "benchmark model")
        print(f"registered and promoted bench-{name}")


def cmd_compile(args: argparse.Namespace) -> None:
    """Compile time (cold cache) and cache-hit time, each as `tessera-serve compile`."""
    threads = args.threads
    for name in args.models:
        for attempt in ("first", "again"):
            served = _serve("compile", f"bench-{name}", "--json", threads=threads)
            (event,) = [json.loads(line) for line in served.stdout.splitlines()]
            wall = served.wall
            print(
                f"compile {name} {attempt}: cache={event.get('cache')} "
                f"compile_s={event.get('compile_seconds')} load_s={event.get('load_seconds')} "
                f"max_abs_diff={event.get('max_abs_diff')} cli_wall_s={wall:.2f} "
                f"{_env_line(threads)}",
                flush=True,
            )


def _matrix(path: Path) -> np.ndarray:
    table = pq.read_table(path, columns=FEATURES)
    out = np.empty((table.num_rows, N_FEATURES), dtype=np.float64)
    for j, name in enumerate(FEATURES):
        out[:, j] = table.column(name).to_numpy()
    return out


def cmd_e2e(args: argparse.Namespace) -> None:
    """Per repetition: raw Booster.predict, then e2e compiled, then e2e lightgbm; ratios."""
    threads = args.threads
    data = OUT / f"candidates_{args.rows}.parquet"
    matrix = _matrix(data)
    results: dict[str, list[dict[str, float]]] = {}
    for rep in range(args.reps):
        for name in args.models:
            booster = lgb.Booster(model_file=OUT / f"model_{name}.txt")
            start, cpu_start = time.perf_counter(), time.process_time()
            booster.predict(matrix, num_threads=threads)
            raw, raw_cpu = time.perf_counter() - start, time.process_time() - cpu_start
            row: dict[str, float] = {"raw": raw, "raw_cpu": raw_cpu}
            for backend in ("compiled", "lightgbm"):
                served = _serve(
                    "score", "--model", f"bench-{name}@none", "--input", data,
                    "--output", OUT / f"scores_{name}_{backend}.parquet",
                    "--backend", backend, "--threads", threads,
                )  # fmt: skip
                row[backend] = served.wall
                row[f"{backend}_ratio"] = served.wall / raw
                row[f"{backend}_cpu_ratio"] = served.cpu / raw_cpu
                row[f"{backend}_peak_gb"] = served.peak_kib / 1e6
            results.setdefault(name, []).append(row)
            print(
                f"rep {rep} {name} rows={args.rows} raw_predict_s={raw:.2f} "
                f"e2e_compiled_s={row['compiled']:.2f} ({row['compiled_ratio']:.3f}x) "
                f"e2e_lightgbm_s={row['lightgbm']:.2f} ({row['lightgbm_ratio']:.3f}x) "
                f"cpu_ratio compiled={row['compiled_cpu_ratio']:.3f} "
                f"lightgbm={row['lightgbm_cpu_ratio']:.3f} {_env_line(threads)}",
                flush=True,
            )
    for name, rows in results.items():
        med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
        print(
            f"MEDIAN {name} rows={args.rows} reps={len(rows)} raw_predict_s={med['raw']:.2f} "
            f"e2e_compiled_s={med['compiled']:.2f} ratio={med['compiled_ratio']:.3f} "
            f"e2e_lightgbm_s={med['lightgbm']:.2f} ratio={med['lightgbm_ratio']:.3f} "
            f"cpu_ratio compiled={med['compiled_cpu_ratio']:.3f} "
            f"lightgbm={med['lightgbm_cpu_ratio']:.3f} "
            f"peak_rss_gb compiled={med['compiled_peak_gb']:.2f} "
            f"lightgbm={med['lightgbm_peak_gb']:.2f} {_env_line(threads)}",
            flush=True,
        )


def cmd_memory(args: argparse.Namespace) -> None:
    """Peak RSS of `tessera-serve score` (compiled) for each input size."""
    for rows in args.rows:
        data = OUT / f"candidates_{rows}.parquet"
        served = _serve(
            "score", "--model", f"bench-{args.model}@none", "--input", data,
            "--output", OUT / "scores_memory.parquet", "--backend", args.backend,
            "--threads", args.threads,
        )  # fmt: skip
        print(
            f"memory {args.model} backend={args.backend} rows={rows} "
            f"peak_rss_gb={served.peak_kib / 1e6:.2f} wall_s={served.wall:.2f} "
            f"{_env_line(args.threads)}",
            flush=True,
        )


def _rows_list(text: str) -> list[int]:
    return [int(float(v)) for v in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    prep = sub.add_parser("prepare")
    prep.add_argument("--rows", type=_rows_list, default=[2_000_000, 1_000_000])
    prep.set_defaults(func=cmd_prepare)
    sub.add_parser("register").set_defaults(func=cmd_register)
    comp = sub.add_parser("compile")
    comp.add_argument("--models", nargs="+", default=list(MODELS))
    comp.add_argument("--threads", type=int, default=2)
    comp.set_defaults(func=cmd_compile)
    e2e = sub.add_parser("e2e")
    e2e.add_argument("--models", nargs="+", default=list(MODELS))
    e2e.add_argument("--rows", type=int, default=2_000_000)
    e2e.add_argument("--reps", type=int, default=3)
    e2e.add_argument("--threads", type=int, default=2)
    e2e.set_defaults(func=cmd_e2e)
    mem = sub.add_parser("memory")
    mem.add_argument("--rows", type=_rows_list, default=[1_000_000, 5_000_000, 10_000_000])
    mem.add_argument("--model", default="big")
    mem.add_argument("--backend", default="compiled")
    mem.add_argument("--threads", type=int, default=2)
    mem.set_defaults(func=cmd_memory)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
