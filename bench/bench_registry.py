"""Benchmark registration latency per run and how ``verify`` scales with the number of rows.

Same run, same artifacts, against the obvious baseline: registering a run (parse and check
the three files, load the booster's feature names, store it, one insert transaction) vs.
just reading and sha256-hashing its ``model.txt``; ``verify`` over 10 / 1,000 / 10,000
model rows (inserted directly with the ORM, each with its own artifact) vs. reading and
hashing those same artifact files. Everything goes to bench/out/registry/ (gitignored).

    OMP_WAIT_POLICY=passive uv run python bench/bench_registry.py [--database-url URL]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "passive")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "packages" / "serving" / "tests"))

import runs_factory  # noqa: E402

from tessera_serving.config import ServingConfig  # noqa: E402
from tessera_serving.registry import (  # noqa: E402
    Registry,
    RerankerModel,
    create_registry_engine,
    open_registry,
    upgrade,
)
from tessera_serving.registry.register import register_runs  # noqa: E402
from tessera_serving.registry.rundir import load_run_dir  # noqa: E402
from tessera_serving.registry.verify import verify_registry  # noqa: E402

OUT = ROOT / "bench" / "out" / "registry"
SCHEMA = {f"fam{i}": [f"f{i}_{j}" for j in range(10)] for i in range(4)}  # 40 features


def _fresh(config: ServingConfig) -> Registry:
    engine = create_registry_engine(config.database_url, create_dir=True)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return open_registry(config)


def _hash_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def bench_register(work: Path, config: ServingConfig, runs: int, trees: int) -> dict[str, Any]:
    run_dirs = [
        runs_factory.write_run_dir(
            work / "runs", f"bench-{i}", feature_schema=SCHEMA, seed=i, num_trees=trees, rows=2000
        )
        for i in range(runs)
    ]
    model_bytes = (run_dirs[0] / "model.txt").stat().st_size
    baseline, check, register = [], [], []
    with _fresh(config) as registry:
        for run_dir in run_dirs:
            t0 = time.perf_counter()
            _hash_file(run_dir / "model.txt")
            t1 = time.perf_counter()
            load_run_dir(run_dir)
            t2 = time.perf_counter()
            [result] = register_runs(registry, [run_dir], allow_unknown_schema=True)
            t3 = time.perf_counter()
            assert result.created
            baseline.append(t1 - t0)
            check.append(t2 - t1)
            register.append(t3 - t2)
        again = []
        for run_dir in run_dirs:
            t0 = time.perf_counter()
            [result] = register_runs(registry, [run_dir], allow_unknown_schema=True)
            again.append(time.perf_counter() - t0)
            assert not result.created
    med = statistics.median
    return {
        "runs": runs,
        "trees": trees,
        "features": 40,
        "model_bytes": model_bytes,
        "register_median_s": med(register),
        "check_only_median_s": med(check),
        "reregister_median_s": med(again),
        "baseline_sha256_median_s": med(baseline),
        "ratio_register_vs_sha256": med(register) / med(baseline),
    }


def _fill(registry: Registry, template: RerankerModel, rows: int, blob: bytes) -> list[Path]:
    """``rows`` model rows, each with its own stored artifact (the blob plus a unique line)."""
    store = registry.store
    paths = []
    fields = {c.key: getattr(template, c.key) for c in RerankerModel.__table__.columns}
    fields.pop("id")
    with registry.transaction() as session:
        for i in range(rows):
            data = blob + f"\n# bench copy {i}\n".encode()
            sha = store.put_bytes(data)
            paths.append(Path(store.uri(sha).removeprefix("file://")))
            row = dict(fields, name=f"scale-{i // 3}", version=1, cell_key=f"c{i % 3}")
            row.update(run_sha256=hashlib.sha256(f"run {i}".encode()).hexdigest())
            row.update(artifact_sha256=sha, artifact_uri=store.uri(sha))
            session.add(RerankerModel(**row))
    return paths


def bench_verify(work: Path, url_for: Any, sizes: list[int], repeats: int) -> list[dict[str, Any]]:
    template_dir = runs_factory.write_run_dir(
        work / "tpl", "tpl", feature_schema=SCHEMA, num_trees=20
    )
    results = []
    for size in sizes:
        config = ServingConfig.from_env(
            state_dir=work / f"v{size}",
            database_url=url_for(size),
            artifacts_url=str(work / f"a{size}"),
        )
        with _fresh(config) as registry:
            [result] = register_runs(registry, [template_dir], allow_unknown_schema=True)
            with registry.transaction() as session:
                template = session.get(RerankerModel, result.rows[0].id)
                assert template is not None
                session.expunge(template)
            blob = (template_dir / "model.txt").read_bytes()
            paths = _fill(registry, template, size - 1, blob)
            paths.append(
                Path(registry.store.uri(result.rows[0].artifact_sha256).removeprefix("file://"))
            )
            verify_times, hash_times = [], []
            for _ in range(repeats):
                t0 = time.perf_counter()
                for path in paths:
                    _hash_file(path)
                t1 = time.perf_counter()
                report = verify_registry(registry)
                t2 = time.perf_counter()
                assert report.ok and report.rows == size, report.violations[:3]
                hash_times.append(t1 - t0)
                verify_times.append(t2 - t1)
        med = statistics.median
        results.append(
            {
                "rows": size,
                "artifact_bytes": len(blob),
                "verify_median_s": med(verify_times),
                "baseline_sha256_median_s": med(hash_times),
                "ratio_verify_vs_sha256": med(verify_times) / med(hash_times),
                "verify_us_per_row": 1e6 * med(verify_times) / size,
            }
        )
        print(json.dumps(results[-1]), flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs to register (median over them)")
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--sizes", default="10,1000,10000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--database-url", help="default: a fresh SQLite file per measurement")
    args = parser.parse_args()
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)

    def url_for(tag: object) -> str:
        return args.database_url or f"sqlite:///{OUT / f'registry-{tag}.db'}"

    config = ServingConfig.from_env(
        state_dir=OUT, database_url=url_for("reg"), artifacts_url=str(OUT / "art")
    )
    registration = bench_register(OUT, config, args.runs, args.trees)
    print(json.dumps(registration), flush=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    verify = bench_verify(OUT, url_for, sizes, args.repeats)
    result = {
        "machine": f"{platform.machine()} {os.cpu_count()} CPU, Python {platform.python_version()}",
        "database": "sqlite file"
        if args.database_url is None
        else args.database_url.split("://")[0],
        "registration": registration,
        "verify": verify,
    }
    (OUT / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
