"""Partitioned scoring for bench_scale.py ``--only partitioned`` (issue 14's measurement).

8 partitions of ``--rows`` rows (and 8 of ``--rows // 2``, for a second point of the model),
the bench_score "small" model (100 trees x 31 leaves, 40 features), LightGBM backend, one
thread per worker and ``OMP_WAIT_POLICY=passive``, no ``--store``. Per size and repeat, in an
order rotated every repeat: the single-process CLI on the concatenated file (the baseline),
``--dask local --workers 1`` and ``--workers 2`` (and with ``--pool`` the local process pool,
2 workers). Each run is one ``tessera-serve score`` process; CPU is it and its children.
Prints a table (median wall, CPU, rows/s, ratio to the single CLI of the same size) and the
least-squares fit of ``time = fixed + rows / (workers x rate)`` over the Dask runs, in wall
and in CPU seconds, with each run's residual. Data (the concatenated files and the
partitions) and the model are made once and kept in bench/out.

    OMP_WAIT_POLICY=passive uv run python bench/bench_scale.py --only partitioned \\
        --rows 1000000 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

import bench_score as bs

PARTS = 8
CLI_FLAGS = ("--model", "bench", "--backend", "lightgbm", "--threads", "1", "--json")


def prepared_partitions(rows: int, home: Path) -> tuple[Path, Path]:
    """8 partitions of ``rows`` rows (whole 100-row queries) and their concatenation, cached:
    made in a temporary directory renamed into place, so an interrupted run leaves none."""
    whole = bs.make_input(rows * PARTS)
    parts = home / f"parts-{rows}"
    if not parts.is_dir():
        assert rows % 100 == 0, "rows per partition must be a multiple of the 100-row queries"
        tmp = home / f".parts-{rows}-{uuid.uuid4().hex[:6]}"
        tmp.mkdir(parents=True)
        source = pq.ParquetFile(whole)
        table = source.read()
        for k in range(PARTS):
            pq.write_table(
                table.slice(k * rows, rows),
                tmp / f"part-{k}.parquet",
                compression="zstd",
                row_group_size=bs.ROW_GROUP,
            )
        del table
        tmp.rename(parts)
    return parts, whole


def _configs(pool: bool) -> list[tuple[str, int]]:
    configs = [("single CLI", 1), ("dask local", 1), ("dask local", 2)]
    return [*configs, ("pool", 2)] if pool else configs


def _one_run(
    cli: Callable[..., tuple[float, float, dict[str, Any]]],
    env: dict[str, str],
    home: Path,
    how: str,
    workers: int,
    rows: int,
) -> dict[str, Any]:
    parts, whole = prepared_partitions(rows, home)
    if how == "single CLI":
        out = home / f"single-{rows}.parquet"
        wall, cpu, _ = cli(env, "score", "--input", str(whole), "--output", str(out), *CLI_FLAGS)
        out.unlink()
    else:
        out = home / f"out-{rows}-{workers}-{uuid.uuid4().hex[:6]}"
        out.mkdir()
        where = ("--dask", "local") if how == "dask local" else ()
        wall, cpu, summary = cli(
            env, "score", "--input", str(parts), "--output", str(out), *CLI_FLAGS,
            *where, "--workers", str(workers),
        )  # fmt: skip
        assert summary["counts"]["committed"] == PARTS, summary
        shutil.rmtree(out)
    return {"how": how, "workers": workers, "rows": PARTS * rows, "wall": wall, "cpu": cpu}


def fit(runs: list[dict[str, Any]], key: str, per_worker: bool = True) -> dict[str, Any]:
    """Least squares of ``key`` = fixed + rows / (workers x rate) (CPU: rows / rate, since
    CPU seconds add up over workers); the residual of each run."""
    a = np.array([[1.0, r["rows"] / (r["workers"] if per_worker else 1)] for r in runs])
    b = np.array([r[key] for r in runs])
    (fixed, per_row), *_ = np.linalg.lstsq(a, b, rcond=None)
    residuals = (b - a @ np.array([fixed, per_row])).round(2).tolist()
    rate = 1 / per_row if per_row > 0 else float("nan")
    return {"fixed_s": float(fixed), "rate_rows_per_s_per_worker": rate, "residuals_s": residuals}


def _survey_seconds(rows: int, home: Path) -> float:
    """The coordinator's split-query check alone, on this layout (footer ranges first)."""
    from tessera_serving.scoring.partitioned import list_partitions
    from tessera_serving.scoring.query_spans import find_split_queries

    parts, _ = prepared_partitions(rows, home)
    find_split_queries(list_partitions(str(parts)))  # warm: imports and the OS file cache
    t0 = time.perf_counter()
    assert find_split_queries(list_partitions(str(parts))).count == 0
    return time.perf_counter() - t0


def _table(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Median per (how, workers, rows), with ratios to the single CLI of the same rows."""
    order = _configs(True)
    keys = sorted(
        {(r["rows"], r["how"], r["workers"]) for r in runs},
        key=lambda k: (k[0], order.index((k[1], k[2]))),
    )
    rows_out = []
    for rows, how, workers in keys:
        mine = [r for r in runs if (r["rows"], r["how"], r["workers"]) == (rows, how, workers)]
        base = [r for r in runs if (r["rows"], r["how"]) == (rows, "single CLI")]
        wall = statistics.median(r["wall"] for r in mine)
        cpu = statistics.median(r["cpu"] for r in mine)
        rows_out.append({
            "how": how, "workers": workers, "rows": rows, "wall_s": wall, "cpu_s": cpu,
            "rows_per_s": rows / wall,
            "wall_vs_single": wall / statistics.median(r["wall"] for r in base),
            "cpu_vs_single": cpu / statistics.median(r["cpu"] for r in base),
        })  # fmt: skip
    return rows_out


def _print(report: dict[str, Any]) -> None:
    print(f"\npartitioned scoring: {report['policy']}; load {report['load_before']} -> "
          f"{report['load_after']}")  # fmt: skip
    print(f"{'how':<12}{'workers':>8}{'rows':>11}{'wall s':>9}{'CPU s':>8}{'rows/s':>10}"
          f"{'wall/single':>13}{'CPU/single':>12}")  # fmt: skip
    for t in report["table"]:
        print(f"{t['how']:<12}{t['workers']:>8}{t['rows']:>11,}{t['wall_s']:>9.2f}"
              f"{t['cpu_s']:>8.2f}{t['rows_per_s']:>10,.0f}{t['wall_vs_single']:>13.2f}"
              f"{t['cpu_vs_single']:>12.2f}")  # fmt: skip
    for key, f in report["fit"].items():
        per = "workers x " if key == "wall" else ""
        rate = f["rate_rows_per_s_per_worker"]
        shown = f"{rate:,.0f} rows/s" if rate == rate else "n/a: slope <= 0, noise dominates"
        print(f"fit ({key}, Dask runs): {key} = {f['fixed_s']:.2f} s + rows / ({per}"
              f"{shown}); residuals {f['residuals_s']}")  # fmt: skip
    print(f"split-query check alone (s, by rows per partition): {report['survey_s']}\n")


def partitioned(args: argparse.Namespace, out: Path, cli: Callable[..., Any]) -> dict[str, Any]:
    """The measurement (module docstring); returns the report also written beside the data."""
    home = out / "partitioned"
    registry = bs.open_bench_registry(home / "home", {"small": bs.train("small")})
    registry.close()
    env = {**os.environ, "TESSERA_HOME": str(home / "home"), "OMP_WAIT_POLICY": "passive"}
    sizes = [args.rows // 2, args.rows]
    for rows in sizes:  # data first, outside every timing
        prepared_partitions(rows, home)
    report: dict[str, Any] = {
        "policy": "LightGBM, 1 thread per process/worker, OMP_WAIT_POLICY=passive, "
        f"{os.cpu_count()} CPUs",
        "load_before": [round(x, 2) for x in os.getloadavg()],
    }
    configs, runs = _configs(args.pool), []
    for repeat in range(args.repeats):
        order = configs[repeat % len(configs) :] + configs[: repeat % len(configs)]
        for rows in sizes:
            for how, workers in order:
                runs.append(_one_run(cli, env, home, how, workers, rows) | {"repeat": repeat})
    dask_runs = [r for r in runs if r["how"] == "dask local"]
    report |= {
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "runs": runs,
        "table": _table(runs),
        "fit": {"wall": fit(dask_runs, "wall"), "cpu": fit(dask_runs, "cpu", per_worker=False)},
        "survey_s": {rows: round(_survey_seconds(rows, home), 4) for rows in sizes},
    }
    _print(report)
    return report
