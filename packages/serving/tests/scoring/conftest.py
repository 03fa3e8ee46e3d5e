"""Candidates files and boosters for the scoring tests, built with LightGBM directly.

Small on purpose (a few hundred rows, 15 trees, one thread): the tests check exact values and
event paths, not speed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tessera_contracts import (
    FEATURE_SCHEMA_METADATA_KEY,
    compute_feature_schema_sha,
    compute_schema_sha,
)
from tessera_serving.backends import load_predictor
from tessera_serving.registry import Registry, RerankerModel
from tessera_serving.scoring.guard import ModelCell
from tessera_serving.scoring.scorer import ScoringModel

FEATURE_SCHEMA: dict[str, list[str]] = {
    "knn": ["knn_score", "knn_votes"],
    "length": ["query_len", "len_ratio"],
}
# The booster's own order differs from the file's column order on purpose.
BOOSTER_FEATURES = ["len_ratio", "knn_score", "query_len", "knn_votes"]
SCHEMA_SHA = compute_schema_sha(FEATURE_SCHEMA)


def candidates_table(
    n_queries: int = 40,
    seed: int = 0,
    categories: Sequence[str] = ("a", "b"),
    string_ids: bool = True,
) -> pa.Table:
    """Contiguous queries of 3..15 candidates; labels depend on the features; some NaNs."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(3, 16, size=n_queries)
    n = int(sizes.sum())
    qnum = np.repeat(np.arange(n_queries), sizes)
    feats = {
        "knn_score": rng.random(n),
        "knn_votes": rng.integers(0, 20, n).astype(np.float64),
        "query_len": rng.integers(10, 500, n).astype(np.float64),
        "len_ratio": rng.random(n) * 2,
    }
    feats["knn_score"][rng.random(n) < 0.05] = np.nan
    signal = 2 * feats["knn_score"] + feats["knn_votes"] / 10 - np.abs(feats["len_ratio"] - 1)
    label = np.clip(np.nan_to_num(signal, nan=0.5) + rng.normal(0, 0.3, n), 0, 3).astype(int)
    base = np.round(feats["knn_votes"] / 20 + rng.normal(0, 0.2, n), 3)
    qid: Any = [f"q{i:04d}" for i in qnum] if string_ids else qnum.astype(np.int64)
    cats = np.array(categories)[rng.integers(0, len(categories), n)]
    columns: dict[str, Any] = {
        "query_id": qid,
        "candidate_id": [f"c{i}" for i in range(n)],
        "label": label,
        "category": cats,
        "base_score": base,
        # file order: families interleaved, not the booster's order
        "knn_votes": feats["knn_votes"],
        "query_len": feats["query_len"],
        "knn_score": feats["knn_score"],
        "len_ratio": feats["len_ratio"],
    }
    return pa.table(columns)


def write_candidates(
    path: Path,
    table: pa.Table,
    feature_schema: Mapping[str, Sequence[str]] | None = FEATURE_SCHEMA,
    row_group_size: int | None = None,
) -> Path:
    """Write ``table`` as Parquet, with the feature schema in the Arrow metadata if given."""
    if feature_schema is not None:
        meta = {FEATURE_SCHEMA_METADATA_KEY.encode(): json.dumps(feature_schema).encode()}
        table = table.replace_schema_metadata(meta)
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


def train_booster(table: pa.Table, rounds: int = 15, seed: int = 1) -> str:
    """A lambdarank booster on ``table`` in ``BOOSTER_FEATURES`` order; its model text."""
    x = np.column_stack([table.column(c).to_numpy() for c in BOOSTER_FEATURES])
    qid = table.column("query_id").to_numpy(zero_copy_only=False)
    _, group = np.unique(qid, return_counts=True)
    ds = lgb.Dataset(
        x,
        label=table.column("label").to_numpy(),
        group=group,
        feature_name=BOOSTER_FEATURES,
        free_raw_data=False,
    )
    params = {
        "objective": "lambdarank",
        "num_leaves": 7,
        "learning_rate": 0.2,
        "verbose": -1,
        "num_threads": 1,
        "seed": seed,
        "deterministic": True,
        "min_data_in_leaf": 5,
    }
    booster = lgb.train(params, ds, num_boost_round=rounds)
    return str(booster.model_to_string())


@dataclass(frozen=True)
class Booster:
    """A trained booster as the registry would describe it."""

    text: str
    sha256: str

    def cell(
        self,
        model_id: int = 1,
        *,
        cell: str | None = None,
        stage: str = "production",
        schema_sha_v2: str | None = SCHEMA_SHA,
        version: int = 1,
    ) -> ModelCell:
        return ModelCell(
            model_id=model_id,
            name="rr",
            version=version,
            cell=cell,
            stage=stage,
            schema_sha_v2=schema_sha_v2,
            artifact_sha256=self.sha256,
            feature_names=tuple(BOOSTER_FEATURES),
        )

    def predict(self, table: pa.Table) -> np.ndarray:
        """``Booster.predict`` on the float64 matrix in the booster's order (the reference)."""
        x = np.column_stack([table.column(c).to_numpy() for c in BOOSTER_FEATURES])
        return np.asarray(lgb.Booster(model_str=self.text).predict(x, num_threads=1))


def make_booster(table: pa.Table, rounds: int = 15, seed: int = 1) -> Booster:
    text = train_booster(table, rounds, seed)
    return Booster(text, hashlib.sha256(text.encode()).hexdigest())


def scoring_model(cells: Mapping[ModelCell, Booster]) -> ScoringModel:
    """A ``ScoringModel`` whose loader goes through ``load_predictor`` (LightGBM backend)."""
    texts = {c.model_id: b.text for c, b in cells.items()}
    return ScoringModel(
        list(cells), lambda c: load_predictor(texts[c.model_id], backend="lightgbm")
    )


@pytest.fixture(scope="session")
def table() -> pa.Table:
    return candidates_table()


@pytest.fixture(scope="session")
def booster(table: pa.Table) -> Booster:
    return make_booster(table)


def register(
    registry: Registry,
    booster: Booster,
    *,
    name: str = "rr",
    version: int = 1,
    cell: str | None = None,
    stage: str = "production",
    schema_sha_v2: str | None = SCHEMA_SHA,
) -> int:
    """Store the booster and insert its model row directly (registration has its own tests)."""
    sha = registry.store.put_bytes(booster.text.encode("utf-8"))
    assert sha == booster.sha256
    with registry.transaction() as session:
        row = RerankerModel(
            name=name,
            version=version,
            cell_key=cell or "",
            run_name=f"{name}-v{version}",
            run_sha256=hashlib.sha256(f"{name}{version}{cell}".encode()).hexdigest(),
            run_created_at=datetime(2026, 1, 1, tzinfo=UTC),
            registered_via="run_dir",
            producer_name="tests",
            producer_version="0",
            producer_git_sha=None,
            spec_yaml=None,
            run_json="{}",
            dataset_name="synthetic",
            dataset_manifest_sha256="0" * 64,
            feature_families=sorted(FEATURE_SCHEMA),
            feature_schema=FEATURE_SCHEMA,
            feature_names=BOOSTER_FEATURES,
            feature_schema_sha=compute_feature_schema_sha(FEATURE_SCHEMA),
            schema_sha_v2=schema_sha_v2,
            objective="lambdarank",
            num_trees=15,
            metrics={},
            gate={},
            gate_verdict="PROMOTE",
            smoke=False,
            license_id="CC0-1.0",
            license_url="https://creativecommons.org/publicdomain/zero/1.0/",
            artifact_uri=registry.store.uri(sha),
            artifact_sha256=sha,
            stage=stage,
        )
        session.add(row)
        session.flush()
        return int(row.id)


def stored_for_rescore(registry: Registry, table: pa.Table, tmp_path: Path) -> tuple[Booster, int]:
    """Model ``rr``: version 1 (production) stores ``table``'s scores with ``score --store``;
    version 2 waits in staging to re-score them (``rr#2``). Returns (version 2, rows stored)."""
    from tessera_serving.scoring.score_job import ScoreOptions, run_score_job

    v1, v2 = make_booster(table), make_booster(table, rounds=6, seed=4)
    register(registry, v1)
    register(registry, v2, version=2, stage="staging")
    path = write_candidates(tmp_path / "in.parquet", table)
    options = ScoreOptions(backend="lightgbm", num_threads=1, store=True)
    job = run_score_job(registry, "rr", path, tmp_path / "out.parquet", options)
    return v2, int(job.counts["stored"])
