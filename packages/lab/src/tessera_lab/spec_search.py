"""The spec's LightGBM parameter rules and its ``search`` block (an Optuna search).

``params`` and ``search.space`` may name any LightGBM parameter or alias except those
the lab sets itself from its own spec keys (``LAB_CONTROLLED_PARAMS``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from tessera_lab._lightgbm_params import aliases_of, unknown_param
from tessera_lab.spec_sections import StrictBlock

# Parameters the lab sets itself (with all their LightGBM aliases): objective, metric, seeds,
# threads, determinism, the number of rounds and the columns come from their own spec keys.
LAB_CONTROLLED_PARAMS = aliases_of(
    "objective", "metric", "eval_at", "first_metric_only",
    "seed", "bagging_seed", "feature_fraction_seed", "data_random_seed", "drop_seed",
    "extra_seed", "objective_seed",
    "num_threads", "deterministic", "verbosity", "num_iterations", "early_stopping_round",
    "weight_column", "group_column", "label_column", "ignore_column", "categorical_feature",
)  # fmt: skip


def check_param_keys(keys: Iterable[str]) -> None:
    """Every key must be a LightGBM parameter (or alias) that the lab does not set itself."""
    problems = []
    for key in keys:
        if key in LAB_CONTROLLED_PARAMS:
            problems.append(
                f"parameter {key!r} is set by the lab (use the spec's objective, seed, "
                "num_threads, num_boost_round, early_stopping or weighting keys instead)"
            )
        elif (unknown := unknown_param(key)) is not None:
            problems.append(unknown)
    if problems:
        raise ValueError("; ".join(problems))


class FloatRange(StrictBlock):
    """A float search dimension."""

    type: Literal["float"]
    low: float
    high: float
    log: bool = False

    @model_validator(mode="after")
    def _bounds(self) -> FloatRange:
        _check_bounds(self.low, self.high, self.log)
        return self


class IntRange(StrictBlock):
    """An integer search dimension."""

    type: Literal["int"]
    low: int
    high: int
    log: bool = False

    @model_validator(mode="after")
    def _bounds(self) -> IntRange:
        _check_bounds(self.low, self.high, self.log)
        return self


class Categorical(StrictBlock):
    """A categorical search dimension."""

    type: Literal["categorical"]
    choices: Annotated[list[float | int | str | bool], Field(min_length=1)]


def _check_bounds(low: float, high: float, log: bool) -> None:
    if low > high:
        raise ValueError(f"low {low} must not exceed high {high}")
    if log and low <= 0:
        raise ValueError(f"a log-scaled range needs low > 0, got {low}")


Dimension = Annotated[FloatRange | IntRange | Categorical, Field(discriminator="type")]


class Sampler(StrictBlock):
    """Optuna's TPE sampler, seeded (defaults to the spec's seed)."""

    type: Literal["tpe"] = "tpe"
    seed: int | None = None
    n_startup_trials: Annotated[int, Field(ge=0)] = 10


class Pruner(StrictBlock):
    """Optuna's median pruner, fed by LightGBM's pruning callback."""

    type: Literal["median", "none"] = "median"
    n_startup_trials: Annotated[int, Field(ge=0)] = 5
    n_warmup_steps: Annotated[int, Field(ge=0)] = 10


class Search(StrictBlock):
    """An Optuna search over LightGBM parameters, scored on the validation metric."""

    space: Annotated[dict[str, Dimension], Field(min_length=1)]
    n_trials: Annotated[int, Field(gt=0)] = 20
    timeout_s: Annotated[float, Field(gt=0)] | None = None
    """A time budget: no new trial starts after this many seconds (n_trials still caps)."""
    sampler: Sampler = Sampler()
    pruner: Pruner = Pruner()
    storage: str | None = None
    study_name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")] | None = None

    @field_validator("space")
    @classmethod
    def _space_keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        check_param_keys(value)
        return value
