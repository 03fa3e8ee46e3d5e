"""Experiment: a QuickScorer-style predictor (numba) against lleaves, in one process.

Not part of the product: numba 0.61 (the last release on llvmlite < 0.45, which lleaves
needs) requires numpy <= 2.2, and the workspace pins numpy 2.4, so it runs in its own
environment:

    uv venv /tmp/qs-venv && VIRTUAL_ENV=/tmp/qs-venv uv pip install numba==0.61.2 \
        numpy==2.2.6 lleaves==1.3.0 llvmlite==0.44.0 lightgbm==4.7.0 pyarrow==26.0.1
    uv run python bench/qs_dump_test_models.py   # the backend tests' models, for the check
    OMP_WAIT_POLICY=passive /tmp/qs-venv/bin/python bench/quickscorer_prototype.py \
        --rows 200000 --reps 5

QuickScorer (Lucchese et al., SIGIR 2015): the leaves of each tree are numbered left to
right and a tree's state is a 64-bit vector of the leaves still reachable. All split nodes
of the forest are sorted by (feature, threshold); for each feature a row's value knocks
out the left subtrees of every node whose test is false (threshold < value), in one
sequential scan. The exit leaf of each tree is the lowest set bit. Trees are summed in
LightGBM's order, so sums are bit-identical to LightGBM's. LightGBM's reading of inputs is
reproduced exactly: |v| <= 1e-35 is 0, NaN takes the node's default direction where the
missing type is NaN and is 0 otherwise. Categorical splits and zero-as-missing are not
implemented (such models would stay on LightGBM).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numba
import numpy as np

OUT = Path(__file__).resolve().parent / "out"
K_ZERO = 1.0000000180025095e-35
DEBRUIJN = 0x03F79D71B4CB0A89
DEBRUIJN_TABLE = np.zeros(64, dtype=np.int64)
for _i in range(64):
    DEBRUIJN_TABLE[(((1 << _i) * DEBRUIJN) % (1 << 64)) >> 58] = _i


def _trees(text: str) -> tuple[list[dict[str, list[str]]], int, float | None]:
    trees: list[dict[str, list[str]]] = []
    n_features, sigmoid = 0, None
    for line in text.split("\n"):
        key, _, value = line.partition("=")
        if key == "Tree":
            trees.append({})
        elif key == "max_feature_idx" and not trees:
            n_features = int(value) + 1
        elif key == "objective" and not trees and value.startswith("binary"):
            sigmoid = float(value.split("sigmoid:")[1].split()[0])
        elif key == "end of trees":
            break
        elif trees and value:
            trees[-1][key] = value.split(" ")
    return trees, n_features, sigmoid


def _leaf_order(left: list[int], right: list[int]) -> list[int]:
    """Leaf ids (``~child``) in left-to-right order."""
    order: list[int] = []
    stack = [0]
    while stack:
        node = stack.pop()
        if node < 0:
            order.append(~node)
            continue
        stack.append(right[node])
        stack.append(left[node])
    return order


def _leaves_under(node: int, left: list[int], right: list[int]) -> list[int]:
    return [~node] if node < 0 else _leaf_order_from(node, left, right)


def _leaf_order_from(node: int, left: list[int], right: list[int]) -> list[int]:
    out: list[int] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if n < 0:
            out.append(~n)
        else:
            stack += [right[n], left[n]]
    return out


class QuickScorer:
    """The forest as QuickScorer tables; ``predict`` matches ``Booster.predict``."""

    def __init__(self, text: str) -> None:
        trees, self.n_features, self.sigmoid = _trees(text)
        n_trees = len(trees)
        self.leaf_values = np.zeros((n_trees, 64), dtype=np.float64)
        nodes: list[tuple[int, float, int, int]] = []  # feature, threshold, tree, mask index
        nan_nodes: list[tuple[int, int, int]] = []  # feature, tree, mask index
        masks: list[int] = []
        full = (1 << 64) - 1
        for t, tree in enumerate(trees):
            values = [float(v) for v in tree["leaf_value"]]
            if int(tree["num_leaves"][0]) == 1:
                self.leaf_values[t, 0] = values[0]
                continue
            if int(tree["num_leaves"][0]) > 64:
                raise ValueError("more than 64 leaves")
            left = [int(v) for v in tree["left_child"]]
            right = [int(v) for v in tree["right_child"]]
            position = {leaf: i for i, leaf in enumerate(_leaf_order(left, right))}
            for leaf, i in position.items():
                self.leaf_values[t, i] = values[leaf]
            for node, (feature, threshold, decision) in enumerate(
                zip(tree["split_feature"], tree["threshold"], tree["decision_type"], strict=True)
            ):
                decision_bits = int(decision)
                if decision_bits & 1:
                    raise ValueError("categorical splits are not implemented")
                missing = (decision_bits >> 2) & 3
                if missing == 1:
                    raise ValueError("zero-as-missing splits are not implemented")
                mask = full
                for leaf in _leaves_under(left[node], left, right):
                    mask &= ~(1 << position[leaf])
                masks.append(mask)
                thr = float(threshold)
                nodes.append((int(feature), thr, t, len(masks) - 1))
                nan_goes_right = (not decision_bits & 2) if missing == 2 else not (thr >= 0.0)
                if nan_goes_right:
                    nan_nodes.append((int(feature), t, len(masks) - 1))
        nodes.sort(key=lambda n: (n[0], n[1]))
        nan_nodes.sort()
        all_masks = np.array(masks, dtype=np.uint64)
        self.offsets = np.searchsorted([n[0] for n in nodes], np.arange(self.n_features + 1))
        self.thresholds = np.array([n[1] for n in nodes], dtype=np.float64)
        self.node_tree = np.array([n[2] for n in nodes], dtype=np.int64)
        self.node_mask = all_masks[[n[3] for n in nodes]] if nodes else np.zeros(0, np.uint64)
        self.nan_offsets = np.searchsorted(
            [n[0] for n in nan_nodes], np.arange(self.n_features + 1)
        )
        self.nan_tree = np.array([n[1] for n in nan_nodes], dtype=np.int64)
        self.nan_mask = (
            all_masks[[n[2] for n in nan_nodes]] if nan_nodes else np.zeros(0, np.uint64)
        )

    def predict(self, x: np.ndarray) -> np.ndarray:
        raw = _score(np.ascontiguousarray(x, dtype=np.float64), self.offsets, self.thresholds,
                     self.node_tree, self.node_mask, self.nan_offsets, self.nan_tree,
                     self.nan_mask, self.leaf_values, DEBRUIJN_TABLE)  # fmt: skip
        if self.sigmoid is not None:
            return 1.0 / (1.0 + np.exp(-self.sigmoid * raw))
        return raw


@numba.njit(parallel=True, cache=False, fastmath=False, boundscheck=False)
def _score(x, offsets, thresholds, node_tree, node_mask, nan_offsets, nan_tree, nan_mask,
           leaf_values, table):  # fmt: skip
    rows, features = x.shape
    n_trees = leaf_values.shape[0]
    out = np.empty(rows, dtype=np.float64)
    full = np.uint64(0xFFFFFFFFFFFFFFFF)
    debruijn = np.uint64(0x03F79D71B4CB0A89)
    shift = np.uint64(58)
    for block in numba.prange((rows + 63) // 64):
        state = np.empty(n_trees, dtype=np.uint64)
        for r in range(block * 64, min(rows, block * 64 + 64)):
            state[:] = full
            for f in range(features):
                v = x[r, f]
                if np.isnan(v):
                    for k in range(nan_offsets[f], nan_offsets[f + 1]):
                        state[nan_tree[k]] &= nan_mask[k]
                    continue
                if abs(v) <= 1.0000000180025095e-35:
                    v = 0.0
                k = offsets[f]
                end = offsets[f + 1]
                while k < end and thresholds[k] < v:
                    state[node_tree[k]] &= node_mask[k]
                    k += 1
            total = 0.0
            for t in range(n_trees):
                s = state[t]
                low = s & (~s + np.uint64(1))
                total += leaf_values[t, table[(low * debruijn) >> shift]]
            out[r] = total
    return out


def _matrix(rows: int) -> np.ndarray:
    import pyarrow.parquet as pq

    features = [f"f{i:02d}" for i in range(40)]
    path = OUT / "candidates_300000.parquet"
    table = pq.read_table(path, columns=features).slice(0, rows)
    out = np.empty((table.num_rows, len(features)), dtype=np.float64)
    for j, name in enumerate(features):
        out[:, j] = table.column(name).to_numpy()
    return out


def _edge_rows(x: np.ndarray) -> np.ndarray:
    """Rows at the zero-bin edges (+-1e-35, +-1e-40, 0) and all-NaN rows."""
    specials = [K_ZERO, -K_ZERO, 1e-40, -1e-40, 0.0, np.nan, np.nextafter(-K_ZERO, -1)]
    rows = [np.full(x.shape[1], s) for s in specials]
    mixed = x[: len(specials) * 20].copy()
    for i in range(mixed.shape[0]):
        mixed[i, i % x.shape[1]] = specials[i % len(specials)]
    return np.vstack([np.array(rows), mixed])


def _check_test_models() -> None:
    """Exactness on the backend tests' models, if qs_dump_test_models.py has written them."""
    import lightgbm as lgb

    for path in sorted((OUT / "qs_models").glob("*.txt")):
        text = path.read_text()
        x = np.load(path.with_suffix(".npy"))
        probe = np.vstack([x, _edge_rows(x)])
        ref = lgb.Booster(model_str=text).predict(probe, num_threads=1)
        diff = float(np.max(np.abs(QuickScorer(text).predict(probe) - ref)))
        print(f"test model {path.stem}: {len(probe)} rows, max abs diff vs LightGBM {diff:.2e}")


def main() -> None:
    import lightgbm as lgb
    import lleaves

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--objects", default=str(OUT / "overhead_objects.json"))
    args = parser.parse_args()
    numba.set_num_threads(args.threads)
    _check_test_models()
    objects = json.loads(Path(args.objects).read_text())
    x = _matrix(args.rows)
    for name in ("small", "big"):
        text = (OUT / f"model_{name}.txt").read_text()
        booster = lgb.Booster(model_str=text)
        qs = QuickScorer(text)
        model = lleaves.Model(model_file=str(OUT / f"model_{name}.txt"))
        model.compile(cache=objects[name])
        probe = np.vstack([x[:20_000], _edge_rows(x)])
        ref = booster.predict(probe, num_threads=args.threads)
        qs_diff = float(np.max(np.abs(qs.predict(probe) - ref)))
        ll_diff = float(np.max(np.abs(model.predict(probe, n_jobs=args.threads) - ref)))
        where = f"{len(probe)} rows incl. zero-bin edge and NaN rows"
        print(f"{name}: max abs diff vs LightGBM on {where}: quickscorer {qs_diff:.2e} "
              f"lleaves {ll_diff:.2e}", flush=True)  # fmt: skip
        runs = {
            "lleaves": functools.partial(model.predict, x, n_jobs=args.threads),
            "quickscorer": functools.partial(qs.predict, x),
        }
        times: dict[str, list[tuple[float, float]]] = {key: [] for key in runs}
        for _ in range(args.reps):
            for key, run in runs.items():
                start, cpu = time.perf_counter(), time.process_time()
                run()
                times[key].append((time.perf_counter() - start, time.process_time() - cpu))
        _report(name, times, args)


def _report(name: str, times: dict[str, list[tuple[float, float]]], args: Any) -> None:
    pairs = list(zip(times["quickscorer"], times["lleaves"], strict=True))
    ratio_cpu = [q[1] / ll[1] for q, ll in pairs]
    ratio_wall = [q[0] / ll[0] for q, ll in pairs]
    for key, values in times.items():
        wall = statistics.median(v[0] for v in values)
        cpu = statistics.median(v[1] for v in values)
        print(f"  {name} {key:12s} rows={args.rows} threads={args.threads} "
              f"wall {wall:.3f} s cpu {cpu:.3f} s", flush=True)  # fmt: skip
    per_rep = ", ".join(f"{r:.2f}" for r in ratio_cpu)
    load = os.getloadavg()[0]
    print(f"  {name} quickscorer/lleaves: cpu {statistics.median(ratio_cpu):.2f} ({per_rep}) "
          f"wall {statistics.median(ratio_wall):.2f} load1 {load:.1f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
