"""Equivalence of a candidate backend with LightGBM, measured rather than assumed.

Tolerance: ``|candidate - lightgbm| <= ABS_TOLERANCE * max(1, |lightgbm|)`` for every row.
A compiled forest sums the same leaf values in a possibly different order (cache-blocked
trees), so differences of a few ulps of the total are expected (PERF-NOTES: 2e-14 for a
500-tree model); 1e-9 relative is five orders of magnitude above that and far below any
difference that could reorder candidates that LightGBM does not consider tied.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import FloatVector

ABS_TOLERANCE = 1e-9


@dataclass(frozen=True)
class EquivalenceReport:
    """How a candidate's scores compare with LightGBM's on one sample."""

    rows: int
    max_abs_diff: float
    worst_row: int
    tolerance: float
    equivalent: bool

    def as_fields(self) -> dict[str, float | int | bool]:
        """The report as event fields."""
        return {
            "sample_rows": self.rows,
            "max_abs_diff": self.max_abs_diff,
            "tolerance": self.tolerance,
            "equivalent": self.equivalent,
        }


def compare_scores(
    reference: FloatVector, candidate: FloatVector, *, tolerance: float = ABS_TOLERANCE
) -> EquivalenceReport:
    """Compare ``candidate`` with the ``reference`` (LightGBM) scores row by row.

    NaN must match NaN; a NaN on one side only, or a shape mismatch, is not equivalent.
    """
    reference = np.asarray(reference, dtype=np.float64)
    candidate = np.asarray(candidate, dtype=np.float64)
    if reference.shape != candidate.shape or reference.ndim != 1:
        return EquivalenceReport(
            rows=int(reference.shape[0]) if reference.ndim else 0,
            max_abs_diff=float("inf"),
            worst_row=-1,
            tolerance=tolerance,
            equivalent=False,
        )
    rows = int(reference.shape[0])
    if rows == 0:
        return EquivalenceReport(0, 0.0, -1, tolerance, True)
    both_nan = np.isnan(reference) & np.isnan(candidate)
    diff = np.where(both_nan, 0.0, np.abs(candidate - reference))
    diff = np.where(np.isnan(diff), np.inf, diff)
    allowed = tolerance * np.maximum(1.0, np.abs(np.nan_to_num(reference)))
    worst = int(np.argmax(diff))
    return EquivalenceReport(
        rows=rows,
        max_abs_diff=float(diff[worst]),
        worst_row=worst,
        tolerance=tolerance,
        equivalent=bool(np.all(diff <= allowed)),
    )
