"""``RunRecord``: ``run.json``, the record of one training run (DESIGN.md section 5)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from ._errors import ContractError
from ._fingerprints import compute_feature_schema_sha
from ._manifest import check_feature_schema, check_fingerprints, check_snapshot_pairs
from ._values import License, Name, Producer, Sha256, ShortSha, StrictModel, UtcDatetime

MetricValues = dict[str, float]
"""Metric name (``ndcg@10``, ``map``, ``mrr``, ``roc_auc``, ...) -> finite value."""


class DatasetRef(StrictModel):
    """Which dataset a run trained on, and how many rows each split had."""

    name: Name
    manifest_sha256: Sha256
    schema_sha: ShortSha
    snapshot_pairs: list[str]
    train_rows: Annotated[int, Field(ge=0)]
    valid_rows: Annotated[int, Field(ge=0)]
    eval_rows: Annotated[int, Field(ge=0)]

    @field_validator("snapshot_pairs")
    @classmethod
    def _snapshot_pairs(cls, value: list[str]) -> list[str]:
        return check_snapshot_pairs(value)


class ModelEntry(StrictModel):
    """The booster file of a run and what LightGBM says about it."""

    file: Literal["model.txt"]
    sha256: Sha256
    num_trees: Annotated[int, Field(ge=0)]
    best_iteration: Annotated[int, Field(ge=0)]
    lightgbm_version: Annotated[str, Field(min_length=1)]
    rounds: Annotated[int | None, Field(ge=0)] = None
    """Boosting rounds run (early stopping keeps the first ``best_iteration`` of them)."""


class ValidationRef(StrictModel):
    """Where early stopping looked: a seeded carve of training queries, named snapshot
    pairs of the train split (never trained on), or nothing (``early_stopping: null``)."""

    method: Literal["carve", "snapshot_pairs", "none"]
    carve: Annotated[float | None, Field(gt=0, lt=1)] = None
    snapshot_pairs: list[str] | None = None
    rows: Annotated[int, Field(ge=0)]
    queries: Annotated[int, Field(ge=0)]


class SplitQueryCounts(StrictModel):
    """The queries of one split that NDCG conventions disagree on."""

    queries: Annotated[int, Field(ge=0)]
    no_relevant: Annotated[int, Field(ge=0)]
    """Queries without a row of label > 0."""
    fewer_than_k: dict[str, Annotated[int, Field(ge=0)]]
    """``ndcg@k`` -> queries with fewer than k rows."""


class EvaluationRef(StrictModel):
    """The NDCG convention of the run's metrics, and per split how many queries it touches."""

    ndcg_no_relevant: Literal["one", "zero", "exclude"]
    ndcg_gain: Literal["exponential", "linear", "label_gain"]
    label_gain: list[Annotated[float, Field(ge=0)]] | None = None
    ndcg_short_queries: Literal["truncate", "exclude"]
    splits: dict[str, SplitQueryCounts]


class CategoryMetrics(StrictModel):
    """Model and baseline metrics restricted to one category."""

    rows: Annotated[int, Field(ge=0)]
    queries: Annotated[int, Field(ge=0)]
    eval: MetricValues
    baseline: MetricValues


class Metrics(StrictModel):
    """Evaluation on ``eval.parquet``: the model, the ``base_score`` ordering, per category."""

    eval: MetricValues
    baseline: MetricValues
    per_category: dict[str, CategoryMetrics]

    @model_validator(mode="after")
    def _same_metric_names(self) -> Metrics:
        if set(self.eval) != set(self.baseline):
            raise ContractError(
                f"eval and baseline metrics differ: {sorted(self.eval)} vs {sorted(self.baseline)}"
            )
        return self


def gate_verdict(lift: float, min_lift: float) -> Literal["PROMOTE", "HOLD"]:
    """The gate rule, owned here so the lab and serving decide alike: ``lift >= min_lift``."""
    return "PROMOTE" if lift >= min_lift else "HOLD"


def decide_gate(metric: str, min_lift: float, metrics: Metrics) -> Gate:
    """The gate of ``metrics`` under a rule (``metric``, ``min_lift``), computed from eval.

    Raises ContractError when ``metric`` was not computed for the model or the baseline.
    """
    if metric not in metrics.eval or metric not in metrics.baseline:
        raise ContractError(
            f"gate metric {metric!r} was not computed (available: {sorted(metrics.eval)})"
        )
    model_value, baseline_value = metrics.eval[metric], metrics.baseline[metric]
    lift = model_value - baseline_value
    return Gate(
        metric=metric,
        min_lift=min_lift,
        model_value=model_value,
        baseline_value=baseline_value,
        lift=lift,
        verdict=gate_verdict(lift, min_lift),
    )


class Gate(StrictModel):
    """The promotion gate: ``lift = model_value - baseline_value`` must reach ``min_lift``."""

    metric: Annotated[str, Field(min_length=1)]
    min_lift: float
    model_value: float
    baseline_value: float
    lift: float
    verdict: Literal["PROMOTE", "HOLD"]

    @model_validator(mode="after")
    def _consistent(self) -> Gate:
        expected_lift = self.model_value - self.baseline_value
        if not math.isclose(self.lift, expected_lift, rel_tol=1e-9, abs_tol=1e-12):
            raise ContractError(
                f"gate lift {self.lift!r} is not model_value - baseline_value ({expected_lift!r})"
            )
        expected = gate_verdict(self.lift, self.min_lift)
        if self.verdict != expected:
            raise ContractError(
                f"gate verdict {self.verdict!r} contradicts lift {self.lift:.6g} "
                f"vs min_lift {self.min_lift:.6g} (expected {expected!r})"
            )
        return self


class TuningSummary(StrictModel):
    """The Optuna study behind a tuned run."""

    study_name: Annotated[str, Field(min_length=1)]
    storage: str
    metric: str
    direction: Literal["maximize", "minimize"]
    n_trials: Annotated[int, Field(ge=0)]
    n_complete: Annotated[int, Field(ge=0)]
    n_pruned: Annotated[int, Field(ge=0)]
    best_trial: Annotated[int, Field(ge=0)]
    best_value: float
    best_params: dict[str, float | int | str | bool]


class EngineRef(StrictModel):
    """What trained the booster: ``local`` (``lightgbm.train`` in one process) or ``dask``
    (LightGBM's data-parallel learner over ``workers`` Dask workers at ``scheduler``)."""

    kind: Literal["local", "dask"]
    scheduler: Annotated[str | None, Field(min_length=1, max_length=512)]
    """``local`` (an in-process cluster) or the scheduler's address; null for ``local``."""
    workers: Annotated[int, Field(ge=1)]

    @model_validator(mode="after")
    def _consistent(self) -> EngineRef:
        if self.kind == "local" and (self.scheduler is not None or self.workers != 1):
            raise ContractError("the local engine has no scheduler and exactly 1 worker")
        if self.kind == "dask" and self.scheduler is None:
            raise ContractError("the dask engine names its scheduler")
        return self


class RunRecord(StrictModel):
    """``run.json``: everything serving needs to trust and register a booster."""

    run_format: Literal[1]
    name: Name
    cell: Annotated[str | None, Field(min_length=1, max_length=256)]
    created_at: UtcDatetime
    producer: Producer
    dataset: DatasetRef
    feature_families: list[str]
    feature_schema: dict[str, list[str]]
    feature_names: list[str]
    feature_schema_sha: ShortSha
    schema_sha: ShortSha
    objective: Literal["binary", "lambdarank"]
    model: ModelEntry
    metrics: Metrics
    tuning: TuningSummary | None
    gate: Gate
    smoke: bool
    license: License
    seed: int
    duration_s: Annotated[float, Field(ge=0)]
    engine: EngineRef | None = None
    validation: ValidationRef | None = None
    evaluation: EvaluationRef | None = None
    """Added after run_format 1 shipped (older run.json files have none); always written."""

    @field_validator("feature_schema")
    @classmethod
    def _feature_schema(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        return check_feature_schema(value)

    @model_validator(mode="after")
    def _consistent(self) -> RunRecord:
        check_fingerprints(self.feature_schema, self.feature_schema_sha, self.schema_sha)
        if self.feature_families != sorted(self.feature_schema):
            raise ContractError(
                f"feature_families {self.feature_families!r} must be the sorted families of "
                f"feature_schema {sorted(self.feature_schema)!r}"
            )
        compute_feature_schema_sha(self.feature_families)
        if len(set(self.feature_names)) != len(self.feature_names):
            dupes = sorted({n for n in self.feature_names if self.feature_names.count(n) > 1})
            raise ContractError(f"feature_names has duplicates: {dupes!r}")
        schema_columns = {c for cols in self.feature_schema.values() for c in cols}
        if set(self.feature_names) != schema_columns:
            missing = sorted(schema_columns - set(self.feature_names))
            extra = sorted(set(self.feature_names) - schema_columns)
            raise ContractError(
                f"feature_names do not match feature_schema: missing {missing!r}, extra {extra!r}"
            )
        rounds = self.model.rounds
        if rounds is not None and self.model.num_trees > rounds:
            raise ContractError(
                f"model.num_trees {self.model.num_trees} exceeds model.rounds {rounds}"
            )
        if self.model.best_iteration > self.model.num_trees:
            raise ContractError(
                f"model.best_iteration {self.model.best_iteration} exceeds "
                f"model.num_trees {self.model.num_trees}"
            )
        return self


RUN_RECORD_VOLATILE = ("created_at", "duration_s", "name", "producer")
"""Top-level ``run.json`` fields that are not the run's content: wall-clock fields, the run's
own name, and who wrote the file (a receipt records the code's commit and version itself)."""


def run_record_content(record: Mapping[str, Any]) -> dict[str, Any]:
    """The content of a ``run.json`` object, as hashed into receipts by lab and serving.

    Leaves out ``RUN_RECORD_VOLATILE`` and ``dataset.manifest_sha256`` (it hashes a manifest
    that carries a timestamp), so two identical training runs have equal content. Takes the
    plain JSON object, valid or not: a receipt records what was there.
    """
    content = {k: v for k, v in record.items() if k not in RUN_RECORD_VOLATILE}
    dataset = content.get("dataset")
    if isinstance(dataset, Mapping):
        content["dataset"] = {k: v for k, v in dataset.items() if k != "manifest_sha256"}
    return content
