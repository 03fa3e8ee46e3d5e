"""Run summaries and drift reports over a real (test-only) pipeline that writes real files.

The pipeline has three stages: ``ingest`` (rejects rows containing "bad"), ``transform``
(deterministic) and, on request, ``noisy`` (deliberately non-deterministic). Each stage runs
only when its predecessor passed, as a real pipeline script must.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tessera_contracts import ContractError, DriftReport, Receipt, RunSummary, load_json_file
from tessera_contracts.receipts import (
    ReceiptRecorder,
    compare_runs,
    drift_reaches,
    find_previous_run,
    load_receipts,
    resolve_drift_threshold,
    summarize_run,
    write_run_report,
)

PRODUCER = ("tessera-test", "1.0")
STAGES = ["ingest", "transform", "noisy"]


def ingest(work: Path) -> bool:
    with ReceiptRecorder(stage="ingest", producer=PRODUCER, root=work, unit="rows") as rec:
        lines = (work / "input.csv").read_text().splitlines()
        rec.add_input(work / "input.csv", records=len(lines))
        good = [line for line in lines if "bad" not in line]
        (work / "clean.csv").write_text("\n".join(good) + "\n")
        rec.add_output(work / "clean.csv", records=len(good))
        rec.count(records_in=len(lines), accepted=len(good), rejected=len(lines) - len(good))
    assert rec.receipt is not None
    return rec.receipt.validation.passed


def transform(work: Path) -> bool:
    with ReceiptRecorder(stage="transform", producer=PRODUCER, root=work, unit="rows") as rec:
        lines = (work / "clean.csv").read_text().splitlines()
        rec.add_input(work / "clean.csv", records=len(lines))
        rec.param("case", "upper")
        (work / "out.csv").write_text("\n".join(line.upper() for line in lines) + "\n")
        rec.add_output(work / "out.csv", records=len(lines))
        rec.count(records_in=len(lines), accepted=len(lines))
    assert rec.receipt is not None
    return rec.receipt.validation.passed


def noisy(work: Path) -> bool:
    """Test-only: same input, different output every time."""
    with ReceiptRecorder(stage="noisy", producer=PRODUCER, root=work) as rec:
        rec.add_input(work / "out.csv")
        (work / "noise.bin").write_bytes(os.urandom(16))
        rec.add_output(work / "noise.bin")
        rec.count(accepted=1)
    assert rec.receipt is not None
    return rec.receipt.validation.passed


def run_pipeline(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    run_id: str,
    rows: list[str],
    with_noisy: bool = False,
) -> Path:
    """Run the pipeline in a fresh work dir; return the run's receipts directory."""
    work = tmp_path / "work" / run_id
    work.mkdir(parents=True)
    (work / "input.csv").write_text("\n".join(rows) + "\n")
    monkeypatch.setenv("TESSERA_RECEIPTS_DIR", str(tmp_path / "receipts"))
    monkeypatch.setenv("TESSERA_PIPELINE", "demo")
    monkeypatch.setenv("TESSERA_RUN_ID", run_id)
    for stage in [ingest, transform, noisy] if with_noisy else [ingest, transform]:
        if not stage(work):
            break
    return tmp_path / "receipts" / "demo" / run_id


ROWS = [f"row{i},{i}" for i in range(10)]


@pytest.fixture(autouse=True)
def _no_threshold_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TESSERA_DRIFT_THRESHOLD", raising=False)


def test_two_identical_runs_are_clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = run_pipeline(tmp_path, monkeypatch, "run-1", ROWS)
    second = run_pipeline(tmp_path, monkeypatch, "run-2", ROWS)
    a, b = load_receipts(first), load_receipts(second)
    assert [r.stage for r in b] == ["ingest", "transform"]
    for x, y in zip(a, b, strict=True):
        assert x.inputs.aggregate_sha256 == y.inputs.aggregate_sha256
        assert x.outputs.aggregate_sha256 == y.outputs.aggregate_sha256
        assert x.fingerprint == y.fingerprint
    report = write_run_report(second)
    assert report.previous_run_dir == first.resolve()
    assert report.summary.passed and report.summary.stopped_at is None
    assert report.drift.severity == "ok" and report.failure("warn") is None
    assert not report.drift.deterministic_violation
    assert all(s.inputs_match and s.outputs_match for s in report.drift.stages)
    assert report.summary.run_fingerprint == summarize_run(a).run_fingerprint
    # The files are written, validate, and say the same.
    assert load_json_file(RunSummary, second / "summary.json") == report.summary
    assert load_json_file(DriftReport, second / "drift.json") == report.drift
    markdown = (second / "summary.md").read_text()
    assert "PASSED" in markdown and "Drift vs run `run-1`: OK" in markdown


def test_a_changed_input_changes_that_stage_input_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = run_pipeline(tmp_path, monkeypatch, "run-1", ROWS)
    second = run_pipeline(tmp_path, monkeypatch, "run-2", [*ROWS[:-1], "row9,changed"])
    drift = write_run_report(second, previous_run_dir=first).drift
    by_stage = {s.stage: s for s in drift.stages}
    assert by_stage["ingest"].inputs_match is False
    assert by_stage["ingest"].outputs_match is False
    assert not by_stage["ingest"].deterministic_violation
    assert "inputs changed" in by_stage["ingest"].reasons
    assert drift.severity == "ok"  # same counts, no violation: a changed input is not drift


def test_a_non_deterministic_stage_is_a_violation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_pipeline(tmp_path, monkeypatch, "run-1", ROWS, with_noisy=True)
    second = run_pipeline(tmp_path, monkeypatch, "run-2", ROWS, with_noisy=True)
    drift = write_run_report(second).drift
    by_stage = {s.stage: s for s in drift.stages}
    assert by_stage["noisy"].deterministic_violation
    assert by_stage["noisy"].inputs_match and not by_stage["noisy"].outputs_match
    assert by_stage["noisy"].severity == "alert"
    assert not by_stage["transform"].deterministic_violation
    assert drift.deterministic_violation and drift.severity == "alert"
    assert "Deterministic violation" in (second / "summary.md").read_text()


def test_a_stage_that_rejects_rows_fails_the_run_and_stops_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_pipeline(tmp_path, monkeypatch, "run-1", ROWS)
    rows = [*ROWS, "bad,1", "bad,2", "bad,3"]
    second = run_pipeline(tmp_path, monkeypatch, "run-2", rows)
    report = write_run_report(second, expected_stages=["ingest", "transform"])
    ingest_stats = report.summary.stages[0].stats
    assert (ingest_stats.records_in, ingest_stats.accepted, ingest_stats.rejected) == (13, 10, 3)
    assert not report.summary.passed
    assert report.summary.stopped_at == "ingest"
    assert report.failure() == report.failure("never") == "run failed: stopped at ingest"
    assert report.summary.missing_stages == ["transform"]
    by_stage = {s.stage: s for s in report.drift.stages}
    assert by_stage["ingest"].severity == "alert"  # passed before, fails now
    assert by_stage["ingest"].new_error_classes == ["RejectedRecords"]
    assert by_stage["ingest"].counts["rejected"].pct_change is None  # from zero
    assert by_stage["transform"].status == "missing"
    markdown = (second / "summary.md").read_text()
    assert "FAILED (stopped at `ingest`)" in markdown and "3 of 13 rows rejected" in markdown


def test_count_changes_over_the_threshold_warn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = load_receipts(run_pipeline(tmp_path, monkeypatch, "run-1", ROWS))
    second = load_receipts(run_pipeline(tmp_path, monkeypatch, "run-2", ROWS[:7]))
    drift = compare_runs(first, second)
    change = {s.stage: s for s in drift.stages}["ingest"].counts["records_in"]
    assert (change.previous, change.current, change.delta, change.pct_change) == (10, 7, -3, -30.0)
    assert change.over_threshold and drift.severity == "warn"
    assert compare_runs(first, second, threshold_pct=30).severity == "ok"  # strictly over
    monkeypatch.setenv("TESSERA_DRIFT_THRESHOLD", "35%")
    assert compare_runs(first, second).threshold_pct == 35.0
    assert compare_runs(first, second).severity == "ok"


def test_threshold_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_drift_threshold() == 20.0
    assert resolve_drift_threshold(5) == 5.0
    monkeypatch.setenv("TESSERA_DRIFT_THRESHOLD", "12.5")
    assert resolve_drift_threshold() == 12.5
    assert resolve_drift_threshold(1) == 1.0
    monkeypatch.setenv("TESSERA_DRIFT_THRESHOLD", "lots")
    with pytest.raises(ContractError, match=r"\$TESSERA_DRIFT_THRESHOLD: expected a non-neg"):
        resolve_drift_threshold()
    with pytest.raises(ContractError, match=r"threshold: .* found -1"):
        resolve_drift_threshold(-1)


def test_a_first_run_has_nothing_to_compare(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = run_pipeline(tmp_path, monkeypatch, "run-1", ROWS)
    report = write_run_report(run)
    assert report.previous_run_dir is None
    assert report.drift.previous_run_id is None and report.drift.severity == "ok"
    assert "nothing to compare with" in (run / "summary.md").read_text()


def test_the_previous_run_is_the_latest_earlier_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = [run_pipeline(tmp_path, monkeypatch, f"r{i}", ROWS) for i in (3, 1, 2)]
    # Names do not decide: start times do. r3 ran first, then r1, then r2.
    assert find_previous_run(runs[2]) == runs[1].resolve()
    assert find_previous_run(runs[1]) == runs[0].resolve()
    assert find_previous_run(runs[0]) is None


def test_a_summary_refuses_mixed_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a = load_receipts(run_pipeline(tmp_path, monkeypatch, "run-1", ROWS))
    b = load_receipts(run_pipeline(tmp_path, monkeypatch, "run-2", ROWS))
    with pytest.raises(ContractError, match="belongs to run demo/run-2, not demo/run-1"):
        summarize_run([a[0], b[1]])
    with pytest.raises(ContractError, match="without receipts"):
        summarize_run([])


def test_summary_consistency_is_checked() -> None:
    with pytest.raises(ValueError, match="stopped_at is None, expected 'ingest'"):
        RunSummary.model_validate(
            {
                "summary_format": 1,
                "pipeline": "demo",
                "run_id": "r",
                "passed": False,
                "stopped_at": None,
                "missing_stages": ["ingest"],
                "started_at": "2024-01-01T00:00:00Z",
                "finished_at": "2024-01-01T00:00:00Z",
                "run_fingerprint": "0" * 64,
                "stages": [],
            }
        )


def test_receipts_on_disk_are_plain_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = run_pipeline(tmp_path, monkeypatch, "run-1", ROWS)
    doc = json.loads((run / "ingest.json").read_text())
    assert Receipt.model_validate(doc).stage == "ingest"
    assert doc["inputs"]["files"][0]["path"] == "input.csv"


@pytest.mark.parametrize(
    ("severity", "fail_on", "reached"),
    [
        ("ok", "alert", False),
        ("warn", "alert", False),
        ("alert", "alert", True),
        ("warn", "warn", True),
        ("ok", "warn", False),
        ("alert", "never", False),
    ],
)
def test_drift_reaches(severity: str, fail_on: str, reached: bool) -> None:
    assert drift_reaches(severity, fail_on) is reached


def test_drift_reaches_names_a_bad_level() -> None:
    with pytest.raises(ContractError, match="'sometimes'"):
        drift_reaches("ok", "sometimes")
