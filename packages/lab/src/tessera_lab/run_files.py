"""A trained cell -> its run directory's files: ``run.json``, ``spec.yaml``, ``model.txt``.

The final booster is re-read from its own text so the recorded feature names are the ones
``model.txt`` holds; it is evaluated on eval against the ``base_score`` ordering and gated.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from tessera_contracts import (
    DatasetRef,
    EngineRef,
    EvaluationRef,
    Metrics,
    ModelEntry,
    RunRecord,
    ValidationRef,
    compute_feature_schema_sha,
    compute_schema_sha,
    to_json_text,
)
from tessera_lab.conventions import NdcgRule
from tessera_lab.dataset import Dataset
from tessera_lab.errors import TrainingError
from tessera_lab.evaluation import compare, split_query_counts
from tessera_lab.gate import decide
from tessera_lab.protocol import Cell, training_pairs
from tessera_lab.provenance import lab_producer
from tessera_lab.runs import ENGINE_FILE, HISTORY_FILE, STUDY_FILE, RunFiles
from tessera_lab.spec import Spec

if TYPE_CHECKING:  # LightGBM and optuna load only once the spec and dataset have passed
    from lightgbm import Booster

    from tessera_lab.booster import Fit
    from tessera_lab.tuning import StudyResult


@dataclass(frozen=True)
class RunContext:
    """What every cell of one training run shares."""

    spec: Spec
    dataset: Dataset
    schema: dict[str, list[str]]
    names: list[str]
    smoke: bool
    started: float

    @property
    def rule(self) -> NdcgRule:
        return NdcgRule.from_spec(self.spec.evaluation.ndcg, self.spec.label_gain)


def validation_ref(spec: Spec, cell: Cell) -> ValidationRef:
    """What ``run.json`` says about the validation set early stopping looked at."""
    if cell.valid is None:
        return ValidationRef(method="none", rows=0, queries=0)
    by_pairs = spec.validation.method == "snapshot_pairs"
    return ValidationRef(
        method=spec.validation.method,
        carve=None if by_pairs else spec.validation.carve,
        snapshot_pairs=spec.validation.snapshot_pairs if by_pairs else None,
        rows=cell.valid.n,
        queries=cell.valid.queries,
    )


def _evaluation_ref(ctx: RunContext, cell: Cell) -> EvaluationRef:
    splits = {"train": cell.train, "eval": cell.eval}
    if cell.valid is not None:
        splits["valid"] = cell.valid
    counts = {k: split_query_counts(v.query_ids, v.label) for k, v in sorted(splits.items())}
    return ctx.rule.record(counts)


def _resolved_spec(spec: Spec, study: StudyResult | None) -> str:
    """The spec as run: defaults filled, dataset absolute, tuned params merged, no search."""
    if study is None:
        return spec.to_yaml()
    params = {**spec.params, **study.summary.best_params}
    return spec.model_copy(update={"params": params, "search": None}).to_yaml()


def finish_run(
    ctx: RunContext,
    name: str,
    cell: Cell,
    fit: Fit,
    study: StudyResult | None,
    engine: dict[str, Any] | None = None,
) -> RunFiles:
    """Check and evaluate the trained booster of one cell; its run directory's files."""
    import lightgbm as lgb

    spec, manifest = ctx.spec, ctx.dataset.manifest
    where = f"run {name!r}"
    text = fit.booster.model_to_string(num_iteration=fit.best_iteration)
    final = lgb.Booster(model_str=text)
    if final.feature_name() != ctx.names:
        raise TrainingError(
            f"{where}: model.txt feature_names {final.feature_name()} differ from the selected "
            f"columns {ctx.names} (LightGBM rewrote a name; rename the column)"
        )
    scores = np.asarray(final.predict(cell.eval.features, num_threads=spec.num_threads))
    metrics = compare(
        cell.eval.query_ids,
        cell.eval.label,
        cell.eval.category,
        scores,
        cell.eval.base_score,
        binary=manifest.label_kind == "binary",
        weight=cell.eval.weight,
        rule=ctx.rule,
    )
    record = _run_record(ctx, name, cell, fit, study, engine, final, text, metrics)
    history = {
        "metric": spec.early_stopping.metric if spec.early_stopping else None,
        "best_iteration": fit.best_iteration,
        "rounds": fit.rounds,
        "curves": fit.history,
    }
    report: dict[str, str | bytes] = {HISTORY_FILE: json.dumps(history, indent=2) + "\n"}
    if study is not None:
        report[STUDY_FILE] = json.dumps(study.report(), indent=2) + "\n"
    if engine is not None:
        report[ENGINE_FILE] = json.dumps(engine, indent=2) + "\n"
    files = {
        "run.json": to_json_text(record),
        "spec.yaml": _resolved_spec(spec, study),
        "model.txt": text,
    }
    return RunFiles(name=name, files=files, report=report)


def _run_record(
    ctx: RunContext,
    name: str,
    cell: Cell,
    fit: Fit,
    study: StudyResult | None,
    engine: dict[str, Any] | None,
    final: Booster,
    text: str,
    metrics: Metrics,
) -> RunRecord:
    """``run.json`` of one cell: provenance, dataset, features, model, metrics and gate."""
    import lightgbm as lgb

    spec, manifest = ctx.spec, ctx.dataset.manifest
    where = f"run {name!r}"
    pairs = training_pairs(ctx.dataset, spec)
    return RunRecord(
        run_format=1,
        name=name,
        cell=cell.name,
        created_at=datetime.now(UTC),
        producer=lab_producer(),
        dataset=DatasetRef(
            name=manifest.name,
            manifest_sha256=ctx.dataset.manifest_sha256,
            schema_sha=manifest.schema_sha,
            snapshot_pairs=list(pairs),
            train_rows=cell.train.n,
            valid_rows=0 if cell.valid is None else cell.valid.n,
            eval_rows=cell.eval.n,
        ),
        feature_families=sorted(ctx.schema),
        feature_schema=ctx.schema,
        feature_names=list(final.feature_name()),
        feature_schema_sha=compute_feature_schema_sha(ctx.schema),
        schema_sha=compute_schema_sha(ctx.schema),
        objective=spec.objective,
        model=ModelEntry(
            file="model.txt",
            sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
            num_trees=final.num_trees(),
            best_iteration=fit.best_iteration,
            lightgbm_version=lgb.__version__,
            rounds=fit.rounds,
        ),
        metrics=metrics,
        tuning=None if study is None else study.summary,
        gate=decide(spec.gate, metrics, where),
        smoke=ctx.smoke,
        license=spec.license,
        seed=spec.seed,
        duration_s=round(time.monotonic() - ctx.started, 3),
        engine=_engine_ref(engine),
        validation=validation_ref(spec, cell),
        evaluation=_evaluation_ref(ctx, cell),
    )


def _engine_ref(engine: dict[str, Any] | None) -> EngineRef:
    """``run.json``'s engine: the local one, or the dask engine's scheduler and workers."""
    if engine is None:
        return EngineRef(kind="local", scheduler=None, workers=1)
    return EngineRef(kind="dask", scheduler=engine["scheduler"], workers=engine["workers"])
