"""Choose and load a backend for one model, with the events that say what was chosen.

``auto`` means ``compiled`` where lleaves is installed, else ``lightgbm``. ``compiled``
falls back to ``lightgbm`` (event ``backend.fallback``) when the compiler is missing, the
model uses something the compiler does not implement, compilation fails, or the compiled
model's scores differ from LightGBM's on the probe sample; scoring never fails over it.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tessera_serving.errors import ConfigurationError

from .backend_events import (
    BACKEND_COMPILED,
    BACKEND_FALLBACK,
    COMPILE_FAILED,
    COMPILER_NOT_INSTALLED,
    NOT_EQUIVALENT,
    UNSUPPORTED_MODEL,
    BackendEvent,
)
from .base import FloatMatrix, FloatVector, Predictor
from .cache_manifest import CacheEntry, CacheStore
from .compile_cache import CompileCache
from .compiled import compiler_available, compiler_identity
from .lightgbm_backend import LightGBMPredictor
from .model_info import parse_model_info, unsupported_reason
from .threads import omp_wait_policy, resolve_num_threads

BACKENDS = ("auto", "lightgbm", "compiled")


@dataclass(frozen=True)
class BackendSelection:
    """The loaded predictor, the backend that was asked for, and what happened on the way."""

    predictor: Predictor
    requested: str
    events: tuple[BackendEvent, ...]
    cache_entry: CacheEntry | None = None


def model_sha256_of(model_text: str, expected: str | None) -> str:
    """The model text's sha256 (of its UTF-8 bytes), checked against ``expected`` if given."""
    actual = hashlib.sha256(model_text.encode("utf-8")).hexdigest()
    if expected is not None and expected != actual:
        raise ConfigurationError(f"model text hashes to {actual}, expected model_sha256 {expected}")
    return actual


def select_predictor(
    model_text: str,
    *,
    backend: str = "auto",
    num_threads: int | None = None,
    model_sha256: str | None = None,
    store: CacheStore | None = None,
    cache_dir: Path | None = None,
) -> BackendSelection:
    """Load ``model_text`` into the requested backend (see the module docstring)."""
    if backend not in BACKENDS:
        raise ConfigurationError(
            f"unknown scoring backend {backend!r}: expected one of {list(BACKENDS)}"
        )
    threads = resolve_num_threads(num_threads)
    if backend == "lightgbm":
        return BackendSelection(LightGBMPredictor(model_text, num_threads=threads), backend, ())
    sha = model_sha256_of(model_text, model_sha256)
    common: dict[str, Any] = {
        "model_sha256": sha,
        "num_threads": threads,
        "omp_wait_policy": omp_wait_policy(),
    }
    fallback = functools.partial(_fallback, model_text, backend, threads, common)
    if not compiler_available():
        level = "info" if backend == "auto" else "warning"
        return fallback(COMPILER_NOT_INSTALLED, "install tessera-serving[compiled]", level)
    info = parse_model_info(model_text)
    reason = unsupported_reason(info)
    if reason is not None:
        return fallback(UNSUPPORTED_MODEL, reason)
    with _cache(store, cache_dir) as cache:
        try:
            entry = cache.get_or_build(
                model_text,
                sha,
                reference_scores=_lazy_reference(model_text, threads),
                num_threads=threads,
                feature_names=info.feature_names,
                info=info,
            )
        except Exception as exc:  # any compiler or cache failure: LightGBM still serves
            return fallback(COMPILE_FAILED, f"{type(exc).__name__}: {exc}")
    measured = entry.report.as_fields()
    if entry.predictor is None:
        measured.pop("equivalent")
        return fallback(NOT_EQUIVALENT, f"cache {entry.cache}", measured=measured)
    event = BackendEvent(BACKEND_COMPILED, "info", _compiled_fields(common, entry, measured))
    return BackendSelection(entry.predictor, backend, (event,), entry)


def _compiled_fields(
    common: dict[str, Any], entry: CacheEntry, measured: dict[str, Any]
) -> dict[str, Any]:
    """The compiled backend event's fields: the cache entry and its equivalence check."""
    return {
        **common,
        "cache": entry.cache,
        "cache_key": entry.key,
        "object_sha256": entry.manifest["object_sha256"],
        "max_abs_diff": measured["max_abs_diff"],
        "tolerance": measured["tolerance"],
        "sample_rows": measured["sample_rows"],
        "compile_seconds": entry.compile_seconds,
        "load_seconds": entry.load_seconds,
        "rebuilt_because": entry.rebuilt_because,
    }


def _fallback(
    model_text: str,
    backend: str,
    threads: int,
    common: dict[str, Any],
    reason: str,
    detail: str,
    level: str = "warning",
    measured: dict[str, Any] | None = None,
) -> BackendSelection:
    """LightGBM serves, with a ``backend.fallback`` event that says why."""
    reference = LightGBMPredictor(model_text, num_threads=threads)
    fields: dict[str, Any] = {"requested_backend": backend, "backend": "lightgbm"}
    fields = {**common, **fields, "reason": reason, "detail": detail, **(measured or {})}
    return BackendSelection(reference, backend, (BackendEvent(BACKEND_FALLBACK, level, fields),))


def _lazy_reference(model_text: str, threads: int) -> Callable[[FloatMatrix], FloatVector]:
    """LightGBM's scores for the equivalence check, loading the booster only if asked."""
    reference: LightGBMPredictor | None = None

    def scores(matrix: FloatMatrix) -> FloatVector:
        nonlocal reference
        reference = reference or LightGBMPredictor(model_text, num_threads=threads)
        return reference.predict(matrix)

    return scores


def default_cache_dir() -> Path:
    """Where compiled objects are materialised: ``<state dir>/compiled`` (``TESSERA_HOME``)."""
    from tessera_serving.config import ServingConfig

    return ServingConfig.from_env().state_dir / "compiled"


@contextmanager
def _cache(store: CacheStore | None, cache_dir: Path | None) -> Iterator[CompileCache]:
    """A compile cache over ``store``; without one, a local store inside the cache dir
    (compiled once per machine instead of once per store)."""
    directory = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if store is None:
        from tessera_serving.store import LocalArtifactStore

        store = LocalArtifactStore(directory / "store")
    yield CompileCache(store, directory, compiler_identity())
