"""A deterministic probe matrix synthesised from a model's own ``feature_infos`` and splits.

The rows mix, per feature: values inside the training range, the exact split thresholds
and their nearest neighbours on either side (where ``<=`` against a threshold decides a
branch, the place a compiler could differ), NaN, 0.0 and values within 1e-35 of it
(LightGBM reads those as 0.0), values below the minimum and above the maximum, and for
categorical features the known categories, unseen ones and negative codes.
Same model text + seed = same matrix.
"""

from __future__ import annotations

import numpy as np

from .base import FloatMatrix
from .model_info import FeatureInfo, ModelInfo

DEFAULT_SAMPLE_ROWS = 4096
DEFAULT_SAMPLE_SEED = 20240601
# Zero and values LightGBM reads as zero (|v| <= kZeroThreshold = 1e-35), see ``compat``.
_ZEROISH = np.array([0.0, -0.0, 1e-40, -1e-40, 5e-36, -5e-36, 1.0000000180025095e-35,
                     -1.0000000180025095e-35, 2e-35, -2e-35])  # fmt: skip


def _numeric_column(
    rng: np.random.Generator, info: FeatureInfo, thresholds: tuple[float, ...], rows: int
) -> np.ndarray:
    low, high = info.low, info.high
    span = max(high - low, 1.0)
    uniform = rng.uniform(low, high, size=rows) if high > low else np.full(rows, low)
    if thresholds:
        picks = np.asarray(thresholds)[rng.integers(0, len(thresholds), size=rows)]
    else:
        picks = uniform
    choice = rng.random(rows)
    column = uniform.copy()  # choice < 0.45 keeps the in-range value
    exact = (choice >= 0.45) & (choice < 0.60)
    column[exact] = picks[exact]
    above = (choice >= 0.60) & (choice < 0.67)
    column[above] = np.nextafter(picks[above], np.inf)
    below = (choice >= 0.67) & (choice < 0.74)
    column[below] = np.nextafter(picks[below], -np.inf)
    column[(choice >= 0.74) & (choice < 0.82)] = np.nan
    zeroish = (choice >= 0.82) & (choice < 0.87)
    column[zeroish] = _ZEROISH[rng.integers(0, len(_ZEROISH), size=int(zeroish.sum()))]
    under = (choice >= 0.87) & (choice < 0.93)
    column[under] = low - span * rng.uniform(0.01, 2.0, size=int(under.sum()))
    over = choice >= 0.93
    column[over] = high + span * rng.uniform(0.01, 2.0, size=int(over.sum()))
    return column


def _categorical_column(rng: np.random.Generator, info: FeatureInfo, rows: int) -> np.ndarray:
    known = np.asarray(info.categories or (0,), dtype=np.float64)
    column = known[rng.integers(0, len(known), size=rows)]
    choice = rng.random(rows)
    column[choice < 0.10] = np.nan
    unseen = (choice >= 0.10) & (choice < 0.20)
    column[unseen] = float(max(known.max(), 0) + 1) + rng.integers(0, 50, size=int(unseen.sum()))
    column[(choice >= 0.20) & (choice < 0.25)] = -1.0
    return column


def synthesise_sample(
    info: ModelInfo, *, rows: int = DEFAULT_SAMPLE_ROWS, seed: int = DEFAULT_SAMPLE_SEED
) -> FloatMatrix:
    """A C-contiguous float64 ``(rows, n_features)`` matrix in the booster's feature order."""
    rng = np.random.default_rng(seed)
    matrix = np.empty((rows, len(info.features)), dtype=np.float64)
    for index, feature in enumerate(info.features):
        if feature.kind == "categorical":
            matrix[:, index] = _categorical_column(rng, feature, rows)
        elif feature.kind == "numeric":
            thresholds = info.thresholds.get(index, ())
            matrix[:, index] = _numeric_column(rng, feature, thresholds, rows)
        else:
            matrix[:, index] = rng.normal(size=rows)
    return np.ascontiguousarray(matrix)
