"""Scoring backends behind one seam (``Predictor``).

``lightgbm`` is the reference and always available.
"""

from __future__ import annotations

from .base import FloatMatrix, FloatVector, Predictor
from .lightgbm_backend import LightGBMPredictor

BACKENDS = ("lightgbm",)


def load_predictor(
    model_text: str, *, backend: str = "lightgbm", num_threads: int = 1
) -> Predictor:
    """Load ``model_text`` (LightGBM's text model) into the named backend."""
    if backend == "lightgbm":
        return LightGBMPredictor(model_text, num_threads=num_threads)
    raise ValueError(f"unknown scoring backend {backend!r}: expected one of {list(BACKENDS)}")


__all__ = [
    "BACKENDS",
    "FloatMatrix",
    "FloatVector",
    "LightGBMPredictor",
    "Predictor",
    "load_predictor",
]
