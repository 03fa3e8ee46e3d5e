"""The models the server serves: resolved ``NAME@production`` at start and on reload.

Loaded models are kept by booster sha: a reload that resolves the same boosters keeps the
loaded (compiled) predictors. The table of served models is replaced in one assignment, so
a request in flight finishes on the model it started with. A model that fails to load or
verify is never served; if an earlier version was loaded, it keeps serving and ``/readyz``
reports the failure.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import Any

from . import _service as api
from .metrics import ServiceMetrics
from .problems import Problem
from .settings import HttpSettings

_LOG = logging.getLogger("tessera.http")
_ON_DEMAND_MAX = 8


class LoadedModels:
    """Served models by name, plus versions named explicitly, loaded on first use."""

    def __init__(
        self, registry: api.Registry, settings: HttpSettings, metrics: ServiceMetrics
    ) -> None:
        self._registry = registry
        self._settings = settings
        self._metrics = metrics
        self._served: dict[str, api.ServedModel] = {}
        self._on_demand: OrderedDict[tuple[str, ...], api.ServedModel] = OrderedDict()
        self._reload_lock = threading.Lock()
        self._demand_lock = threading.Lock()
        self.errors: dict[str, str] = {}
        self.reloads = 0

    def names(self) -> list[str]:
        """The names to serve: the configured list, else every name with a production version."""
        if self._settings.models is not None:
            return list(self._settings.models)
        versions = api.list_versions(self._registry)
        return sorted({v.name for v in versions if v.stage == "production"})

    def reload(self) -> dict[str, Any]:
        """Resolve every served name again; swap in what loaded; return what is served."""
        with self._reload_lock:
            previous = self._served
            by_sha = {m.shas: m for m in [*previous.values(), *self._on_demand.values()]}
            served: dict[str, api.ServedModel] = {}
            errors: dict[str, str] = {}
            try:
                names = self.names()
            except Exception as exc:
                names, errors["*"] = list(previous), _first_line(exc)
            for name in names:
                try:
                    served[name] = self._load(f"{name}@production", by_sha)
                except Exception as exc:
                    errors[name] = _first_line(exc)
                    _LOG.error("model %s@production not served: %s", name, errors[name])
                    if name in previous:
                        served[name] = previous[name]
            self._served, self.errors = served, errors
            self.reloads += 1
            self._metrics.set_loaded(
                (m.name, m.version, c.artifact_sha256, b)
                for m in served.values()
                for c, b in zip(m.cells, m.backends, strict=True)
            )
            return self.describe()

    def _load(self, ref: str, by_sha: dict[tuple[str, ...], api.ServedModel]) -> api.ServedModel:
        shas = api.resolve_shas(self._registry, ref)
        if shas in by_sha:
            return by_sha[shas]
        return api.load_served_model(
            self._registry,
            ref,
            backend=self._settings.backend,
            num_threads=None,
        )

    def describe(self) -> dict[str, Any]:
        return {
            "models": [api.describe_loaded(m) for m in self._served.values()],
            "errors": dict(self.errors),
        }

    def get(self, ref: str) -> api.ServedModel:
        """The model ``ref`` names: a served name (or ``NAME@production``), else loaded on use."""
        name = ref.removesuffix("@production")
        if "@" not in name and "#" not in name:
            served = self._served.get(name)
            if served is None:
                why = self.errors.get(name)
                raise Problem(
                    503 if why else 404,
                    "model_not_served",
                    "Model not served",
                    f"model {name!r} is not served by this server"
                    + (f": {why}" if why else "; it serves " + (", ".join(self._served) or "none")),
                )
            return served
        served_by_sha = {m.shas: m for m in self._served.values()}
        with self._demand_lock:
            served_by_sha.update(self._on_demand)
            model = self._load(ref, served_by_sha)
            self._on_demand[model.shas] = model
            self._on_demand.move_to_end(model.shas)
            while len(self._on_demand) > _ON_DEMAND_MAX:
                self._on_demand.popitem(last=False)
        return model


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
