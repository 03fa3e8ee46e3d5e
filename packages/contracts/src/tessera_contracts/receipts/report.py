"""A receipts tree on disk -> ``summary.json``, ``summary.md`` and ``drift.json`` for one run.

Layout (``TESSERA_RECEIPTS_DIR``): ``<root>/<pipeline>/<run_id>/<stage>.json``. The previous
run of a pipeline is the sibling run directory that started last before this one did.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tessera_contracts._drift import DriftReport
from tessera_contracts._errors import ContractError
from tessera_contracts._json_io import to_json_text
from tessera_contracts._receipts import Receipt
from tessera_contracts._summary import RunSummary

from .drift import compare_runs, drift_reaches
from .files import has_receipts, load_receipts, write_text_atomic
from .markdown import render_drift_markdown, render_summary_markdown
from .summary import summarize_run

SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"
DRIFT_JSON = "drift.json"


@dataclass(frozen=True)
class RunReport:
    """What ``write_run_report`` produced: the summary, the drift report and their files."""

    summary: RunSummary
    drift: DriftReport
    previous_run_dir: Path | None
    files: tuple[Path, ...]

    def failure(self, fail_on: str = "alert") -> str | None:
        """Why the run fails (a stage stopped it, or drift reached ``fail_on``), else None."""
        if not self.summary.passed:
            return f"run failed: stopped at {self.summary.stopped_at}"
        if drift_reaches(self.drift.severity, fail_on):
            return f"drift {self.drift.severity} reaches {fail_on!r}"
        return None


def find_previous_run(run_dir: str | Path) -> Path | None:
    """The run of the same pipeline (a sibling directory) that started last before this one."""
    run_dir = Path(run_dir).resolve()
    current = load_receipts(run_dir)
    if not current:
        raise ContractError(f"{run_dir}: no receipts in this run directory")
    started = current[0].started_at
    best: tuple[datetime, Path] | None = None
    for sibling in sorted(run_dir.parent.iterdir()):
        if sibling == run_dir or not sibling.is_dir() or not has_receipts(sibling):
            continue
        receipts = load_receipts(sibling)
        first = receipts[0].started_at
        if first < started and (best is None or first > best[0]):
            best = (first, sibling)
    return best[1] if best else None


def write_run_report(
    run_dir: str | Path,
    *,
    threshold_pct: float | None = None,
    expected_stages: list[str] | None = None,
    previous_run_dir: str | Path | None = None,
) -> RunReport:
    """Summarize a run directory and compare it with the previous run; write the files.

    ``previous_run_dir`` defaults to ``find_previous_run(run_dir)``. Writes ``summary.json``,
    ``summary.md`` (summary and drift) and ``drift.json`` atomically into ``run_dir``.
    """
    run_dir = Path(run_dir)
    current: list[Receipt] = load_receipts(run_dir)
    if not current:
        raise ContractError(f"{run_dir}: no receipts in this run directory")
    summary = summarize_run(current, expected_stages)
    prev_dir = Path(previous_run_dir) if previous_run_dir else find_previous_run(run_dir)
    previous = load_receipts(prev_dir) if prev_dir else None
    if previous and previous[0].pipeline != summary.pipeline:
        raise ContractError(
            f"{prev_dir}: pipeline {previous[0].pipeline!r} is not {summary.pipeline!r}"
        )
    drift = compare_runs(previous, current, threshold_pct)
    files = (run_dir / SUMMARY_JSON, run_dir / DRIFT_JSON, run_dir / SUMMARY_MD)
    write_text_atomic(files[0], to_json_text(summary))
    write_text_atomic(files[1], to_json_text(drift))
    write_text_atomic(
        files[2], render_summary_markdown(summary) + "\n" + render_drift_markdown(drift)
    )
    return RunReport(summary=summary, drift=drift, previous_run_dir=prev_dir, files=files)
