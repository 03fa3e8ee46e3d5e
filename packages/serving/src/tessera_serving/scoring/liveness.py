"""Whether a ``running`` job is still alive: heartbeats, the owning process, abandonment.

A job records its host and pid when it starts and refreshes ``heartbeat_at`` while it works
(at most every ``HEARTBEAT_INTERVAL_S``, inside the transactions it commits anyway). A job
still ``running`` whose process is gone (same host, no such pid) or whose heartbeat is older
than ``STALE_AFTER_S`` is marked ``abandoned`` by the next command that looks, and its staged
scores are dropped: a dead job never leaves scores behind. The status change is a
conditional update (``WHERE status = 'running'``), so it cannot overwrite a job that
finished in the meantime, and a job that publishes re-checks its own status in the same
transaction (see ``staging.publish``).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.orm import Session

from tessera_serving.registry import Registry, utcnow
from tessera_serving.registry.scoring_tables import ScoringJob, StagedScore

HEARTBEAT_INTERVAL_S = 5.0
STALE_AFTER_S = 600.0


def this_host() -> str:
    """Where pids mean the same thing: the host name plus the pid namespace where known.

    Two containers may share a host name (host networking) but not their pids; a pid check
    against a job of another namespace would wrongly find its process gone.
    """
    try:
        namespace = f".pidns{Path('/proc/self/ns/pid').stat().st_ino}"
    except OSError:
        namespace = ""
    return (socket.gethostname() + namespace)[:255]


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host (signal 0 probes without signalling)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def owner_fields() -> dict[str, object]:
    """Fields a new job records about the process that runs it."""
    return {"host": this_host(), "pid": os.getpid(), "heartbeat_at": utcnow()}


class Heartbeat:
    """Refreshes one job's ``heartbeat_at``, at most once per ``interval`` seconds."""

    def __init__(
        self, registry: Registry, job_id: int, interval: float = HEARTBEAT_INTERVAL_S
    ) -> None:
        self._registry = registry
        self.job_id = job_id
        self._interval = interval
        self._last = time.monotonic()

    def beat(self, session: Session | None = None) -> None:
        """Refresh the heartbeat (in ``session`` if given) when the interval has passed."""
        now = time.monotonic()
        if now - self._last < self._interval:
            return
        self._last = now
        stmt = update(ScoringJob).where(ScoringJob.id == self.job_id).values(heartbeat_at=utcnow())
        if session is not None:
            session.execute(stmt)
            return
        with self._registry.transaction() as own:
            own.execute(stmt)


class BackgroundHeartbeat:
    """Beats for one job from a daemon thread while a coordinator only waits on others (a
    partitioned job waiting for its partitions); dies with the process, as a heartbeat must."""

    def __init__(
        self, registry: Registry, job_id: int, interval: float = HEARTBEAT_INTERVAL_S
    ) -> None:
        self._heartbeat = Heartbeat(registry, job_id, interval=0.0)
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"tessera-heartbeat-{job_id}", daemon=True
        )

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._heartbeat.beat()
            except Exception:  # a lost beat is retried; the job itself reports real failures
                continue

    def __enter__(self) -> BackgroundHeartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _why_dead(job: ScoringJob, host: str, stale_after: float) -> str | None:
    if job.host == host and job.pid is not None and not pid_alive(job.pid):
        return f"its process {job.pid} on {host} is gone"
    beat = job.heartbeat_at or job.created_at
    age = (utcnow() - beat).total_seconds()
    if age > stale_after:
        return f"no heartbeat for {age:.0f} s (limit {stale_after:.0f} s)"
    return None


def reap_abandoned(registry: Registry, *, stale_after: float = STALE_AFTER_S) -> list[int]:
    """Mark dead ``running`` jobs ``abandoned`` and drop their staged scores; return their ids."""
    host = this_host()
    with registry.transaction(readonly=True) as session:
        running = session.scalars(select(ScoringJob).where(ScoringJob.status == "running")).all()
        verdicts = {job.id: _why_dead(job, host, stale_after) for job in running}
    reaped = []
    for job_id, why in verdicts.items():
        if why is None:
            continue
        with registry.transaction() as session:
            marked = cast(
                CursorResult[Any],
                session.execute(
                    update(ScoringJob)
                    .where(ScoringJob.id == job_id, ScoringJob.status == "running")
                    .values(status="abandoned", error=f"abandoned: {why}", finished_at=utcnow())
                ),
            ).rowcount
            if marked:
                session.execute(delete(StagedScore).where(StagedScore.job_id == job_id))
                reaped.append(job_id)
    return reaped
