"""``RunSummary``: the model of one pipeline run's receipts folded into a verdict.

A run passes only when every stage passed and no expected stage is missing; otherwise
``stopped_at`` names the first stage (in pipeline order) that failed or never ran. The
folding itself (``summarize_run``) is receipts runtime: ``tessera_contracts.receipts``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from ._errors import ContractError
from ._receipts import ErrorEntry, RecordStats, StageName
from ._values import GIT_SHA_PATTERN, Name, Sha256, StrictModel, UtcDatetime


class StageSummary(StrictModel):
    """One stage's line in the run summary."""

    stage: StageName
    passed: bool
    started_at: UtcDatetime
    duration_s: Annotated[float, Field(ge=0)]
    git_commit: Annotated[str | None, Field(pattern=GIT_SHA_PATTERN)]
    stats: RecordStats
    inputs_sha256: Sha256
    outputs_sha256: Sha256
    fingerprint: Sha256
    errors: list[ErrorEntry]
    warnings: list[str]


class RunSummary(StrictModel):
    """``summary.json``: did the run pass, and if not, which stage stopped it."""

    summary_format: Literal[1]
    pipeline: Name
    run_id: Name
    passed: bool
    stopped_at: StageName | None
    missing_stages: list[StageName]
    started_at: UtcDatetime
    finished_at: UtcDatetime
    run_fingerprint: Sha256
    stages: list[StageSummary]

    @model_validator(mode="after")
    def _consistent(self) -> RunSummary:
        failed = [s.stage for s in self.stages if not s.passed]
        passed = not failed and not self.missing_stages
        if self.passed != passed:
            raise ContractError(
                f"summary passed is {self.passed} but failed stages are {failed!r} and missing "
                f"stages are {self.missing_stages!r}"
            )
        expected_stop = next(iter(failed + self.missing_stages), None)
        if self.stopped_at != expected_stop:
            raise ContractError(
                f"summary stopped_at is {self.stopped_at!r}, expected {expected_stop!r}"
            )
        return self
