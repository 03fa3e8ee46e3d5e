"""``summarize_run``: one pipeline run's receipts folded into its ``RunSummary``."""

from __future__ import annotations

from collections.abc import Sequence

from tessera_contracts._errors import ContractError
from tessera_contracts._receipts import Receipt, aggregate_sha256
from tessera_contracts._summary import RunSummary, StageSummary


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
