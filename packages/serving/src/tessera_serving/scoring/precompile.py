"""Compile a registered model's boosters ahead of scoring (``compile`` / ``register --compile``).

Each booster's compiled object is built (or found) in the artifact store's compile cache,
verified against LightGBM on the probe sample, so the first ``score`` does not pay the
compile (seconds to minutes for large forests).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tessera_serving.backends import BackendEvent, select_predictor
from tessera_serving.registry import Registry
from tessera_serving.registry.models import resolve_model
from tessera_serving.scoring.guard import ModelCell


@dataclass(frozen=True)
class Precompiled:
    """One booster's outcome: ``backend.compiled`` (built or hit) or ``backend.fallback``."""

    ref: str
    event: BackendEvent

    @property
    def compiled(self) -> bool:
        return self.event.name == "backend.compiled"

    def as_json(self) -> dict[str, Any]:
        return {"model": self.ref, "event": self.event.name, **self.event.fields}

    def describe(self) -> str:
        fields = self.event.fields
        if not self.compiled:
            return f"{self.ref}: LightGBM serves it ({fields['reason']}: {fields['detail']})"
        seconds = (
            fields["compile_seconds"] if fields["cache"] == "built" else fields["load_seconds"]
        )
        return (
            f"{self.ref}: compiled ({fields['cache']}, {seconds:.2f}s; max abs diff vs LightGBM "
            f"{fields['max_abs_diff']:.3g} on {fields['sample_rows']} probe rows)"
        )


def precompile(
    registry: Registry, ref: str, *, num_threads: int | None = None
) -> list[Precompiled]:
    """Compile (or find in the cache) every booster of ``ref``; one outcome per booster."""
    outcomes = []
    for row in resolve_model(registry, ref).rows:
        cell = ModelCell.from_row(row)
        text = registry.store.read_bytes(cell.artifact_sha256).decode("utf-8")
        selection = select_predictor(
            text,
            backend="compiled",
            num_threads=num_threads,
            model_sha256=cell.artifact_sha256,
            store=registry.store,
            cache_dir=registry.config.state_dir / "compiled",
        )
        outcomes.append(Precompiled(cell.ref, selection.events[0]))
    return outcomes
