"""The server's job worker pool: runs ``POST /jobs`` work on threads of this process.

A submission waits only until its job row exists (so the 202 carries the id); when every
worker is busy it is refused at once (503 with Retry-After) rather than queued unseen.
Each running job is claimed on disk; at start the pool marks the jobs of a dead server
``abandoned`` and runs interrupted rescore sweeps again (they resume where they stopped).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from . import _service as api
from .problems import Problem
from .settings import HttpSettings

_LOG = logging.getLogger("tessera.http")
_CREATE_TIMEOUT_S = 120.0
RESUMABLE = ("rescore",)


class JobPool:
    """``settings.job_workers`` threads running facade job functions."""

    def __init__(self, registry: api.Registry, settings: HttpSettings) -> None:
        self._registry = registry
        self._settings = settings
        workers = max(1, settings.job_workers)
        self.workers = workers
        self._slots = threading.BoundedSemaphore(workers)
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tessera-job")
        self.claims = api.JobClaims(settings.serving.state_dir / "http-jobs")

    def recover(self) -> list[dict[str, Any]]:
        """Abandon a dead server's running jobs; run its interrupted sweeps again."""
        report = []
        for claim in self.claims.recover(self._registry):
            entry: dict[str, Any] = {"abandoned": claim.job_id, "operation": claim.operation}
            if claim.operation in RESUMABLE:
                try:
                    entry["resumed_as"] = self.submit(claim.operation, claim.payload)
                except Exception as exc:
                    entry["resume_error"] = str(exc).splitlines()[0]
            _LOG.warning("recovered job %s", entry)
            report.append(entry)
        return report

    def submit(self, operation: str, payload: dict[str, Any]) -> int:
        """Start a job; return its id once its row exists (errors before that are raised)."""
        if not self._slots.acquire(blocking=False):
            problem = Problem(
                503, "job_workers_busy", "Job workers busy",
                f"all {self.workers} job workers are busy; retry later",
            )  # fmt: skip
            problem.headers = {"Retry-After": "5"}
            raise problem
        created = threading.Event()
        box: dict[str, Any] = {}

        def on_created(job_id: int) -> None:
            box["id"] = job_id
            self.claims.claim(job_id, operation, payload)
            created.set()

        def run() -> None:
            try:
                api.run_payload_job(
                    self._registry,
                    operation,
                    payload,
                    backend=self._settings.backend,
                    num_threads=None,
                    pace_s=self._settings.rescore_pace_s,
                    on_created=on_created,
                )
            except Exception as exc:
                box["error"] = exc
                _LOG.warning("job %s (%s) failed: %s", box.get("id"), operation, exc)
            finally:
                if "id" in box:
                    self.claims.release(box["id"])
                self._slots.release()
                created.set()

        self._executor.submit(run)
        created.wait(_CREATE_TIMEOUT_S)
        if "id" in box:
            return int(box["id"])
        if "error" in box:
            raise box["error"]
        raise Problem(
            504,
            "job_not_started",
            "Job not started",
            f"the job did not start within {_CREATE_TIMEOUT_S:.0f} s",
        )

    def close(self) -> None:
        """Wait for running jobs, then drop this process's claims."""
        self._executor.shutdown(wait=True)
        self.claims.close()
