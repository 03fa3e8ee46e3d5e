"""Which boosters a job scores with: model references made safe, and how boosters load.

``NAME`` means ``NAME@production``: a version that is not in production scores only when
named explicitly (``NAME#3``), and the job records that it did (``model.explicit_version``).
A stage the registry does not know is a configuration error, never a silent fallback.
"""

from __future__ import annotations

from typing import Any

from tessera_serving.backends import BackendEvent, load_predictor
from tessera_serving.errors import ConfigurationError, NotFoundError
from tessera_serving.registry import STAGES, Registry
from tessera_serving.registry.models import parse_ref, resolve_model
from tessera_serving.scoring import events as ev
from tessera_serving.scoring.guard import ModelCell
from tessera_serving.scoring.scorer import ScoringModel

PRODUCTION = "production"


def check_stage(stage: str | None) -> None:
    """Refuse a required stage the registry does not know (ConfigurationError)."""
    if stage is not None and stage not in STAGES:
        raise ConfigurationError(f"unknown stage {stage!r}: expected one of {', '.join(STAGES)}")


def resolve_cells(registry: Registry, ref: str) -> list[ModelCell]:
    """The boosters of ``NAME`` (= ``NAME@production``), ``NAME@stage`` or ``NAME#VERSION``."""
    name, stage, version = parse_ref(ref)
    if stage is None and version is None:
        try:
            resolved = resolve_model(registry, f"{name}@{PRODUCTION}")
        except NotFoundError as exc:
            raise NotFoundError(
                f"{exc}; a plain model name means {name}@{PRODUCTION}: name a version "
                f"({name}#N) to score one that is not in production"
            ) from exc
    else:
        resolved = resolve_model(registry, ref)
    return [ModelCell.from_row(row) for row in resolved.rows]


def explicit_version_event(cells: list[ModelCell]) -> ev.Event | None:
    """``model.explicit_version`` when the version scoring is not in production, else None."""
    first = cells[0]
    if first.stage == PRODUCTION:
        return None
    return ev.explicit_version(f"{first.name}#{first.version}", first.stage)


def backend_event(event: BackendEvent) -> ev.Event:
    """A backend's event (``backend.compiled``/``backend.fallback``) as a job event."""
    return ev.Event(event.name, event.level, dict(event.fields))


def registry_model(
    registry: Registry,
    cells: list[ModelCell],
    *,
    backend: str,
    num_threads: int | None,
    sink: ev.EventSink,
) -> ScoringModel:
    """A ``ScoringModel`` whose boosters come from the artifact store via ``load_predictor``."""

    def load(cell: ModelCell) -> Any:
        text = registry.store.read_bytes(cell.artifact_sha256).decode("utf-8")
        return load_predictor(
            text,
            backend=backend,
            num_threads=num_threads,
            model_sha256=cell.artifact_sha256,
            store=registry.store,
            cache_dir=registry.config.state_dir / "compiled",
            on_event=lambda e: sink(backend_event(e)),
        )

    return ScoringModel(cells, load)
