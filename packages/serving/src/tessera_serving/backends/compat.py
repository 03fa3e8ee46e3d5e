"""Make lleaves decide every numerical split exactly as LightGBM's predictor does.

LightGBM's predictor drops dense values with ``|v| <= kZeroThreshold`` (1e-35) from a row,
so they are read as exactly 0.0; lleaves compares the raw value. They disagree only for
splits whose threshold lies within ``[-kZeroThreshold, kZeroThreshold]`` (LightGBM puts
the zero bin's edges there), e.g. a value of exactly -1e-35 against the threshold -1e-35,
or an e-value of 1e-40 against a threshold of 0. The probe sample found it (max abs diff
0.074 on a 100-tree model). Normalising every input costs ~0.3 s per 2M x 40 matrix, so
the model is rewritten instead, once, before compiling: a threshold ``t`` in
``[-kZeroThreshold, 0)`` becomes the next double below ``-kZeroThreshold`` and one in
``[0, kZeroThreshold]`` becomes ``kZeroThreshold``; then ``v <= t'`` equals LightGBM's
``v' <= t`` for every ``v`` (NaN included, whose default direction lleaves derives from
the sign of the threshold). Splits that treat zero as missing (``zero_as_missing``) cannot
be fixed this way; ``model_info.unsupported_reason`` sends those models to LightGBM.
"""

from __future__ import annotations

import math

K_ZERO_THRESHOLD = 1.0000000180025095e-35  # LightGBM's kZeroThreshold (include/LightGBM/meta.h)
REWRITE_VERSION = 1  # part of the compile cache key


def _compatible_threshold(threshold: float) -> float:
    if -K_ZERO_THRESHOLD <= threshold < 0.0:
        return math.nextafter(-K_ZERO_THRESHOLD, -math.inf)
    if 0.0 <= threshold <= K_ZERO_THRESHOLD:
        return K_ZERO_THRESHOLD
    return threshold


def _rewrite_thresholds(threshold_line: str, decision_line: str) -> str:
    thresholds = threshold_line.partition("=")[2].split(" ")
    decisions = [int(d) for d in decision_line.partition("=")[2].split(" ")]
    out = []
    for text, decision in zip(thresholds, decisions, strict=True):
        if decision & 1:  # categorical: the "threshold" indexes cat_boundaries
            out.append(text)
            continue
        value = float(text)
        new = _compatible_threshold(value)
        out.append(text if new == value else repr(new))
    return "threshold=" + " ".join(out)


def lightgbm_compatible_text(model_text: str) -> str:
    """``model_text`` with near-zero numerical thresholds moved as the module explains."""
    lines = model_text.split("\n")
    threshold_at: int | None = None
    for index, line in enumerate(lines):
        if line.startswith("Tree="):
            threshold_at = None
        elif line.startswith("threshold="):
            threshold_at = index
        elif line.startswith("decision_type=") and threshold_at is not None:
            lines[threshold_at] = _rewrite_thresholds(lines[threshold_at], line)
            threshold_at = None
    return "\n".join(lines)
