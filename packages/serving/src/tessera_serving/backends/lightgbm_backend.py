"""The reference backend: LightGBM's own ``Booster.predict``.

LightGBM is imported on first use, so a process served entirely by cached compiled models
never loads it (with scikit-learn installed, ``import lightgbm`` also imports sklearn).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tessera_serving.errors import ConfigurationError

from .base import FloatMatrix, FloatVector
from .threads import load_lightgbm

if TYPE_CHECKING:
    import lightgbm as lgb


class LightGBMPredictor:
    """Scores with ``lightgbm.Booster.predict`` using an explicit thread count."""

    backend = "lightgbm"

    def __init__(self, model_text: str, *, num_threads: int = 1) -> None:
        if num_threads < 1:
            raise ConfigurationError(f"num_threads must be >= 1, got {num_threads}")
        booster: lgb.Booster = load_lightgbm().Booster(model_str=model_text)
        self._booster = booster
        self._num_threads = num_threads
        self._feature_names = tuple(self._booster.feature_name())

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The booster's own feature order."""
        return self._feature_names

    @property
    def booster(self) -> lgb.Booster:
        """The underlying LightGBM booster."""
        return self._booster

    def predict(self, matrix: FloatMatrix) -> FloatVector:
        """Score ``matrix`` with ``Booster.predict`` (bit-identical by construction)."""
        scores = self._booster.predict(matrix, num_threads=self._num_threads)
        return np.asarray(scores, dtype=np.float64)
