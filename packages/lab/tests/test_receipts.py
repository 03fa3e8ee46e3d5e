"""The lab's receipts: real training through the CLI leaves them, identical runs hash equal,
a damaged dataset fails its validation receipt and stops the run, and the commands read them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tessera_contracts.receipts import load_receipts
from tessera_lab.dataset import synth_dataset
from tessera_lab.receipts import run_receipts_dir

CLI = Path(sys.executable).parent / "tessera-lab"
LAB_STAGES = ["dataset_validation", "training", "evaluation"]


def run_lab(
    *args: str | Path, receipts: Path, run_id: str, cwd: Path
) -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ,
        OMP_WAIT_POLICY="passive",
        TESSERA_RECEIPTS_DIR=str(receipts),
        TESSERA_PIPELINE="labtest",
        TESSERA_RUN_ID=run_id,
    )
    env.pop("TESSERA_DRIFT_THRESHOLD", None)
    return subprocess.run(
        [str(CLI), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        check=False,
        timeout=600,
    )


def small_spec(dataset: Path) -> dict[str, Any]:
    """A small, fast spec (20 rounds, 15 leaves)."""
    return {
        "dataset": str(dataset),
        "feature_families": ["alignment", "annotation_meta", "knn", "length", "taxonomy"],
        "objective": "lambdarank",
        "params": {"learning_rate": 0.1, "num_leaves": 15, "min_data_in_leaf": 10},
        "num_boost_round": 20,
        "early_stopping": {"rounds": 5, "valid_fraction": 0.25, "metric": "ndcg@10"},
        "seed": 7,
        "license": {"id": "Apache-2.0", "url": "https://www.apache.org/licenses/LICENSE-2.0"},
    }


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small graded synthetic dataset, written by the lab's own synthesiser."""
    path = tmp_path_factory.mktemp("data") / "graded"
    synth_dataset(path, rows=4000, seed=3, label_kind="graded")
    return path


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory, dataset: Path) -> Path:
    """Train the same spec twice (different run names and ids) with a receipts tree."""
    work = tmp_path_factory.mktemp("receipts")
    (work / "spec.yaml").write_text(yaml.safe_dump(small_spec(dataset)), encoding="utf-8")
    for name in ("first", "second"):
        done = run_lab(
            "train", "spec.yaml", "--name", name, "--quiet",
            receipts=work / "tree", run_id=f"run-{name}", cwd=work,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    return work


def test_training_leaves_receipts_in_the_run_and_the_tree(two_runs: Path) -> None:
    in_run = load_receipts(run_receipts_dir(two_runs / "runs" / "first"))
    in_tree = load_receipts(two_runs / "tree" / "labtest" / "run-first")
    assert [r.stage for r in in_run] == LAB_STAGES
    assert in_run == in_tree
    assert {r.run_id for r in in_run} == {"run-first"}
    validation, training, evaluation = in_run
    assert validation.stats.records_in == 4000 == validation.stats.accepted
    assert {f.path for f in validation.inputs.files} == {
        "dataset/manifest.json#content",
        "dataset/train.parquet",
        "dataset/eval.parquet",
    }
    assert {f.path for f in training.outputs.files} == {
        "pooled/model.txt",
        "pooled/spec.yaml#content",
        "pooled/run.json#content",
    }
    model = next(f for f in training.outputs.files if f.path == "pooled/model.txt")
    record = json.loads((two_runs / "runs" / "first" / "run.json").read_text())
    assert model.sha256 == record["model"]["sha256"]
    assert evaluation.stats.records_in == record["dataset"]["eval_rows"]
    assert all(r.validation.passed for r in in_run)


def test_identical_runs_hash_equal_and_drift_is_clean(two_runs: Path) -> None:
    first = load_receipts(two_runs / "tree" / "labtest" / "run-first")
    second = load_receipts(two_runs / "tree" / "labtest" / "run-second")
    for a, b in zip(first, second, strict=True):
        assert a.inputs.aggregate_sha256 == b.inputs.aggregate_sha256, a.stage
        assert a.outputs.aggregate_sha256 == b.outputs.aggregate_sha256, a.stage
        assert a.fingerprint == b.fingerprint, a.stage
    drift = run_lab(
        "drift", "first", "second", "--json", receipts=two_runs / "x", run_id="x", cwd=two_runs
    )
    assert drift.returncode == 0, drift.stderr
    report = json.loads(drift.stdout)
    assert report["severity"] == "ok" and not report["deterministic_violation"]
    summarize = run_lab(
        "receipts", "summarize", two_runs / "tree" / "labtest" / "run-second",
        "--expect", ",".join(LAB_STAGES), receipts=two_runs / "x", run_id="x", cwd=two_runs,
    )  # fmt: skip
    assert summarize.returncode == 0, summarize.stderr
    assert "PASSED" in summarize.stdout and "Drift vs run `run-first`: OK" in summarize.stdout
    assert (two_runs / "tree" / "labtest" / "run-second" / "summary.json").is_file()


def test_receipts_show(two_runs: Path) -> None:
    def show(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return run_lab("receipts", "show", *args, receipts=two_runs / "x", run_id="x", cwd=two_runs)

    shown = show("second")
    assert shown.returncode == 0, shown.stderr
    assert "### `training`: ok" in shown.stdout and "pooled/model.txt" in shown.stdout
    as_json = show(two_runs / "runs" / "second", "--json")
    assert [r["stage"] for r in json.loads(as_json.stdout)] == LAB_STAGES
    missing = show("nope")
    assert missing.returncode == 1
    assert missing.stderr.startswith("tessera-lab: error: nope: no receipts here")


def test_a_damaged_dataset_fails_validation_and_stops_the_run(
    tmp_path: Path, dataset: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(dataset, data)
    eval_file = data / "eval.parquet"
    eval_file.write_bytes(eval_file.read_bytes()[:-1] + b"\0")
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(small_spec(data)), encoding="utf-8")
    done = run_lab("train", spec, "--quiet", receipts=tmp_path / "tree", run_id="bad", cwd=tmp_path)
    assert done.returncode == 1
    receipts = load_receipts(tmp_path / "tree" / "labtest" / "bad")
    assert [r.stage for r in receipts] == ["dataset_validation", "training"]
    validation, training = receipts
    assert not validation.validation.passed
    assert {e.class_ for e in validation.validation.errors} == {
        "ManifestMismatch",
        "RejectedRecords",
    }
    messages = [e.message for e in validation.validation.errors]
    assert any("eval.parquet: sha256: manifest says" in m for m in messages), messages
    assert (
        validation.stats.rejected
        == json.loads((data / "manifest.json").read_text())["files"]["eval.parquet"]["rows"]
    )
    assert not training.validation.passed
    assert not (tmp_path / "runs").exists() or list((tmp_path / "runs").iterdir()) == []
    summarize = subprocess.run(
        [str(CLI), "receipts", "summarize", str(tmp_path / "tree" / "labtest" / "bad")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert summarize.returncode == 1
    assert "FAILED (stopped at `dataset_validation`)" in summarize.stdout
