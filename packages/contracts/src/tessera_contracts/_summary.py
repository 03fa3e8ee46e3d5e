"""``RunSummary``: one pipeline run's receipts folded into a verdict (``summary.json``/``.md``).

A run passes only when every stage passed and no expected stage is missing; otherwise
``stopped_at`` names the first stage (in pipeline order) that failed or never ran.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import Field, model_validator

from ._errors import ContractError
from ._receipts import (
    ErrorEntry,
    Receipt,
    RecordStats,
    StageName,
    aggregate_sha256,
)
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


def _run_fingerprint(receipts: Sequence[Receipt]) -> str:
    """Order-independent hash of (stage, receipt fingerprint): equal for identical runs."""
    return aggregate_sha256([(r.stage, r.fingerprint) for r in receipts])


def summarize_run(
    receipts: Sequence[Receipt], expected_stages: Sequence[str] | None = None
) -> RunSummary:
    """Fold one run's receipts (one per stage, same run id and pipeline) into its summary."""
    if not receipts:
        raise ContractError("cannot summarize a run without receipts")
    ordered = sorted(receipts, key=lambda r: (r.started_at, r.stage))
    first = ordered[0]
    for r in ordered:
        if (r.run_id, r.pipeline) != (first.run_id, first.pipeline):
            raise ContractError(
                f"receipt {r.stage!r} belongs to run {r.pipeline}/{r.run_id}, "
                f"not {first.pipeline}/{first.run_id}"
            )
    stages = [r.stage for r in ordered]
    if len(set(stages)) != len(stages):
        raise ContractError(f"more than one receipt per stage in run {first.run_id}: {stages!r}")
    missing = [s for s in (expected_stages or []) if s not in stages]
    failed = [r.stage for r in ordered if not r.validation.passed]
    return RunSummary(
        summary_format=1,
        pipeline=first.pipeline,
        run_id=first.run_id,
        passed=not failed and not missing,
        stopped_at=failed[0] if failed else (missing[0] if missing else None),
        missing_stages=missing,
        started_at=first.started_at,
        finished_at=max(r.finished_at for r in ordered),
        run_fingerprint=_run_fingerprint(ordered),
        stages=[_stage_summary(r) for r in ordered],
    )


def _stage_summary(r: Receipt) -> StageSummary:
    return StageSummary(
        stage=r.stage,
        passed=r.validation.passed,
        started_at=r.started_at,
        duration_s=r.duration_s,
        git_commit=r.git_commit,
        stats=r.stats,
        inputs_sha256=r.inputs.aggregate_sha256,
        outputs_sha256=r.outputs.aggregate_sha256,
        fingerprint=r.fingerprint,
        errors=list(r.validation.errors),
        warnings=list(r.validation.warnings),
    )


def render_summary_markdown(summary: RunSummary) -> str:
    """A readable ``summary.md`` body: verdict, one table row per stage, then the errors."""
    verdict = "PASSED" if summary.passed else f"FAILED (stopped at `{summary.stopped_at}`)"
    lines = [
        f"# Run `{summary.run_id}` of pipeline `{summary.pipeline}`: {verdict}",
        "",
        f"- started: {summary.started_at.isoformat()}",
        f"- finished: {summary.finished_at.isoformat()}",
        f"- run fingerprint: `{summary.run_fingerprint[:16]}`",
        "",
        "| stage | result | in | accepted | rejected | quarantined | skipped | unit "
        "| inputs | outputs | duration (s) |",
        "|---|---|---:|---:|---:|---:|---:|---|---|---|---:|",
    ]
    for s in summary.stages:
        st = s.stats
        lines.append(
            f"| {s.stage} | {'ok' if s.passed else '**FAILED**'} | {st.records_in} "
            f"| {st.accepted} | {st.rejected} | {st.quarantined} | {st.skipped} | {st.unit} "
            f"| `{s.inputs_sha256[:12]}` | `{s.outputs_sha256[:12]}` | {s.duration_s:.2f} |"
        )
    for stage in summary.missing_stages:
        lines.append(f"| {stage} | **not run** | | | | | | | | | |")
    problems = [(s.stage, e.class_, e.message) for s in summary.stages for e in s.errors]
    warnings = [(s.stage, w) for s in summary.stages for w in s.warnings]
    if problems:
        lines += ["", "## Errors", ""]
        lines += [f"- `{stage}` {cls}: {msg}" for stage, cls, msg in problems]
    if warnings:
        lines += ["", "## Warnings", ""]
        lines += [f"- `{stage}`: {msg}" for stage, msg in warnings]
    return "\n".join(lines) + "\n"


def render_receipt_markdown(receipt: Receipt) -> str:
    """One receipt for a person: verdict, counts, then every input and output file."""
    st = receipt.stats
    lines = [
        f"### `{receipt.stage}`: {'ok' if receipt.validation.passed else 'FAILED'}"
        f" (run `{receipt.run_id}`, pipeline `{receipt.pipeline}`)",
        "",
        f"- {receipt.started_at.isoformat()} .. {receipt.finished_at.isoformat()}"
        f" ({receipt.duration_s:.2f} s), {receipt.producer.name} {receipt.producer.version}"
        f" at {receipt.git_commit or 'unknown commit'}",
        f"- {st.unit}: in {st.records_in}, accepted {st.accepted}, rejected {st.rejected},"
        f" quarantined {st.quarantined}, skipped {st.skipped}",
        f"- fingerprint `{receipt.fingerprint}`",
    ]
    if receipt.parameters:
        params = ", ".join(f"{k}={v!r}" for k, v in sorted(receipt.parameters.items()))
        lines.append(f"- parameters: {params}")
    for title, files in (("inputs", receipt.inputs), ("outputs", receipt.outputs)):
        lines.append(f"- {title} (aggregate `{files.aggregate_sha256[:16]}`):")
        lines += [
            f"  - `{f.path}` {f.kind} sha256 `{f.sha256[:16]}` {f.bytes} bytes"
            + (f", {f.records} records" if f.records is not None else "")
            for f in files.files
        ]
    lines += [f"- error {e.class_}: {e.message}" for e in receipt.validation.errors]
    lines += [f"- warning: {w}" for w in receipt.validation.warnings]
    return "\n".join(lines) + "\n"
