"""Which process runs which job: claims that survive the process, for recovery after a crash.

A server process holds an exclusive ``flock`` on its own lock file for its whole life and
writes one claim file per job it runs. After a crash (kill -9 included) the lock is gone
with the process; the next process finds the claims of owners whose lock it can take,
marks those jobs ``abandoned`` if they were still running, and returns them so re-startable
work (a rescore sweep, which resumes without duplicating audit rows) can be run again.
"""

from __future__ import annotations

import fcntl
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tessera_serving.registry import Registry, utcnow
from tessera_serving.registry.scoring_tables import ScoringJob

ABANDONED = "abandoned"


@dataclass(frozen=True)
class Claim:
    """A job a process had started, with what is needed to run it again."""

    job_id: int
    operation: str
    payload: dict[str, Any]


class JobClaims:
    """This process's lock and claim files under ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.owner = uuid.uuid4().hex
        self._lock = (directory / f"{self.owner}.lock").open("w")
        fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def claim(self, job_id: int, operation: str, payload: dict[str, Any]) -> None:
        """Record that this process runs ``job_id`` (written then renamed)."""
        record = {"owner": self.owner, "job_id": job_id, "operation": operation, "payload": payload}
        target = self.directory / f"{self.owner}.{job_id}.claim"
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, sort_keys=True), encoding="utf-8")
        tmp.replace(target)

    def release(self, job_id: int) -> None:
        (self.directory / f"{self.owner}.{job_id}.claim").unlink(missing_ok=True)

    def close(self) -> None:
        self._lock.close()
        (self.directory / f"{self.owner}.lock").unlink(missing_ok=True)

    def recover(self, registry: Registry) -> list[Claim]:
        """Claims of dead owners: mark their running jobs abandoned; return them."""
        found: list[Claim] = []
        for lock_path in sorted(self.directory.glob("*.lock")):
            owner = lock_path.stem
            if owner == self.owner or not _dead(lock_path):
                continue
            for path in sorted(self.directory.glob(f"{owner}.*.claim")):
                record = json.loads(path.read_text(encoding="utf-8"))
                claim = Claim(int(record["job_id"]), record["operation"], record["payload"])
                _abandon(registry, claim.job_id)
                found.append(claim)
                path.unlink(missing_ok=True)
            lock_path.unlink(missing_ok=True)
        return found


def _dead(lock_path: Path) -> bool:
    """True if no live process holds ``lock_path``."""
    with lock_path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(handle, fcntl.LOCK_UN)
        return True


def _abandon(registry: Registry, job_id: int) -> None:
    with registry.transaction() as session:
        job = session.get(ScoringJob, job_id)
        if job is not None and job.status == "running":
            job.status = ABANDONED
            job.error = "the server process running this job died"
            job.finished_at = utcnow()
