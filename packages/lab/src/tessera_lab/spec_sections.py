"""The spec's small blocks: ``early_stopping``, ``validation`` (where early stopping looks),
``evaluation`` (how NDCG counts the queries that published tables disagree on) and
``gate`` (the lift a model must show over the base ordering).

``validation`` is ``{carve: FRACTION}`` (whole training queries, seeded; the default 0.2)
or ``{snapshot_pairs: [P, ...]}`` (the training rows of those pairs validate and are never
trained on: an imported validation file, or the newest pair for time-ordered validation).

``evaluation.ndcg`` records the NDCG convention of the lab's own metrics:

- ``no_relevant``: a query without a relevant row scores ``one`` (LightGBM, XGBoost),
  ``zero`` (LETOR 4.0's evaluation script) or is left out (``exclude``);
- ``gain``: ``exponential`` (``2^label - 1``, LightGBM's default), ``linear`` (the label)
  or ``label_gain`` (the table in ``params.label_gain``, as LightGBM trains with it); by
  default ``label_gain`` when the params set one, else ``exponential``;
- ``short_queries``: a query with fewer than k rows counts at NDCG@k over the rows it
  has (``truncate``, as LightGBM does) or is left out of NDCG@k
  (``exclude``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

METRIC_PATTERN = r"^(ndcg@[1-9][0-9]*|map@[1-9][0-9]*|auc|average_precision|binary_logloss)$"
"""Validation metrics LightGBM computes during boosting (early stopping, pruning, curves)."""

GATE_METRICS = ("ndcg@1", "ndcg@3", "ndcg@5", "ndcg@10", "map", "mrr", "fmax", "fmax_weighted")
BINARY_GATE_METRICS = ("roc_auc", "pr_auc")

DEFAULT_CARVE = 0.2
"""The share of training queries carved for validation when the spec names nothing else."""


class StrictBlock(BaseModel):
    """A spec block: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Validation(StrictBlock):
    """The validation set: a seeded carve of training queries, or named snapshot pairs."""

    carve: Annotated[float, Field(gt=0.0, lt=1.0)] | None = None
    snapshot_pairs: Annotated[list[str], Field(min_length=1)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _default_carve(cls, data: Any) -> Any:
        if (
            isinstance(data, dict)
            and data.get("snapshot_pairs") is None
            and data.get("carve") is None
        ):
            return {**data, "carve": DEFAULT_CARVE}
        return data

    @model_validator(mode="after")
    def _one_kind(self) -> Validation:
        if self.carve is not None and self.snapshot_pairs is not None:
            raise ValueError("give carve or snapshot_pairs, not both")
        pairs = self.snapshot_pairs or []
        if len(set(pairs)) != len(pairs):
            raise ValueError(f"snapshot pairs must be unique, got {pairs!r}")
        return self

    @property
    def method(self) -> Literal["carve", "snapshot_pairs"]:
        """Which kind of validation set this is."""
        return "carve" if self.snapshot_pairs is None else "snapshot_pairs"


class EarlyStopping(StrictBlock):
    """Stop when the validation metric stops improving (the validation set: ``validation``)."""

    rounds: Annotated[int, Field(gt=0)] = 50
    metric: Annotated[str, Field(pattern=METRIC_PATTERN)] = "ndcg@10"


class GateRule(StrictBlock):
    """Promote only if ``metric(model) - metric(base_score ordering) >= min_lift`` on eval."""

    metric: str = "ndcg@10"
    min_lift: float = 0.0

    @field_validator("metric")
    @classmethod
    def _known(cls, value: str) -> str:
        known = (*GATE_METRICS, *BINARY_GATE_METRICS)
        if value not in known:
            raise ValueError(f"unknown gate metric {value!r}: expected one of {list(known)}")
        return value


NoRelevant = Literal["one", "zero", "exclude"]
Gain = Literal["exponential", "linear", "label_gain"]


class NdcgConvention(StrictBlock):
    """How NDCG counts no-relevant and short queries, and which gain it uses."""

    no_relevant: NoRelevant = "one"
    gain: Gain | None = None
    short_queries: Literal["truncate", "exclude"] = "truncate"


class Evaluation(StrictBlock):
    """The conventions of the lab's own metrics on eval (and its per-split query counts)."""

    ndcg: NdcgConvention = NdcgConvention()


def parse_label_gain(value: Any) -> list[float] | None:
    """LightGBM's ``label_gain`` (a list or a comma-separated string) as floats; None if unset."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise ValueError(f"expected a list of gains, one per label, found {value!r}")
    try:
        gains = [float(item) for item in items]
    except (TypeError, ValueError):
        raise ValueError(f"expected numbers, one gain per label, found {value!r}") from None
    if any(g < 0 or g != g for g in gains):
        raise ValueError(f"gains must be numbers >= 0, found {value!r}")
    return gains


def resolve_gain(evaluation: Any, params: Any) -> Any:
    """Fill ``evaluation.ndcg.gain`` in raw spec data: ``label_gain`` when the params set one."""
    has_table = isinstance(params, dict) and params.get("label_gain") is not None
    if evaluation is None:
        evaluation = {}
    if not isinstance(evaluation, dict):
        return evaluation
    ndcg = evaluation.get("ndcg")
    if ndcg is None:
        ndcg = {}
    if not isinstance(ndcg, dict) or ndcg.get("gain") is not None:
        return evaluation
    gain = "label_gain" if has_table else "exponential"
    return {**evaluation, "ndcg": {**ndcg, "gain": gain}}
