"""The scoring backend seam: anything that turns a feature matrix into booster scores."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

FloatMatrix = npt.NDArray[np.float64]
FloatVector = npt.NDArray[np.float64]


class Predictor(Protocol):
    """A loaded booster that scores matrices.

    ``predict`` takes a C-contiguous float64 matrix of shape ``(rows, len(feature_names))``
    whose columns are in ``feature_names`` order (missing values as NaN) and returns the
    same values ``lightgbm.Booster.predict`` would (probabilities for binary, raw scores
    for lambdarank) as a float64 vector of length ``rows``.
    """

    @property
    def backend(self) -> str:
        """The backend's name, e.g. ``lightgbm`` or ``compiled``."""
        ...

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The booster's own feature order."""
        ...

    def predict(self, matrix: FloatMatrix) -> FloatVector:
        """Score ``matrix``; see the class docstring for the layout."""
        ...
