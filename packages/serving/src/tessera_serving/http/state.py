"""What one server process holds: settings, the registry, metrics, loaded models, records."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from . import _service as api
from .job_pool import JobPool
from .loaded import LoadedModels
from .metrics import ServiceMetrics
from .settings import HttpSettings

_LOG = logging.getLogger("tessera.http")


@dataclass
class ServiceState:
    """The process-wide objects every route reaches through ``app.state.service``."""

    settings: HttpSettings
    registry: api.Registry
    metrics: ServiceMetrics
    models: LoadedModels
    recorder: api.RequestRecorder
    jobs: JobPool

    @classmethod
    def open(cls, settings: HttpSettings, metrics: ServiceMetrics) -> ServiceState:
        """Open the registry (even if not at head: ``/readyz`` reports it) and load models."""
        registry = api.open_registry(settings.serving, check_revision=False)
        models = LoadedModels(registry, settings, metrics)
        recorder = api.RequestRecorder(registry, flush_s=settings.record_flush_s)
        jobs = JobPool(registry, settings)
        state = cls(settings, registry, metrics, models, recorder, jobs)
        problems = api.registry_problems(registry)
        if problems:
            _LOG.error("not ready: %s", "; ".join(problems))
            return state
        recorder.start()
        served = models.reload()
        _LOG.info("serving %s", [m["model"] for m in served["models"]])
        jobs.recover()
        return state

    def close(self) -> None:
        self.jobs.close()
        self.recorder.close()
        self.registry.close()
