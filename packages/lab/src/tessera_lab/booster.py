"""Fit one LightGBM booster for a cell: parameters, datasets, early stopping, history.

The lab owns the parameters that decide reproducibility: objective, metric, seed,
``num_threads``, ``deterministic`` with a fixed histogram layout. The same spec, data
and seed therefore give the same model text, byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb

from tessera_lab.errors import TrainingError
from tessera_lab.progress import Progress
from tessera_lab.protocol import Cell, Rows, training_weights
from tessera_lab.spec import Spec

VALID_NAME = "valid"
TRAIN_NAME = "train"
SMOKE_ROUNDS = 5
SMOKE_MAX_LEAVES = 7
HIGHER_IS_BETTER_EXCEPT = ("binary_logloss",)


def metric_params(metric: str | None) -> dict[str, Any]:
    """LightGBM's ``metric`` / ``eval_at`` for a spec metric such as ``ndcg@10`` or ``auc``."""
    if metric is None:
        return {"metric": "None"}
    name, _, cutoff = metric.partition("@")
    if cutoff:
        return {"metric": name, "eval_at": [int(cutoff)]}
    return {"metric": name}


def metric_direction(metric: str) -> str:
    """``maximize`` for ranking/AUC metrics, ``minimize`` for losses."""
    return "minimize" if metric in HIGHER_IS_BETTER_EXCEPT else "maximize"


def lightgbm_params(
    spec: Spec, overrides: Mapping[str, Any] | None = None, *, smoke: bool = False
) -> dict[str, Any]:
    """The full parameter dict for ``lightgbm.train`` (sorted keys, so model text is stable)."""
    params: dict[str, Any] = dict(spec.params)
    params.update(overrides or {})
    if smoke:
        params["num_leaves"] = min(int(params.get("num_leaves", 31)), SMOKE_MAX_LEAVES)
    if not any(params.get(k) for k in ("force_col_wise", "force_row_wise")):
        params["force_row_wise"] = True  # deterministic needs a fixed histogram layout
    params.update(
        objective=spec.objective,
        seed=spec.seed,
        num_threads=spec.num_threads,
        deterministic=True,
        verbosity=-1,
        **metric_params(spec.early_stopping.metric if spec.early_stopping else None),
    )
    if spec.early_stopping is not None:
        params["first_metric_only"] = True
    return dict(sorted(params.items()))


def make_dataset(
    rows: Rows, names: list[str], spec: Spec, reference: lgb.Dataset | None = None
) -> lgb.Dataset:
    """A LightGBM dataset (with groups for lambdarank) whose feature names are ``names``."""
    return lgb.Dataset(
        rows.features,
        label=rows.label,
        weight=training_weights(rows, spec.weighting),
        group=rows.group_sizes(),  # ranking metrics need queries even for binary
        feature_name=names,
        reference=reference,
        free_raw_data=True,
    )


@dataclass
class Fit:
    """A trained booster and how it got there."""

    booster: lgb.Booster
    best_iteration: int
    rounds: int
    """Boosting rounds actually run (early stopping keeps only ``best_iteration`` trees)."""
    history: dict[str, list[float]] = field(default_factory=dict)
    best_score: float | None = None


def _progress_callback(
    progress: Progress, label: str, total: int, metric: str | None
) -> Callable[[Any], None]:
    best: list[tuple[int, float]] = []
    maximize = metric is None or metric_direction(metric) == "maximize"

    def callback(env: Any) -> None:
        value = None
        if env.evaluation_result_list:
            value = float(env.evaluation_result_list[0][2])
            if not best or (value > best[0][1] if maximize else value < best[0][1]):
                best[:] = [(env.iteration + 1, value)]
        progress.round(label, env.iteration + 1, total, metric, value, best[0] if best else None)

    callback.order = 30  # type: ignore[attr-defined]
    return callback


def _validation(
    cell: Cell, names: list[str], spec: Spec, train_set: lgb.Dataset, train_curve: bool
) -> tuple[list[lgb.Dataset], list[str]]:
    """The sets evaluated each round: the validation rows when early stopping, then (for
    ``train_curve``) the training set; none without validation rows or early stopping."""
    if cell.valid is None or spec.early_stopping is None:
        return [], []
    valid_sets = [make_dataset(cell.valid, names, spec, reference=train_set)]
    valid_names = [VALID_NAME]
    if train_curve:  # after valid: the first result stays the validation metric
        valid_sets.append(train_set)
        valid_names.append(TRAIN_NAME)
    return valid_sets, valid_names


def _curve(history: dict[str, dict[str, list[float]]], names: list[str]) -> dict[str, list[float]]:
    """The recorded metrics per round, keyed ``"{set} {metric}"``."""
    return {
        f"{name} {k}": list(map(float, v))
        for name in names
        for k, v in history.get(name, {}).items()
    }


def fit_cell(
    cell: Cell,
    names: list[str],
    spec: Spec,
    *,
    overrides: Mapping[str, Any] | None = None,
    smoke: bool = False,
    progress: Progress | None = None,
    extra_callbacks: list[Callable[[Any], None]] | None = None,
    label: str = "train",
    train_curve: bool = False,
) -> Fit:
    """Train on ``cell.train``; early-stop on ``cell.valid`` (never on eval).

    ``train_curve`` also records the metric on the training rows each round (for the
    learning curve). It does not change the model: LightGBM's early stopping skips the
    training set by name (a separate sample of it would be looked at, so it is not used).
    Cost: ~13 % more CPU on 127k rows x 14 features at 100 rounds (bench/README.md).
    """
    params = lightgbm_params(spec, overrides, smoke=smoke)
    rounds = min(spec.num_boost_round, SMOKE_ROUNDS) if smoke else spec.num_boost_round
    metric = spec.early_stopping.metric if spec.early_stopping else None
    history: dict[str, dict[str, list[float]]] = {}
    callbacks: list[Callable[[Any], None]] = list(extra_callbacks or [])
    train_set = make_dataset(cell.train, names, spec)
    valid_sets, valid_names = _validation(cell, names, spec, train_set, train_curve)
    if valid_sets and spec.early_stopping is not None:
        callbacks.append(lgb.record_evaluation(history))
        callbacks.append(
            lgb.early_stopping(spec.early_stopping.rounds, first_metric_only=True, verbose=False)
        )
    if progress is not None:
        callbacks.append(_progress_callback(progress, label, rounds, metric))
    trained = [0]

    def count_rounds(env: Any) -> None:
        trained[0] = env.iteration + 1

    callbacks.append(count_rounds)
    try:
        booster = lgb.train(
            params,
            train_set,
            num_boost_round=rounds,
            valid_sets=valid_sets,
            valid_names=valid_names,
            callbacks=callbacks,
        )
    except lgb.basic.LightGBMError as exc:
        raise TrainingError(f"{label}: LightGBM failed: {exc}") from exc
    finally:
        if progress is not None:
            progress.done()
    best = booster.best_iteration if valid_sets and booster.best_iteration > 0 else 0
    best = best or booster.current_iteration()
    curve = _curve(history, valid_names)
    best_score = None
    if valid_sets and metric is not None:
        best_score = float(booster.best_score[VALID_NAME][metric])
    return Fit(booster, best, trained[0], curve, best_score)
