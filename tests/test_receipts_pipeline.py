"""The main job twice, through both CLIs, with a receipts tree: synth -> train -> register -> score.

Issue 6's "done when": the pipeline leaves ``$TESSERA_RECEIPTS_DIR/<pipeline>/<run_id>/`` with
one receipt per stage and a readable summary, and a second identical run shows a clean drift
report: every stage's input and output hashes equal, severity ok, no determinism violation.
Each stage runs only when the one before succeeded (``check=True`` semantics of a pipeline).
"""

from __future__ import annotations

import functools
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tessera_contracts import DriftReport, RunSummary, load_json_file
from tessera_contracts.receipts import load_receipts

STAGES = ["dataset_validation", "training", "evaluation", "registration", "scoring"]
SPEC = """\
dataset: dataset
feature_families: [alignment, annotation_meta, knn, length, taxonomy]
objective: lambdarank
params: {learning_rate: 0.1, num_leaves: 15, min_data_in_leaf: 20}
num_boost_round: 20
seed: 3
num_threads: 1
gate: {metric: ndcg@10, min_lift: -1.0}
license: {id: Apache-2.0, url: "https://www.apache.org/licenses/LICENSE-2.0"}
"""


def stage(tessera: Any, work: Path, run_id: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run one pipeline step; a failure stops the pipeline (the test) right here."""
    receipts = {"TESSERA_RECEIPTS_DIR": str(work / "receipts"), "TESSERA_RUN_ID": run_id}
    result: subprocess.CompletedProcess[str] = tessera(
        work, *args, TESSERA_PIPELINE="quickstart", **receipts
    )
    return result


def main_job(tessera: Any, work: Path, run_id: str, *, first: bool) -> Path:
    """One run of the main job in its own directory; return its receipts directory."""
    (work / run_id).mkdir()
    step = functools.partial(stage, tessera, work, run_id)
    step("tessera-lab", "dataset", "synth", f"{run_id}/dataset", "--rows=3000")
    (work / run_id / "spec.yaml").write_text(SPEC, encoding="utf-8")
    step("tessera-lab", "train", f"{run_id}/spec.yaml", "--name", run_id, "--quiet")
    if first:  # the registry learns the live feature schema once
        step("tessera-serve", "schemas", "add", "--manifest", f"{run_id}/dataset/manifest.json")
    step("tessera-serve", "register", f"runs/{run_id}", "--name", "demo")
    step(
        "tessera-serve", "score", "--model", "demo@none",
        "--input", f"{run_id}/dataset/eval.parquet", "--output", f"{run_id}/scores.parquet",
        "--backend", "lightgbm", "--threads", "1",
    )  # fmt: skip
    summary = step(
        "tessera-lab", "receipts", "summarize", f"receipts/quickstart/{run_id}",
        "--expect", ",".join(STAGES),
    )  # fmt: skip
    assert "PASSED" in summary.stdout
    return work / "receipts" / "quickstart" / run_id


@pytest.mark.slow
def test_the_main_job_twice_leaves_receipts_and_a_clean_drift_report(
    tmp_path: Path, tessera: Any
) -> None:
    stage(tessera, tmp_path, "setup", "tessera-serve", "db", "upgrade")
    first = main_job(tessera, tmp_path, "run-1", first=True)
    second = main_job(tessera, tmp_path, "run-2", first=False)
    a, b = load_receipts(first), load_receipts(second)
    assert [r.stage for r in a] == [r.stage for r in b] == STAGES
    for x, y in zip(a, b, strict=True):
        assert x.inputs.aggregate_sha256 == y.inputs.aggregate_sha256, x.stage
        assert x.outputs.aggregate_sha256 == y.outputs.aggregate_sha256, x.stage
        assert x.fingerprint == y.fingerprint, x.stage
    summary = load_json_file(RunSummary, second / "summary.json")
    drift = load_json_file(DriftReport, second / "drift.json")
    assert (
        summary.passed
        and summary.run_fingerprint
        == load_json_file(RunSummary, first / "summary.json").run_fingerprint
    )
    assert drift.previous_run_id == "run-1"
    assert drift.severity == "ok" and not drift.deterministic_violation
    markdown = (second / "summary.md").read_text(encoding="utf-8")
    assert "Drift vs run `run-1`: OK" in markdown
    assert json.loads((second / "scoring.json").read_text())["stats"]["accepted"] > 0
