"""Scoring backends behind one seam (``Predictor``).

``lightgbm`` is the reference and always available; ``compiled`` (lleaves/LLVM, the
``tessera-serving[compiled]`` extra) is 5-10x faster and is verified against LightGBM
before it serves; ``auto`` (the default) picks ``compiled`` where it is installed.
Threads: :func:`resolve_num_threads` is the one policy (flag, ``TESSERA_NUM_THREADS``,
all available CPUs). See ``selection`` for fallbacks and ``events`` for what is recorded.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .backend_events import BACKEND_COMPILED, BACKEND_FALLBACK, BackendEvent
from .threads import THREADS_ENV, omp_wait_policy, resolve_num_threads

if TYPE_CHECKING:
    from .base import FloatMatrix, FloatVector, Predictor
    from .cache_manifest import CacheStore
    from .lightgbm_backend import LightGBMPredictor
    from .selection import BACKENDS, BackendSelection, default_cache_dir, select_predictor

# NumPy, the compile cache and the selection load on first use: the thread policy
# (``_process.configure``, every command) needs none of them.
_LAZY = {
    "BACKENDS": ".selection",
    "BackendSelection": ".selection",
    "CacheStore": ".cache_manifest",
    "FloatMatrix": ".base",
    "FloatVector": ".base",
    "LightGBMPredictor": ".lightgbm_backend",
    "Predictor": ".base",
    "default_cache_dir": ".selection",
    "select_predictor": ".selection",
}

DEFAULT_BACKEND = "auto"

_log = logging.getLogger(__name__)


def load_predictor(
    model_text: str,
    *,
    backend: str = DEFAULT_BACKEND,
    num_threads: int | None = None,
    model_sha256: str | None = None,
    store: CacheStore | None = None,
    cache_dir: Path | None = None,
    on_event: Callable[[BackendEvent], None] | None = None,
) -> Predictor:
    """Load ``model_text`` (LightGBM's text model) into the named backend.

    ``num_threads=None`` applies the thread policy (``resolve_num_threads``). Each backend
    event goes to ``on_event`` (scoring records it on the job); without a callback it is
    logged as one JSON line at its level. Use :func:`select_predictor` to get them back.
    """
    from .selection import select_predictor

    selection = select_predictor(
        model_text,
        backend=backend,
        num_threads=num_threads,
        model_sha256=model_sha256,
        store=store,
        cache_dir=cache_dir,
    )
    for event in selection.events:
        if on_event is not None:
            on_event(event)
        else:
            _log.log(logging.getLevelName(event.level.upper()), event.to_json())
    return selection.predictor


__all__ = [
    "BACKENDS",
    "BACKEND_COMPILED",
    "BACKEND_FALLBACK",
    "DEFAULT_BACKEND",
    "THREADS_ENV",
    "BackendEvent",
    "BackendSelection",
    "CacheStore",
    "FloatMatrix",
    "FloatVector",
    "LightGBMPredictor",
    "Predictor",
    "default_cache_dir",
    "load_predictor",
    "omp_wait_policy",
    "resolve_num_threads",
    "select_predictor",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tessera_serving.backends' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
