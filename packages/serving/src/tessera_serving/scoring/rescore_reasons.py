"""Why a re-scoring sweep changed no row: one plain phrase per cause, for the job's result.

Counts come from the sweep's run (``RescoreResult``) and the audit table, so a rerun of a
finished sweep says the rows were already re-scored rather than nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import func, select

from tessera_serving.registry import Registry
from tessera_serving.registry.scoring_tables import ScoreAudit, ScoringJob
from tessera_serving.scoring import events as ev

if TYPE_CHECKING:
    from tessera_serving.scoring.rescore import RescoreResult


def sweep_writes(registry: Registry, sweep_id: int) -> int:
    """How many rows the sweep has written so far (audit rows), before this run works."""
    with registry.transaction(readonly=True) as session:
        return int(session.scalar(select(func.count()).where(ScoreAudit.sweep_id == sweep_id)) or 0)


def superseded_jobs(registry: Registry, name: str, jobs: list[int]) -> list[str]:
    """Why the given jobs have no current rows: they stored scores, all since replaced."""
    with registry.transaction(readonly=True) as session:
        stored = session.scalars(
            select(ScoringJob.id).where(
                ScoringJob.id.in_(jobs),
                ScoringJob.model_name == name,
                ScoringJob.stored.is_(True),
                ScoringJob.status == "succeeded",
            )
        ).all()
    if not stored:
        return []
    return [
        f"every score stored by job(s) {sorted(stored)} was superseded: "
        "a later score job stored them again"
    ]


def why_nothing_changed(
    result: RescoreResult, name: str, jobs: list[int] | None, any_source: bool, done_before: int
) -> list[str]:
    """Why a sweep re-scored no row (empty when it re-scored some): one phrase per cause."""
    if result.rescored:
        return []
    if not any_source:
        where = "" if jobs is None else f" from score jobs {jobs}"
        return [
            f"no stored scores of model {name!r}{where} (only `score --store` jobs are re-scored)"
        ]
    reasons = []
    if result.unchanged:
        refusals = sorted(
            {e.name for e in result.events if e.level != "info"} - {ev.EXPLICIT_VERSION}
        )
        named = ", ".join(refusals) or "the guard"
        reasons.append(
            f"{result.unchanged} row(s) not scored by the model ({named}; see "
            f"`tessera-serve events {result.job_id}`)"
        )
    superseded = result.not_current - done_before
    if done_before:
        reasons.append(f"{done_before} row(s) already re-scored by this sweep")
    if superseded > 0:
        reasons.append(f"{superseded} row(s) superseded: a later score job stored them again")
    return reasons
