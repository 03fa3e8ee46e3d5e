"""Build real, complete run directories for serving's tests without the lab.

Trains a tiny LightGBM booster on a few hundred random rows and writes ``run.json``
(through ``tessera_contracts.RunRecord``), ``spec.yaml`` and ``model.txt`` exactly as
DESIGN.md section 5 describes. ``tamper`` breaks one thing on purpose (see TAMPERINGS).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from tessera_contracts import (
    CategoryMetrics,
    DatasetRef,
    Gate,
    License,
    ManifestV1,
    Metrics,
    ModelEntry,
    Producer,
    RunRecord,
    compute_feature_schema_sha,
    compute_schema_sha,
    to_json_text,
)

DEFAULT_SCHEMA: dict[str, list[str]] = {
    "knn": ["knn_score", "knn_votes"],
    "length": ["query_len", "len_ratio"],
}
CREATED_AT = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
TAMPERINGS = (
    "model_txt",  # model.txt edited after run.json recorded its sha256
    "feature_names",  # run.json's feature_names in another order than the booster's
    "fingerprint",  # run.json's schema_sha does not match its feature_schema
    "unknown_field",  # run.json has a field the contract does not know
    "no_license",  # run.json lacks the license
    "missing_model",  # model.txt deleted
    "missing_spec",  # spec.yaml deleted
    "symlink_escape",  # model.txt is a symlink to an identical file outside the run directory
)
_model_cache: dict[tuple[Any, ...], str] = {}


def feature_names_of(feature_schema: Mapping[str, Sequence[str]]) -> list[str]:
    """The booster column order the factory uses: families sorted, columns as listed."""
    return [c for family in sorted(feature_schema) for c in feature_schema[family]]


def train_model_text(
    feature_names: Sequence[str],
    *,
    objective: str = "lambdarank",
    seed: int = 0,
    rows: int = 300,
    num_trees: int = 8,
) -> str:
    """A real LightGBM text model on ``rows`` random rows (deterministic per arguments)."""
    key = (tuple(feature_names), objective, seed, rows, num_trees)
    if key in _model_cache:
        return _model_cache[key]
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, len(feature_names)))
    signal = x[:, 0] + 0.5 * rng.normal(size=rows)
    params: dict[str, Any] = {
        "objective": objective,
        "num_leaves": 7,
        "min_data_in_leaf": 5,
        "learning_rate": 0.2,
        "num_threads": 1,
        "deterministic": True,
        "force_row_wise": True,
        "verbose": -1,
        "seed": seed,
    }
    if objective == "lambdarank":
        labels = np.digitize(signal, [-0.5, 0.5, 1.5]).astype(np.int32)
        group = [10] * (rows // 10) + ([rows % 10] if rows % 10 else [])
        data = lgb.Dataset(x, labels, group=group, feature_name=list(feature_names))
    else:
        data = lgb.Dataset(x, (signal > 0).astype(np.int32), feature_name=list(feature_names))
    booster = lgb.train(params, data, num_boost_round=num_trees)
    text = str(booster.model_to_string())
    _model_cache[key] = text
    return text


def _gate(verdict: str) -> Gate:
    model_value, baseline_value = 0.71, 0.64
    lift = model_value - baseline_value
    min_lift = 0.01 if verdict == "PROMOTE" else 0.5
    return Gate(
        metric="ndcg@10",
        min_lift=min_lift,
        model_value=model_value,
        baseline_value=baseline_value,
        lift=lift,
        verdict="PROMOTE" if verdict == "PROMOTE" else "HOLD",
    )


def spec_yaml_text(
    name: str,
    feature_schema: Mapping[str, Sequence[str]],
    objective: str,
    *,
    seed: int = 0,
    num_boost_round: int = 8,
    min_lift: float = 0.01,
) -> str:
    """A resolved training spec as the lab would write it (serving stores it verbatim)."""
    families = "\n".join(f"  - {family}" for family in sorted(feature_schema))
    return (
        f"dataset: datasets/{name}-data\n"
        f"feature_families:\n{families}\n"
        f"objective: {objective}\n"
        "protocol:\n  cells: pooled\n  snapshots: all\n"
        "weighting: none\n"
        "params:\n  num_leaves: 7\n  learning_rate: 0.2\n"
        f"num_boost_round: {num_boost_round}\n"
        "early_stopping: null\n"
        f"seed: {seed}\n"
        "num_threads: 1\n"
        "search: null\n"
        f"gate:\n  metric: ndcg@10\n  min_lift: {min_lift}\n"
        "license:\n  id: CC-BY-4.0\n  url: https://creativecommons.org/licenses/by/4.0/\n"
    )


SMOKE_SPEC_ROUNDS = 500
"""A smoke run trains a few rounds of a spec that plans many (the lab caps the rounds)."""


def make_record(
    name: str,
    model_text: str,
    *,
    feature_schema: Mapping[str, Sequence[str]] = DEFAULT_SCHEMA,
    feature_names: Sequence[str] | None = None,
    objective: str = "lambdarank",
    cell: str | None = None,
    smoke: bool = False,
    verdict: str = "PROMOTE",
    num_trees: int = 8,
    seed: int = 0,
) -> RunRecord:
    """The ``RunRecord`` of a run whose booster is ``model_text``."""
    schema = {family: list(columns) for family, columns in feature_schema.items()}
    names = list(feature_names) if feature_names is not None else feature_names_of(schema)
    metrics = {"ndcg@10": 0.71}
    baseline = {"ndcg@10": 0.64}
    per_category = {}
    if cell is not None:
        per_category[cell] = CategoryMetrics(rows=60, queries=6, eval=metrics, baseline=baseline)
    return RunRecord(
        run_format=1,
        name=name,
        cell=cell,
        created_at=CREATED_AT,
        producer=Producer(name="tessera-lab", version="0.1.0", git_sha="0123456789abcdef0123"),
        dataset=DatasetRef(
            name=f"{name}-data",
            manifest_sha256=hashlib.sha256(f"manifest of {name}".encode()).hexdigest(),
            schema_sha=compute_schema_sha(schema),
            snapshot_pairs=["2024-01..2024-07"],
            train_rows=240,
            valid_rows=30,
            eval_rows=30,
        ),
        feature_families=sorted(schema),
        feature_schema=schema,
        feature_names=names,
        feature_schema_sha=compute_feature_schema_sha(schema),
        schema_sha=compute_schema_sha(schema),
        objective=objective,  # type: ignore[arg-type]
        model=ModelEntry(
            file="model.txt",
            sha256=hashlib.sha256(model_text.encode("utf-8")).hexdigest(),
            num_trees=num_trees,
            best_iteration=num_trees,
            lightgbm_version=lgb.__version__,
        ),
        metrics=Metrics(eval=metrics, baseline=baseline, per_category=per_category),
        tuning=None,
        gate=_gate(verdict),
        smoke=smoke,
        license=License(id="CC-BY-4.0", url="https://creativecommons.org/licenses/by/4.0/"),
        seed=seed,
        duration_s=0.25,
    )


def write_run_dir(
    parent: Path,
    name: str = "rr",
    *,
    feature_schema: Mapping[str, Sequence[str]] = DEFAULT_SCHEMA,
    objective: str = "lambdarank",
    cell: str | None = None,
    smoke: bool = False,
    verdict: str = "PROMOTE",
    seed: int = 0,
    num_trees: int = 8,
    rows: int = 300,
    tamper: str | None = None,
    dir_name: str | None = None,
    with_report: bool = True,
) -> Path:
    """Write ``parent/<dir_name or name[--cell]>/`` with the three contract files; return it."""
    if tamper is not None and tamper not in TAMPERINGS:
        raise ValueError(f"unknown tampering {tamper!r}; one of {TAMPERINGS}")
    names = feature_names_of(feature_schema)
    text = train_model_text(names, objective=objective, seed=seed, rows=rows, num_trees=num_trees)
    record = make_record(
        name,
        text,
        feature_schema=feature_schema,
        objective=objective,
        cell=cell,
        smoke=smoke,
        verdict=verdict,
        num_trees=num_trees,
        seed=seed,
    )
    run_dir = parent / (dir_name or (f"{name}--{cell}" if cell is not None else name))
    run_dir.mkdir(parents=True)
    (run_dir / "model.txt").write_text(text, encoding="utf-8")
    spec = spec_yaml_text(
        name,
        feature_schema,
        objective,
        seed=seed,
        num_boost_round=SMOKE_SPEC_ROUNDS if smoke else num_trees,
        min_lift=record.gate.min_lift,
    )
    (run_dir / "spec.yaml").write_text(spec, "utf-8")
    (run_dir / "run.json").write_text(to_json_text(record), encoding="utf-8")
    if with_report:
        (run_dir / "report").mkdir()
        (run_dir / "report" / "summary.md").write_text(f"# {name}\n", encoding="utf-8")
    if tamper is not None:
        _tamper(run_dir, tamper, record)
    return run_dir


def write_run_set(
    parent: Path, name: str, cells: Sequence[str] = ("bp", "cc", "mf"), **options: Any
) -> list[Path]:
    """A per-category run set ``parent/<name>--<cell>/`` (one booster per cell)."""
    return [
        write_run_dir(parent, name, cell=cell, seed=index, **options)
        for index, cell in enumerate(cells)
    ]


def _edit_json(path: Path, edit: Any) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    edit(data)
    path.write_text(json.dumps(data, sort_keys=True, indent=2) + "\n", encoding="utf-8")


def _tamper(run_dir: Path, how: str, record: RunRecord) -> None:
    run_json = run_dir / "run.json"
    if how == "model_txt":
        text = (run_dir / "model.txt").read_text(encoding="utf-8")
        (run_dir / "model.txt").write_text(text.replace("shrinkage=0.2", "shrinkage=0.3", 1))
    elif how == "feature_names":
        _edit_json(run_json, lambda d: d.__setitem__("feature_names", d["feature_names"][::-1]))
    elif how == "fingerprint":
        _edit_json(run_json, lambda d: d.__setitem__("schema_sha", "0" * 12))
    elif how == "unknown_field":
        _edit_json(run_json, lambda d: d.__setitem__("owner", "someone"))
    elif how == "no_license":
        _edit_json(run_json, lambda d: d.pop("license"))
    elif how == "missing_model":
        (run_dir / "model.txt").unlink()
    elif how == "missing_spec":
        (run_dir / "spec.yaml").unlink()
    elif how == "symlink_escape":
        outside = run_dir.parent / f"outside-{run_dir.name}.txt"
        (run_dir / "model.txt").replace(outside)
        (run_dir / "model.txt").symlink_to(outside.resolve())
    del record


def write_manifest(
    path: Path, feature_schema: Mapping[str, Sequence[str]] = DEFAULT_SCHEMA, name: str = "live"
) -> Path:
    """A valid dataset ``manifest.json`` for ``feature_schema`` (for ``schemas add --manifest``)."""
    schema = {family: list(columns) for family, columns in feature_schema.items()}
    entry = {"sha256": "a" * 64, "rows": 10, "bytes": 100}
    manifest = ManifestV1(
        schema_version=2,
        name=name,
        created_at=CREATED_AT,
        producer=Producer(name="tessera-lab", version="0.1.0", git_sha=None),
        snapshot_pairs=["2024-01..2024-07"],
        categories=["bp", "cc", "mf"],
        feature_schema=schema,
        feature_schema_sha=compute_feature_schema_sha(schema),
        schema_sha=compute_schema_sha(schema),
        label_kind="graded",
        has_weight=False,
        files={"train.parquet": entry, "eval.parquet": entry},  # type: ignore[dict-item]
    )
    path.write_text(to_json_text(manifest), encoding="utf-8")
    return path
