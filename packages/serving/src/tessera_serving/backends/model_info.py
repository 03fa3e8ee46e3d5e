"""What a compiler needs to know about a LightGBM text model, read without LightGBM.

``feature_infos`` gives each feature's training range (``[min:max]``), its categories
(``a:b:c``) or ``none`` (unused); the split thresholds are where a compiled model and
LightGBM could disagree, so the equivalence sample includes them. ``unsupported_reason``
names what lleaves 1.3 does not reproduce (it ignores linear-tree leaf models, returns one
score per row, and reads zero-as-missing splits differently; see ``compat``), so such
models never reach the compiler.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field


@dataclass(frozen=True)
class FeatureInfo:
    """One feature's training-time domain from ``feature_infos``."""

    kind: str  # "numeric", "categorical" or "unused"
    low: float = 0.0
    high: float = 0.0
    categories: tuple[int, ...] = ()


@dataclass(frozen=True)
class ModelInfo:
    """The parts of ``model.txt`` that decide compilability and the equivalence sample."""

    objective: str
    num_class: int
    num_tree_per_iteration: int
    feature_names: tuple[str, ...]
    features: tuple[FeatureInfo, ...]
    num_trees: int
    linear_trees: bool
    zero_as_missing: bool
    thresholds: dict[int, tuple[float, ...]] = field(default_factory=dict)


def _header_value(header: dict[str, str], key: str) -> str:
    try:
        return header[key]
    except KeyError:
        raise ValueError(f"model text has no {key}= line in its header") from None


def _parse_feature_info(text: str) -> FeatureInfo:
    if text == "none":
        return FeatureInfo(kind="unused")
    if text.startswith("[") and text.endswith("]"):
        low, _, high = text[1:-1].partition(":")
        return FeatureInfo(kind="numeric", low=float(low), high=float(high))
    return FeatureInfo(kind="categorical", categories=tuple(int(c) for c in text.split(":")))


def parse_model_info(model_text: str) -> ModelInfo:
    """Parse the header and split thresholds of LightGBM's text model format (v3/v4)."""
    header: dict[str, str] = {}
    thresholds: defaultdict[int, set[float]] = defaultdict(set)
    num_trees = 0
    linear = False
    zero_missing = False
    split_features: list[int] = []
    in_header = True
    for line in model_text.splitlines():
        if line.startswith("Tree="):
            in_header = False
            num_trees += 1
            continue
        if line.startswith("end of trees"):
            break
        key, sep, value = line.partition("=")
        if not sep:
            continue
        if in_header:
            header[key] = value
        elif key == "split_feature":
            split_features = [int(v) for v in value.split()]
        elif key == "threshold":
            for feature, threshold in zip(split_features, value.split(), strict=False):
                thresholds[feature].add(float(threshold))
        elif key == "decision_type":
            # bits 2-3 are the missing type; 1 = Zero (trained with zero_as_missing)
            zero_missing = zero_missing or any((int(d) >> 2) & 3 == 1 for d in value.split())
        elif key == "is_linear" and value.strip() == "1":
            linear = True
    names = tuple(_header_value(header, "feature_names").split(" "))
    infos = tuple(_parse_feature_info(t) for t in _header_value(header, "feature_infos").split())
    if len(infos) != len(names):
        raise ValueError(
            f"model text lists {len(names)} feature_names but {len(infos)} feature_infos"
        )
    return ModelInfo(
        objective=_header_value(header, "objective").split(" ")[0],
        num_class=int(_header_value(header, "num_class")),
        num_tree_per_iteration=int(_header_value(header, "num_tree_per_iteration")),
        feature_names=names,
        features=infos,
        num_trees=num_trees,
        linear_trees=linear,
        zero_as_missing=zero_missing,
        thresholds={f: tuple(sorted(v)) for f, v in thresholds.items()},
    )


# Objectives lleaves 1.3 implements with one output per row (see its codegen).
COMPILABLE_OBJECTIVES = frozenset(
    {
        "binary",
        "xentropy",
        "cross_entropy",
        "xentlambda",
        "cross_entropy_lambda",
        "poisson",
        "gamma",
        "tweedie",
        "regression",
        "regression_l1",
        "huber",
        "fair",
        "quantile",
        "mape",
        "lambdarank",
        "rank_xendcg",
    }
)


def unsupported_reason(info: ModelInfo) -> str | None:
    """Why the compiler cannot serve this model (``None`` when it can)."""
    if info.linear_trees:
        return "linear_tree"
    if info.zero_as_missing:
        return "zero_as_missing"
    if info.num_class != 1 or info.num_tree_per_iteration != 1:
        return "multiclass"
    if info.objective not in COMPILABLE_OBJECTIVES:
        return f"objective_{info.objective}"
    if info.num_trees == 0:
        return "no_trees"
    return None
