"""Serving's receipts: registration, scoring, re-scoring and backfill leave validated receipts
in a real SQLite registry and in the receipts tree; identical runs hash equal; failures and
fallbacks are accounted for; the CLI reads them back, exports them and compares runs.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tessera_contracts import FEATURE_SCHEMA_METADATA_KEY, Receipt
from tessera_contracts.receipts import compare_runs, load_receipts
from tessera_serving.errors import RegistrationError
from tessera_serving.registry import Registry
from tessera_serving.registry.backfill import backfill_schema_sha_v2
from tessera_serving.registry.receipt_store import receipts_for_job, receipts_for_run
from tessera_serving.registry.register import register_runs
from tessera_serving.scoring.rescore import run_rescore
from tessera_serving.scoring.score_job import ScoreOptions, run_score_job

STAGES = ["registration", "scoring", "rescoring", "backfill"]
OPTIONS = ScoreOptions(store=True, backend="lightgbm", num_threads=1)


def write_candidates(path: Path, schema: dict[str, list[str]], seed: int = 0) -> Path:
    """Contiguous queries with every column of ``schema``, carrying it as Arrow metadata."""
    rng = np.random.default_rng(seed)
    n = 120
    columns: dict[str, Any] = {
        "query_id": [f"q{i // 8:03d}" for i in range(n)],
        "candidate_id": [f"c{i}" for i in range(n)],
        "category": ["a"] * n,
        "base_score": rng.random(n),
    }
    for family_columns in schema.values():
        for column in family_columns:
            columns[column] = rng.random(n)
    meta = {FEATURE_SCHEMA_METADATA_KEY.encode(): json.dumps(schema).encode()}
    pq.write_table(pa.table(columns).replace_schema_metadata(meta), path)
    return path


@pytest.fixture(autouse=True)
def _pipeline_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TESSERA_RECEIPTS_DIR", str(tmp_path / "tree"))
    monkeypatch.setenv("TESSERA_PIPELINE", "serve")
    monkeypatch.delenv("TESSERA_DRIFT_THRESHOLD", raising=False)
    return tmp_path / "tree" / "serve"


def retrained_run(runs: ModuleType, tmp_path: Path, run_id: str) -> Path:
    """A run dir that, as a lab retraining would, differs only in its wall-clock fields."""
    run_dir: Path = runs.write_run_dir(tmp_path / run_id, "rr")
    record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    second = sum(map(ord, run_id)) % 60
    record["created_at"], record["duration_s"] = f"2026-02-01T00:00:{second:02d}Z", second
    (run_dir / "run.json").write_text(json.dumps(record), encoding="utf-8")
    return run_dir


def run_pipeline(
    registry: Registry, runs: ModuleType, tmp_path: Path, run_id: str, monkeypatch: Any
) -> int:
    """register -> score --store -> rescore -> backfill; return the scoring job id."""
    monkeypatch.setenv("TESSERA_RUN_ID", run_id)
    run_dir = retrained_run(runs, tmp_path, run_id)
    register_runs(registry, [run_dir], name="demo", allow_unknown_schema=True)
    candidates = write_candidates(tmp_path / f"{run_id}.parquet", runs.DEFAULT_SCHEMA)
    job = run_score_job(
        registry, "demo@none", candidates, tmp_path / f"{run_id}-out.parquet", OPTIONS
    )
    run_rescore(registry, "demo@none", backend="lightgbm", num_threads=1)
    backfill_schema_sha_v2(registry)
    return int(job.job_id)


def test_every_stage_leaves_a_receipt_in_the_registry_and_the_tree(
    sqlite_registry: Registry,
    runs: ModuleType,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    _pipeline_env: Path,
) -> None:
    job_id = run_pipeline(sqlite_registry, runs, tmp_path, "r1", monkeypatch)
    stored = receipts_for_run(sqlite_registry, "r1", "serve")
    assert [r.stage for r in stored] == STAGES
    assert stored == load_receipts(_pipeline_env / "r1")
    registration, scoring, rescoring, backfill = stored
    assert all(r.validation.passed for r in stored)
    assert {f.path for f in registration.inputs.files} == {
        "pooled/run.json#content",
        "pooled/model.txt",
    }
    assert (registration.stats.records_in, registration.stats.accepted) == (1, 1)
    assert (scoring.stats.records_in, scoring.stats.accepted, scoring.stats.skipped) == (
        120,
        120,
        0,
    )
    assert scoring.outputs.files[0].records == 120
    (scored_input,) = [f for f in scoring.inputs.files if f.path == "input.parquet"]
    candidates = tmp_path / "r1.parquet"
    assert scored_input.sha256 == hashlib.sha256(candidates.read_bytes()).hexdigest()
    assert (scored_input.bytes, scored_input.records) == (candidates.stat().st_size, 120)
    assert receipts_for_job(sqlite_registry, job_id) == [scoring]
    assert rescoring.stats.records_in == 120
    (rescored,) = rescoring.outputs.files
    assert (rescored.path, rescored.kind, rescored.records) == ("rescored_scores", "data", 120)
    assert [f.sha256 for f in rescoring.inputs.files if f.path == "stored_inputs"] != []
    assert backfill.stats.records_in == 0  # every row already has its schema_sha_v2


def test_identical_runs_hash_equal_and_drift_is_clean(
    sqlite_registry: Registry, runs: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_pipeline(sqlite_registry, runs, tmp_path, "r1", monkeypatch)
    run_pipeline(sqlite_registry, runs, tmp_path, "r2", monkeypatch)
    first = receipts_for_run(sqlite_registry, "r1")
    second = receipts_for_run(sqlite_registry, "r2")
    for a, b in zip(first, second, strict=True):
        assert a.inputs.aggregate_sha256 == b.inputs.aggregate_sha256, a.stage
        assert a.outputs.aggregate_sha256 == b.outputs.aggregate_sha256, a.stage
    drift = compare_runs(first, second)
    assert drift.severity == "ok" and not drift.deterministic_violation


def test_a_schema_mismatch_falls_back_and_warns(
    sqlite_registry: Registry, runs: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TESSERA_RUN_ID", "mismatch")
    register_runs(sqlite_registry, [runs.write_run_dir(tmp_path)], allow_unknown_schema=True)
    other = {"knn": ["knn_score", "knn_votes"], "length": ["query_len"]}
    candidates = write_candidates(tmp_path / "c.parquet", other)
    run_score_job(sqlite_registry, "rr#1", candidates, tmp_path / "o.parquet", OPTIONS)
    scoring = receipts_for_run(sqlite_registry, "mismatch")[-1]
    assert scoring.validation.passed
    assert (scoring.stats.accepted, scoring.stats.skipped) == (0, 120)
    assert scoring.validation.warnings == ["120 of 120 rows kept the base_score ordering"]


def test_a_failed_registration_leaves_a_failed_receipt(
    sqlite_registry: Registry, runs: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TESSERA_RUN_ID", "bad")
    run_dir = runs.write_run_dir(tmp_path, tamper="model_txt")
    with pytest.raises(RegistrationError):
        register_runs(sqlite_registry, [run_dir], allow_unknown_schema=True)
    (receipt,) = receipts_for_run(sqlite_registry, "bad")
    assert not receipt.validation.passed
    assert receipt.validation.errors[0].class_ == "RegistrationError"
    assert (receipt.stats.records_in, receipt.stats.rejected) == (1, 1)


def test_the_commands(
    sqlite_registry: Registry,
    runs: ModuleType,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sqlite_cli: Any,
    _pipeline_env: Path,
) -> None:
    run_pipeline(sqlite_registry, runs, tmp_path, "r1", monkeypatch)
    # The second run goes through the CLI: scoring's hook works in a real subprocess too.
    env = {"TESSERA_RUN_ID": "r2", "TESSERA_RECEIPTS_DIR": str(tmp_path / "tree")}
    run_dir = retrained_run(runs, tmp_path, "r2")
    done = sqlite_cli("register", run_dir, "--name", "demo", "--allow-unknown-schema", **env)
    assert done.returncode == 0, done.stderr
    candidates = write_candidates(tmp_path / "r2.parquet", runs.DEFAULT_SCHEMA)
    out = tmp_path / "r2-out.parquet"
    done = sqlite_cli(
        "score", "--model", "demo@none", "--input", candidates, "--output", out, "--store",
        "--backend", "lightgbm", "--threads", "1", "--json", **env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    job_id = json.loads(done.stdout)["job_id"]
    shown = sqlite_cli("receipts", "show", str(job_id), "--json")
    assert shown.returncode == 0, shown.stderr
    (doc,) = json.loads(shown.stdout)
    assert Receipt.model_validate(doc).stage == "scoring"
    drift = sqlite_cli("drift", "r1", "r2", "--pipeline", "serve", "--json")
    assert drift.returncode == 0, drift.stderr + drift.stdout
    report = json.loads(drift.stdout)
    assert report["severity"] == "warn"  # rescoring and backfill did not run in r2
    assert {s["stage"]: s["status"] for s in report["stages"]}["rescoring"] == "missing"
    assert all(s["inputs_match"] and s["outputs_match"] for s in report["stages"][:2])
    exported = sqlite_cli("receipts", "export", "r2", tmp_path / "export")
    assert exported.returncode == 0, exported.stderr
    assert [r.stage for r in load_receipts(tmp_path / "export")] == ["registration", "scoring"]
    summary = sqlite_cli(
        "receipts", "summarize", _pipeline_env / "r2", "--expect", ",".join(STAGES)
    )
    assert summary.returncode == 1
    assert "FAILED (stopped at `rescoring`)" in summary.stdout
    missing = sqlite_cli("receipts", "show", "999")
    assert missing.returncode == 1 and "no receipts for job 999" in missing.stderr


def test_import_by_reference_is_a_registration(
    sqlite_registry: Registry, runs: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tessera_serving.registry.register import import_by_reference

    monkeypatch.setenv("TESSERA_RUN_ID", "byref")
    run_dir = runs.write_run_dir(tmp_path)
    sha = sqlite_registry.store.put_bytes((run_dir / "model.txt").read_bytes())
    uri = sqlite_registry.store.uri(sha)
    import_by_reference(
        sqlite_registry, uri=uri, sha256=sha, run_json=run_dir / "run.json",
        allow_unknown_schema=True,
    )  # fmt: skip
    with pytest.raises(RegistrationError):
        import_by_reference(
            sqlite_registry, uri=uri, sha256="0" * 64, run_json=run_dir / "run.json"
        )
    ok, failed = receipts_for_run(sqlite_registry, "byref")
    assert (ok.stage, failed.stage) == ("registration", "registration_2")  # same run id
    assert ok.validation.passed and ok.parameters["via"] == "reference"
    assert {f.path for f in ok.inputs.files} == {"run.json#content", "artifact"}
    assert ok.outputs.files[0].records == 1
    assert not failed.validation.passed and failed.stats.rejected == 1


def test_a_failed_score_job_leaves_a_failed_receipt_linked_to_its_job(
    sqlite_registry: Registry, runs: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tessera_serving.errors import ScoringError

    monkeypatch.setenv("TESSERA_RUN_ID", "failing")
    register_runs(sqlite_registry, [runs.write_run_dir(tmp_path)], allow_unknown_schema=True)
    candidates = write_candidates(tmp_path / "c.parquet", runs.DEFAULT_SCHEMA)
    created: list[int] = []
    bad = ScoreOptions(batch_size=0, backend="lightgbm", num_threads=1)  # fails after the job opens
    with pytest.raises(ScoringError):
        run_score_job(
            sqlite_registry, "rr#1", candidates, tmp_path / "o.parquet", bad,
            on_created=created.append,
        )  # fmt: skip
    scoring = receipts_for_run(sqlite_registry, "failing")[-1]
    assert scoring.stage == "scoring" and not scoring.validation.passed
    assert scoring.validation.errors[0].class_ == "ScoringError"
    assert (scoring.stats.records_in, scoring.stats.rejected) == (120, 120)
    assert receipts_for_job(sqlite_registry, created[0]) == [scoring]
