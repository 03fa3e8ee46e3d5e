"""Benchmark: what recording the training curve costs when the lab early-stops.

With a validation set, ``fit_cell(train_curve=True)`` also evaluates the early-stopping
metric on the training rows every round (for the learning curve in the report). This
times the same cell with and without it, in one process, alternating, on a synthetic
dataset of ``--rows`` rows (default 200,000): wall clock and process CPU time, medians,
and the per-pair ratios. Early stopping's patience exceeds the rounds, so both sides run
every round and build the same trees.

    OMP_WAIT_POLICY=passive uv run python bench/bench_train_curve.py [--rows N] [--repeat K]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time
from pathlib import Path

import yaml

OUT = Path(__file__).resolve().parent / "out"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")

    from tessera_lab.booster import fit_cell
    from tessera_lab.dataset import open_dataset, synth_dataset
    from tessera_lab.features import feature_names, select_feature_schema
    from tessera_lab.protocol import build_cells, read_rows
    from tessera_lab.spec import load_spec

    data = OUT / f"synth-{args.rows}"
    if not (data / "manifest.json").is_file():
        shutil.rmtree(data, ignore_errors=True)
        synth_dataset(data, rows=args.rows, seed=0, label_kind="graded")
    dataset = open_dataset(data)
    spec_path = OUT / "train-curve.yaml"
    spec_path.write_text(
        yaml.safe_dump({
            "dataset": str(data), "feature_families": sorted(dataset.manifest.feature_schema),
            "params": {"learning_rate": 0.1, "num_leaves": 63, "min_data_in_leaf": 50},
            "num_boost_round": args.rounds,
            "early_stopping": {"rounds": args.rounds + 1, "metric": "ndcg@10"},
            "license": {"id": "MIT", "url": "https://opensource.org/license/mit"},
        }),
        encoding="utf-8",
    )  # fmt: skip
    spec = load_spec(spec_path)
    names = feature_names(select_feature_schema(dataset.manifest, spec.feature_families, "b"))
    train = read_rows(dataset, "train", spec, names)
    [cell] = build_cells(train, read_rows(dataset, "eval", spec, names), spec, smoke=False,
                         where="bench")  # fmt: skip
    print(f"train {cell.train.n} rows, valid {cell.valid.n if cell.valid else 0} rows, "
          f"{args.rounds} rounds, load {os.getloadavg()[0]:.1f}")  # fmt: skip
    times: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    for _ in range(args.repeat):
        for curve in (False, True):
            wall, cpu = time.perf_counter(), time.process_time()
            fit = fit_cell(cell, names, spec, train_curve=curve)
            times[curve].append((time.perf_counter() - wall, time.process_time() - cpu))
            assert fit.rounds == args.rounds
    for curve, label in ((False, "valid only"), (True, "valid + train curve")):
        wall = statistics.median(t[0] for t in times[curve])
        cpu = statistics.median(t[1] for t in times[curve])
        print(f"{label:>20}: wall {wall:6.2f} s  cpu {cpu:6.2f} s")
    ratios = [b[1] / a[1] for a, b in zip(times[False], times[True], strict=True)]
    print("cpu ratio per pair (train curve / valid only):", ", ".join(f"{r:.3f}" for r in ratios))


if __name__ == "__main__":
    main()
