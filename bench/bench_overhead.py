"""Tessera's overhead over the bare pipeline, and its start-up, measured in one run.

    uv run python bench/bench_compiled.py prepare --rows 300000,1000
    uv run python bench/bench_overhead.py setup            # register + compile both models
    uv run python bench/bench_overhead.py e2e --rows 300000 --reps 3
    uv run python bench/bench_overhead.py startup --reps 5
    uv run python bench/bench_overhead.py profile --model big --rows 300000
    uv run python bench/bench_overhead.py hash --model big --rows 2000000 --reps 2

``e2e``: per repetition and model, raw ``Booster.predict`` on the loaded matrix (in this
process), raw lleaves ``predict`` on it, then four subprocesses in a rotating order:
``tessera-serve score`` (compiled and lightgbm backends; guard, job row, provenance and
receipts all on) and ``bench/peer_pipeline.py`` (lleaves on the same cached object, and
LightGBM). CPU = user+sys of each child (GNU time), wall beside it; ratios are taken
within a repetition, medians over repetitions. Threads 2, OMP_WAIT_POLICY=passive.
Tessera reuses the input's hash by file identity after its first run; ``--input-hash-cache
off`` makes every Tessera run hash the input again (in idle time, finished after scoring).

``hash``: lleaves ``predict`` (2 threads) on the loaded matrix alone, beside a
normal-priority thread hashing the input file (the old side thread), and beside Tessera's
``InputHash`` (idle priority, finished by the caller after predict); rotating order.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

os.environ.setdefault("OMP_WAIT_POLICY", "passive")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_compiled import HOME, MODELS, OUT, _matrix, _serve, cmd_register

PEER = Path(__file__).resolve().parent / "peer_pipeline.py"
HASH_CACHE = ["on"]  # e2e --input-hash-cache


class Timed(NamedTuple):
    """One child process: wall and CPU (user+sys) seconds."""

    wall: float
    cpu: float


def _env() -> dict[str, str]:
    env = dict(os.environ, TESSERA_HOME=str(HOME), PYTHONPYCACHEPREFIX=str(OUT / "pycache"))
    env["TESSERA_INPUT_HASH_CACHE"] = HASH_CACHE[0]
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _timed(command: list[str]) -> Timed:
    """Run ``command`` under GNU time (the child's own CPU, not this process's)."""
    with tempfile.TemporaryDirectory() as tmp:
        usage = Path(tmp) / "usage"
        start = time.perf_counter()
        proc = subprocess.run(
            ["/usr/bin/time", "-f", "%U %S", "-o", str(usage), *command],
            capture_output=True, text=True, env=_env(), check=False,
        )  # fmt: skip
        wall = time.perf_counter() - start
        user, system = usage.read_text().split()[-2:]
    if proc.returncode != 0:
        raise SystemExit(f"{command[:3]} failed ({proc.returncode}): {proc.stderr[-1500:]}")
    return Timed(wall, float(user) + float(system))


def _objects() -> dict[str, str]:
    path = OUT / "overhead_objects.json"
    return dict(json.loads(path.read_text())) if path.exists() else {}


def cmd_setup(args: argparse.Namespace) -> None:
    """Register both models (once) and compile them into the serving cache."""
    if not (HOME / "registry.sqlite").exists() and not list(HOME.glob("*.db")):
        cmd_register(args)  # registers and promotes: e2e scores NAME, i.e. NAME@production
    objects = _objects()
    for name in args.models:
        served = _serve("compile", f"bench-{name}", "--json", threads=2)
        event = json.loads(served.stdout.splitlines()[-1])
        objects[name] = str(HOME / "compiled" / "objects" / f"{event['object_sha256']}.o")
        print(f"compiled {name}: cache={event.get('cache')} wall={served.wall:.1f}s", flush=True)
    (OUT / "overhead_objects.json").write_text(json.dumps(objects))


def _tessera(name: str, data: Path, backend: str, threads: int) -> Timed:
    return _timed(
        [
            str(Path(sys.executable).with_name("tessera-serve")), "score",
            "--model", f"bench-{name}", "--input", str(data),
            "--output", str(OUT / f"ovh_{name}_{backend}.parquet"),
            "--backend", backend, "--threads", str(threads),
        ]
    )  # fmt: skip


def _peer(name: str, data: Path, obj: str | None, threads: int) -> Timed:
    tag = "compiled" if obj else "lightgbm"
    command = [sys.executable, str(PEER), str(OUT / f"model_{name}.txt"), str(data),
               str(OUT / f"ovh_{name}_peer_{tag}.parquet"), "--threads", str(threads)]  # fmt: skip
    return _timed(command + (["--object", obj] if obj else []))


def _raw(name: str, matrix: Any, obj: str, threads: int, backends: list[str]) -> dict[str, Timed]:
    import lightgbm as lgb
    import lleaves

    got = {}
    if "lightgbm" in backends:
        booster = lgb.Booster(model_file=OUT / f"model_{name}.txt")
        start, cpu = time.perf_counter(), time.process_time()
        booster.predict(matrix, num_threads=threads)
        got["raw_lgb"] = Timed(time.perf_counter() - start, time.process_time() - cpu)
    model = lleaves.Model(model_file=str(OUT / f"model_{name}.txt"))
    model.compile(cache=obj)
    start, cpu = time.perf_counter(), time.process_time()
    model.predict(matrix, n_jobs=threads)
    got["raw_lleaves"] = Timed(time.perf_counter() - start, time.process_time() - cpu)
    return got


def cmd_e2e(args: argparse.Namespace) -> None:
    HASH_CACHE[0] = args.input_hash_cache
    data = OUT / f"candidates_{args.rows}.parquet"
    matrix = _matrix(data)
    objects = _objects()
    runs: dict[str, Any] = {
        "tessera_compiled": lambda n: _tessera(n, data, "compiled", args.threads),
        "peer_compiled": lambda n: _peer(n, data, objects[n], args.threads),
        "tessera_lightgbm": lambda n: _tessera(n, data, "lightgbm", args.threads),
        "peer_lightgbm": lambda n: _peer(n, data, None, args.threads),
    }
    runs = {k: v for k, v in runs.items() if k.endswith(tuple(args.backends))}
    rows: dict[str, list[dict[str, Timed]]] = {}
    for rep in range(args.reps):
        for name in args.models:
            got = _raw(name, matrix, objects[name], args.threads, args.backends)
            order = list(runs)[rep % len(runs) :] + list(runs)[: rep % len(runs)]
            for key in order:
                got[key] = runs[key](name)
            rows.setdefault(name, []).append(got)
            text = " ".join(f"{k}={v.wall:.2f}w/{v.cpu:.2f}c" for k, v in got.items())
            print(f"rep {rep} {name} load1={os.getloadavg()[0]:.1f} {text}", flush=True)
    for name, reps in rows.items():
        _summarise(name, reps, args)


def _ratio(reps: list[dict[str, Timed]], a: str, b: str, field: str) -> str:
    values = [getattr(r[a], field) / getattr(r[b], field) for r in reps]
    return f"{statistics.median(values):.3f} ({', '.join(f'{v:.2f}' for v in values)})"


def _summarise(name: str, reps: list[dict[str, Timed]], args: argparse.Namespace) -> None:
    med = {k: Timed(*(statistics.median(getattr(r[k], f) for r in reps) for f in Timed._fields))
           for k in reps[0]}  # fmt: skip
    print(f"MEDIAN {name} rows={args.rows} reps={len(reps)} threads={args.threads} "
          f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']} "
          f"input-hash-cache={args.input_hash_cache}")  # fmt: skip
    for key, value in med.items():
        print(f"  {key:18s} wall {value.wall:7.2f} s   cpu {value.cpu:7.2f} s")
    for a, b in (("tessera_compiled", "peer_compiled"), ("tessera_lightgbm", "peer_lightgbm"),
                 ("tessera_compiled", "raw_lgb"), ("tessera_lightgbm", "raw_lgb"),
                 ("peer_compiled", "raw_lleaves"), ("peer_lightgbm", "raw_lgb")):  # fmt: skip
        if a in reps[0] and b in reps[0]:
            cpu, wall = _ratio(reps, a, b, "cpu"), _ratio(reps, a, b, "wall")
            print(f"  {a} / {b}: cpu {cpu}  wall {wall}")
    print(flush=True)


def cmd_startup(args: argparse.Namespace) -> None:
    """`--help`, a 1,000-row compiled score and the peer on the same rows, interleaved."""
    serve = str(Path(sys.executable).with_name("tessera-serve"))
    data = OUT / "candidates_1000.parquet"
    objects = _objects()
    runs = {
        "python -c pass": lambda: _timed([sys.executable, "-c", "pass"]),
        "tessera-serve --help": lambda: _timed([serve, "--help"]),
        "tessera-serve score 1k compiled": lambda: _tessera(args.model, data, "compiled", 2),
        "peer 1k compiled": lambda: _peer(args.model, data, objects[args.model], 2),
    }
    got: dict[str, list[Timed]] = {k: [] for k in runs}
    for rep in range(args.reps):
        for key, run in runs.items():
            got[key].append(run())
        text = " ".join(f"[{k}] {v[-1].wall:.2f}w/{v[-1].cpu:.2f}c" for k, v in got.items())
        print(f"rep {rep} load1={os.getloadavg()[0]:.1f} {text}", flush=True)
    print(f"MODEL {args.model} threads=2 OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}")
    for key, values in got.items():
        wall = statistics.median(v.wall for v in values)
        cpu = statistics.median(v.cpu for v in values)
        print(f"MEDIAN {key:32s} wall {wall:.3f} s  cpu {cpu:.3f} s  (min wall "
              f"{min(v.wall for v in values):.3f} s)", flush=True)  # fmt: skip


_PROFILE = """
import cProfile, runpy, sys, time
out, serve = sys.argv[1], sys.argv[2]
sys.argv = [serve, *sys.argv[3:]]
profile = cProfile.Profile(time.process_time)  # CPU of every thread, charged to the caller
profile.enable()
try:
    runpy.run_path(serve, run_name="__main__")
except SystemExit:
    pass
profile.disable()
profile.dump_stats(out)
"""


def cmd_profile(args: argparse.Namespace) -> None:
    """CPU-time cProfile of one `tessera-serve score` into bench/out/profile_*.prof.

    The timer is the process CPU clock, so the predict threads' CPU is charged to the
    frame that waits for them and start-up, I/O and bookkeeping show as CPU, not waits.
    """
    data = OUT / f"candidates_{args.rows}.parquet"
    prof = OUT / f"profile_{args.model}_{args.backend}_{args.rows}.prof"
    serve = str(Path(sys.executable).with_name("tessera-serve"))
    command = [sys.executable, "-c", _PROFILE, str(prof), serve, "score",
               "--model", f"bench-{args.model}", "--input", str(data),
               "--output", str(OUT / "ovh_profile.parquet"), "--backend", args.backend,
               "--threads", "2"]  # fmt: skip
    timed = _timed(command)
    print(f"profiled: wall {timed.wall:.2f} s cpu {timed.cpu:.2f} s "
          f"load1={os.getloadavg()[0]:.1f} -> {prof}")  # fmt: skip
    import pstats

    stats = pstats.Stats(str(prof))
    stats.sort_stats("cumulative").print_stats(args.lines)


def _predict_beside(model: Any, matrix: Any, mode: str, path: Path) -> dict[str, float]:
    """One 2-thread predict, alone or beside a hash of ``path``; wall, process CPU, hash."""
    import threading

    from tessera_serving.scoring.input_hash import InputHash
    from tessera_serving.scoring.score_job import file_sha256

    side = threading.Thread(target=file_sha256, args=(path,))
    idle = None
    start, cpu = time.perf_counter(), time.process_time()
    if mode == "side thread":
        side.start()
    elif mode == "idle InputHash":
        idle = InputHash(path, None)
    model.predict(matrix, n_jobs=2)
    got = {"predict_wall": time.perf_counter() - start}
    if idle is not None:
        got["hashed_during_predict"] = idle._checkpoint[0] / path.stat().st_size
        finish = time.perf_counter()
        idle.result()
        got["finish_after_predict"] = time.perf_counter() - finish
    if mode == "side thread":
        side.join()
    got["total_wall"] = time.perf_counter() - start
    got["process_cpu"] = time.process_time() - cpu
    return got


def cmd_hash(args: argparse.Namespace) -> None:
    """Does hashing the input slow a 2-thread predict? Alone / side thread / idle InputHash."""
    import lleaves

    data = OUT / f"candidates_{args.rows}.parquet"
    matrix = _matrix(data)
    model = lleaves.Model(model_file=str(OUT / f"model_{args.model}.txt"))
    model.compile(cache=_objects()[args.model])
    modes = ["alone", "side thread", "idle InputHash"]
    got: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
    for rep in range(args.reps):
        for mode in modes[rep % 3 :] + modes[: rep % 3]:
            got[mode].append(_predict_beside(model, matrix, mode, data))
            text = " ".join(f"{k}={v:.3f}" for k, v in got[mode][-1].items())
            print(f"rep {rep} {mode:15s} load1={os.getloadavg()[0]:.1f} {text}", flush=True)
    print(f"MEDIAN {args.model} rows={args.rows} ({data.stat().st_size / 1e6:.0f} MB hashed) "
          f"threads=2 OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}")  # fmt: skip
    base = statistics.median(r["predict_wall"] for r in got["alone"])
    for mode, reps in got.items():
        med = {k: statistics.median(r[k] for r in reps) for k in reps[0]}
        text = " ".join(f"{k}={v:.3f}" for k, v in med.items())
        print(f"  {mode:15s} predict wall / alone {med['predict_wall'] / base:.3f}  {text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    setup = sub.add_parser("setup")
    setup.add_argument("--models", nargs="+", default=list(MODELS))
    setup.set_defaults(func=cmd_setup)
    e2e = sub.add_parser("e2e")
    e2e.add_argument("--models", nargs="+", default=["big", "small"])
    e2e.add_argument("--rows", type=int, default=300_000)
    e2e.add_argument("--reps", type=int, default=3)
    e2e.add_argument("--threads", type=int, default=2)
    e2e.add_argument("--input-hash-cache", choices=("on", "off"), default="on")
    e2e.add_argument("--backends", nargs="+", choices=("compiled", "lightgbm"),
                     default=["compiled", "lightgbm"])  # fmt: skip
    e2e.set_defaults(func=cmd_e2e)
    startup = sub.add_parser("startup")
    startup.add_argument("--reps", type=int, default=5)
    startup.add_argument("--model", default="big")
    startup.set_defaults(func=cmd_startup)
    prof = sub.add_parser("profile")
    prof.add_argument("--model", default="big")
    prof.add_argument("--rows", type=int, default=300_000)
    prof.add_argument("--backend", default="compiled")
    prof.add_argument("--lines", type=int, default=60)
    prof.set_defaults(func=cmd_profile)
    hashing = sub.add_parser("hash")
    hashing.add_argument("--model", default="big")
    hashing.add_argument("--rows", type=int, default=2_000_000)
    hashing.add_argument("--reps", type=int, default=2)
    hashing.set_defaults(func=cmd_hash)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
