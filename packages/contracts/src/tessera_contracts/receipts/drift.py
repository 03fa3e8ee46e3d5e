"""``compare_runs``: one pipeline run compared stage by stage with the run before it.

Per stage: record-count changes (over a threshold, default 20 %, they warn), new error
classes, whether the input / output aggregate hashes match, and ``deterministic_violation``
when the inputs, parameters and code are unchanged but the outputs changed (alert).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Literal

from tessera_contracts._drift import CountChange, DriftReport, Severity, StageDrift
from tessera_contracts._errors import ContractError
from tessera_contracts._receipts import Receipt

DRIFT_THRESHOLD_ENV = "TESSERA_DRIFT_THRESHOLD"
DEFAULT_THRESHOLD_PCT = 20.0
COUNT_FIELDS = ("records_in", "accepted", "rejected", "quarantined", "skipped")
_RANK: dict[str, int] = {"ok": 0, "warn": 1, "alert": 2}


FAIL_ON_CHOICES = ("alert", "warn", "never")
"""How much drift fails a run: ``alert`` only, ``warn`` or worse, or ``never``."""


def drift_reaches(severity: str, fail_on: str) -> bool:
    """True when a drift ``severity`` (ok/warn/alert) reaches the ``fail_on`` level."""
    if fail_on not in FAIL_ON_CHOICES:
        raise ContractError(f"fail_on must be one of {list(FAIL_ON_CHOICES)}, got {fail_on!r}")
    return fail_on != "never" and _RANK[severity] >= _RANK[fail_on]


def resolve_drift_threshold(threshold_pct: float | None = None) -> float:
    """The explicit threshold (percent), else ``$TESSERA_DRIFT_THRESHOLD``, else 20."""
    source = "threshold"
    value: float | str | None = threshold_pct
    if value is None:
        raw = os.environ.get(DRIFT_THRESHOLD_ENV, "").strip()
        if not raw:
            return DEFAULT_THRESHOLD_PCT
        source, value = f"${DRIFT_THRESHOLD_ENV}", raw.removesuffix("%").strip()
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number < 0:
        raise ContractError(
            f"{source}: expected a non-negative percentage such as 20, found {value!r}"
        )
    return number


def _count_change(previous: int, current: int, threshold: float) -> CountChange:
    if previous == 0:
        pct = None if current else 0.0
        over = current != 0
    else:
        pct = round((current - previous) / previous * 100.0, 6)
        over = abs(pct) > threshold
    return CountChange(
        previous=previous,
        current=current,
        delta=current - previous,
        pct_change=pct,
        over_threshold=over,
    )


def _compare_stage(prev: Receipt, cur: Receipt, threshold: float) -> StageDrift:
    counts = {
        name: _count_change(getattr(prev.stats, name), getattr(cur.stats, name), threshold)
        for name in COUNT_FIELDS
    }
    prev_classes = {e.class_ for e in prev.validation.errors}
    new_classes = sorted({e.class_ for e in cur.validation.errors} - prev_classes)
    inputs_match = prev.inputs.aggregate_sha256 == cur.inputs.aggregate_sha256
    outputs_match = prev.outputs.aggregate_sha256 == cur.outputs.aggregate_sha256
    parameters_match = prev.parameters == cur.parameters
    code_match = (prev.git_commit, prev.producer) == (cur.git_commit, cur.producer)
    violation = inputs_match and parameters_match and code_match and not outputs_match
    alerts: list[str] = []
    warns: list[str] = []
    if violation:
        alerts.append("deterministic violation: same inputs, parameters and code, other outputs")
    if prev.validation.passed and not cur.validation.passed:
        alerts.append("stage passed in the previous run and fails now")
    elif not cur.validation.passed:
        warns.append("stage fails, as in the previous run")
    warns += [
        f"{name} {c.previous} -> {c.current} "
        + (f"({c.pct_change:+.1f}%)" if c.pct_change is not None else "(from zero)")
        + f" beyond {threshold:g}%"
        for name, c in counts.items()
        if c.over_threshold
    ]
    if new_classes:
        warns.append(f"new error classes: {', '.join(new_classes)}")
    notes = []
    if not inputs_match:
        notes.append("inputs changed")
    if not parameters_match:
        notes.append("parameters changed")
    if not code_match:
        notes.append("code changed")
    if not outputs_match and not violation:
        notes.append("outputs changed")
    severity: Severity = "alert" if alerts else "warn" if warns else "ok"
    return StageDrift(
        stage=cur.stage,
        status="compared",
        severity=severity,
        previous_passed=prev.validation.passed,
        current_passed=cur.validation.passed,
        counts=counts,
        new_error_classes=new_classes,
        inputs_match=inputs_match,
        outputs_match=outputs_match,
        parameters_match=parameters_match,
        code_match=code_match,
        deterministic_violation=violation,
        reasons=alerts + warns + notes,
    )


def _one_sided(r: Receipt, status: Literal["added", "missing"]) -> StageDrift:
    passed = r.validation.passed
    return StageDrift(
        stage=r.stage,
        status=status,
        severity="warn",
        previous_passed=passed if status == "missing" else None,
        current_passed=passed if status == "added" else None,
        counts={},
        new_error_classes=[],
        inputs_match=None,
        outputs_match=None,
        parameters_match=None,
        code_match=None,
        deterministic_violation=False,
        reasons=[
            "stage not in the previous run" if status == "added" else "stage did not run this time"
        ],
    )


def compare_runs(
    previous: Sequence[Receipt] | None,
    current: Sequence[Receipt],
    threshold_pct: float | None = None,
) -> DriftReport:
    """Compare the current run's receipts with the previous run's (None: first run, ``ok``)."""
    if not current:
        raise ContractError("cannot compare a run without receipts")
    threshold = resolve_drift_threshold(threshold_pct)
    head = current[0]
    stages: list[StageDrift] = []
    if previous:
        prev_by_stage = {r.stage: r for r in previous}
        cur_by_stage = {r.stage: r for r in current}
        for r in sorted(current, key=lambda r: (r.started_at, r.stage)):
            prev = prev_by_stage.get(r.stage)
            stages.append(_compare_stage(prev, r, threshold) if prev else _one_sided(r, "added"))
        stages += [_one_sided(r, "missing") for r in previous if r.stage not in cur_by_stage]
    worst = max((s.severity for s in stages), key=_RANK.__getitem__, default="ok")
    return DriftReport(
        drift_format=1,
        pipeline=head.pipeline,
        run_id=head.run_id,
        previous_run_id=previous[0].run_id if previous else None,
        threshold_pct=threshold,
        severity=worst,
        deterministic_violation=any(s.deterministic_violation for s in stages),
        stages=stages,
    )
