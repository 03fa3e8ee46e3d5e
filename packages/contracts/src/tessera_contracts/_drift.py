"""``DriftReport``: the model of one pipeline run compared stage by stage with the run before.

The comparison itself (``compare_runs``) is receipts runtime: ``tessera_contracts.receipts``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ._receipts import StageName
from ._values import Name, StrictModel

Severity = Literal["ok", "warn", "alert"]


class CountChange(StrictModel):
    """One count of one stage, before and now."""

    previous: Annotated[int, Field(ge=0)]
    current: Annotated[int, Field(ge=0)]
    delta: int
    pct_change: float | None
    over_threshold: bool


class StageDrift(StrictModel):
    """One stage compared with the same stage of the previous run."""

    stage: StageName
    status: Literal["compared", "added", "missing"]
    severity: Severity
    previous_passed: bool | None
    current_passed: bool | None
    counts: dict[str, CountChange]
    new_error_classes: list[str]
    inputs_match: bool | None
    outputs_match: bool | None
    parameters_match: bool | None
    code_match: bool | None
    deterministic_violation: bool
    reasons: list[str]


class DriftReport(StrictModel):
    """``drift.json``: a run against the previous run of the same pipeline."""

    drift_format: Literal[1]
    pipeline: Name
    run_id: Name
    previous_run_id: Name | None
    threshold_pct: Annotated[float, Field(ge=0)]
    severity: Severity
    deterministic_violation: bool
    stages: list[StageDrift]
