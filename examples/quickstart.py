"""Tessera's main job, end to end, on embedded defaults.

synth -> validate -> train -> report -> register -> promote -> verify -> score (guarded)
-> a deliberate schema mismatch that falls back to the base ordering.

Every stage is a real CLI subprocess; a stage runs only if its predecessor succeeded.
Each invocation works in a fresh directory ``<out>/<run id>/`` so nothing is overwritten,
and every run of this pipeline shares one receipt tree (``<out>/receipts/``) so the
second run can be compared with the first.

    uv run --frozen python examples/quickstart.py [--out quickstart-out] [--rows 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tessera_contracts import FEATURE_SCHEMA_METADATA_KEY, load_run_record
from tessera_lab.evaluation import Queries, ranking_metrics

PIPELINE = "quickstart"
MODEL = "quickstart"
EXPECTED_STAGES = "dataset_validation,training,evaluation,registration,scoring,scoring_2"
SPEC = """\
# The quick start's training spec: a pooled LambdaRank re-ranker on every synth family.
dataset: dataset
feature_families: [alignment, annotation_meta, knn, length, taxonomy]
objective: lambdarank
protocol: {cells: pooled, snapshots: all}
weighting: none
params: {learning_rate: 0.08, num_leaves: 31, min_data_in_leaf: 20}
num_boost_round: 200
early_stopping: {rounds: 20, metric: ndcg@10}
validation: {carve: 0.2}
seed: 7
num_threads: 1
gate: {metric: ndcg@10, min_lift: 0.02}
license: {id: Apache-2.0, url: "https://www.apache.org/licenses/LICENSE-2.0"}
"""


class StageFailed(RuntimeError):
    """A stage exited non-zero; the pipeline stops there."""


def run(stage: str, command: list[str], cwd: Path, env: dict[str, str]) -> str:
    """Run one stage's command; echo it, return its stdout, stop the pipeline on failure."""
    print(f"\n$ {' '.join(command)}", flush=True)
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if result.stdout.strip():
        print(result.stdout.rstrip())
    if result.returncode != 0:
        print(result.stderr.rstrip(), file=sys.stderr)
        raise StageFailed(f"stage {stage!r} failed (exit {result.returncode}); pipeline stopped")
    print(f"  [{stage}: ok in {time.perf_counter() - started:.1f} s]")
    return result.stdout


def served_ndcg(eval_path: Path, scores_path: Path) -> tuple[dict[str, float], dict[str, float]]:
    """NDCG@10 and MAP of the served scores and of the base ordering, from the files alone."""
    data = pq.read_table(eval_path, columns=["query_id", "label", "base_score"])
    scores = pq.read_table(scores_path, columns=["score"])
    queries = Queries.from_ids(
        data["query_id"].to_numpy(), data["label"].to_numpy().astype(np.float64)
    )
    served = ranking_metrics(queries, scores["score"].to_numpy(), binary=True)
    base = ranking_metrics(queries, data["base_score"].to_numpy(), binary=True)
    return served, base


def drift_input(eval_path: Path, out_path: Path) -> str:
    """Write candidates whose live schema has drifted: one column renamed upstream."""
    table = pq.read_table(eval_path)
    metadata = dict(table.schema.metadata or {})
    schema: dict[str, list[str]] = json.loads(metadata[FEATURE_SCHEMA_METADATA_KEY.encode()])
    family = sorted(schema)[0]
    old = schema[family][0]
    new = f"{old}_v2"
    schema[family] = [new if c == old else c for c in schema[family]]
    table = table.rename_columns([new if c == old else c for c in table.column_names])
    metadata[FEATURE_SCHEMA_METADATA_KEY.encode()] = json.dumps(schema).encode()
    pq.write_table(table.replace_schema_metadata(metadata), out_path, compression="zstd")
    return f"{old} -> {new}"


def source_counts(scores_path: Path) -> dict[str, int]:
    """How many rows each source (reranker / fallback) produced."""
    column = pq.read_table(scores_path, columns=["source"])["source"]
    counts = pa.compute.value_counts(column).to_pylist()
    return {str(item["values"]): int(item["counts"]) for item in counts}


def main(argv: list[str] | None = None) -> int:
    """Run the pipeline once; exit non-zero if any stage failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("quickstart-out"))
    parser.add_argument("--rows", type=int, default=20_000, help="synthetic rows (default 20000)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    out = args.out.resolve()
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    work = out / run_id
    work.mkdir(parents=True)
    env = dict(os.environ)
    env.update(
        TESSERA_HOME=str(work / ".tessera"),
        TESSERA_RUN_ID=run_id,
        TESSERA_PIPELINE=PIPELINE,
        TESSERA_RECEIPTS_DIR=str(out / "receipts"),
        OMP_WAIT_POLICY=env.get("OMP_WAIT_POLICY", "passive"),
    )
    print(f"quickstart run {run_id} in {work}")
    (work / "spec.yaml").write_text(SPEC, encoding="utf-8")
    lab, serve = ["tessera-lab"], ["tessera-serve"]
    summary: dict[str, Any] = {"run_id": run_id, "work": str(work)}
    try:
        run(
            "synth",
            [*lab, "dataset", "synth", "dataset", f"--rows={args.rows}", f"--seed={args.seed}"],
            work,
            env,
        )
        run("validate", [*lab, "dataset", "validate", "dataset"], work, env)
        run(
            "train",
            [*lab, "train", "spec.yaml", "--name", MODEL, "--runs-dir", "runs", "--quiet"],
            work,
            env,
        )
        run("report", [*lab, "report", f"runs/{MODEL}"], work, env)
        run("db", [*serve, "db", "upgrade"], work, env)
        run("schemas", [*serve, "schemas", "add", "--manifest", "dataset/manifest.json"], work, env)
        run("register", [*serve, "register", f"runs/{MODEL}"], work, env)
        run("promote", [*serve, "promote", MODEL], work, env)
        run("verify", [*serve, "verify"], work, env)
        run(
            "score",
            [
                *serve,
                "score",
                "--model",
                f"{MODEL}@production",
                "--input",
                "dataset/eval.parquet",
                "--output",
                "scores.parquet",
                "--store",
                "--fail-on-fallback",
            ],
            work,
            env,
        )
        renamed = drift_input(work / "dataset" / "eval.parquet", work / "drifted.parquet")
        print(f"\n# deliberate schema drift for the guard: renamed {renamed}")
        run(
            "score-drifted",
            [
                *serve,
                "score",
                "--model",
                f"{MODEL}@production",
                "--input",
                "drifted.parquet",
                "--output",
                "drifted-scores.parquet",
            ],
            work,
            env,
        )
    except StageFailed as exc:
        print(f"\nquickstart: {exc}", file=sys.stderr)
        summarize_receipts(out, run_id, env)
        return 1

    record = load_run_record(work / "runs" / MODEL / "run.json")
    served, base = served_ndcg(work / "dataset" / "eval.parquet", work / "scores.parquet")
    summary.update(
        gate=record.gate.model_dump(),
        served={k: served[k] for k in ("ndcg@10", "map")},
        base={k: base[k] for k in ("ndcg@10", "map")},
        scored_sources=source_counts(work / "scores.parquet"),
        drifted_sources=source_counts(work / "drifted-scores.parquet"),
    )
    print("\n== quickstart summary ==")
    gate = record.gate
    print(
        f"gate: {gate.metric} model {gate.model_value:.4f} vs base {gate.baseline_value:.4f} "
        f"(lift {gate.lift:+.4f}) -> {gate.verdict}"
    )
    for metric in ("ndcg@10", "map"):
        print(
            f"served {metric}: {served[metric]:.4f} vs base ordering {base[metric]:.4f} "
            f"(lift {served[metric] - base[metric]:+.4f})"
        )
    print(f"scored rows by source: {summary['scored_sources']}")
    print(f"drifted input rows by source: {summary['drifted_sources']} (guard fell back)")
    (work / "quickstart-summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    if summary["drifted_sources"].get("reranker"):
        print("quickstart: the guard scored a drifted input", file=sys.stderr)
        return 1
    return summarize_receipts(out, run_id, env)


def summarize_receipts(out: Path, run_id: str, env: dict[str, str]) -> int:
    """Write summary.json/summary.md and the drift report vs the previous run; its exit code."""
    receipts = out / "receipts" / PIPELINE / run_id
    command = ["tessera-lab", "receipts", "summarize", str(receipts), "--expect", EXPECTED_STAGES]
    print(f"\n$ {' '.join(command)}", flush=True)
    code = subprocess.run(command, env=env).returncode
    print(f"receipts, summary.md and drift.json: {receipts}")
    return code


if __name__ == "__main__":
    sys.exit(main())
