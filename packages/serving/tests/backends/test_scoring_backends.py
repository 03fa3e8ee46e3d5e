"""Serving's scoring path (guard -> matrix -> predict -> ranks) run against both backends."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from tessera_contracts import FEATURE_SCHEMA_METADATA_KEY, compute_schema_sha
from tessera_serving.backends import load_predictor
from tessera_serving.backends.equivalence import compare_scores
from tessera_serving.scoring.guard import ModelCell
from tessera_serving.scoring.scorer import ScoringModel, score_batches
from tessera_serving.store import LocalArtifactStore

from .conftest import BACKENDS_UNDER_TEST, Model


def _batches(model: Model, names: tuple[str, ...], schema: dict[str, list[str]]) -> list[Any]:
    rows = len(model.x_test)
    columns: dict[str, Any] = {
        "query_id": np.repeat(np.arange(len(model.groups)), model.groups),
        "candidate_id": np.arange(rows),
        "base_score": np.linspace(1, 0, rows),
    }
    # the file's column order is reversed on purpose: scoring must select by name
    for j in reversed(range(len(names))):
        columns[names[j]] = model.x_test[:, j]
    table = pa.table(columns).replace_schema_metadata(
        {FEATURE_SCHEMA_METADATA_KEY: json.dumps(schema)}
    )
    return table.to_batches(max_chunksize=100)  # queries span batches


def test_scoring_output_is_the_same_with_both_backends(
    rank_model: Model, shared_cache: tuple[LocalArtifactStore, Path]
) -> None:
    store, cache_dir = shared_cache
    names = tuple(f"Column_{i}" for i in range(rank_model.x_test.shape[1]))
    schema = {"rank": list(names)}
    cell = ModelCell(1, "rr", 1, None, "production", compute_schema_sha(schema),
                     rank_model.sha256, names)  # fmt: skip
    outputs = {}
    for backend in BACKENDS_UNDER_TEST:
        scoring = ScoringModel(
            [cell],
            lambda _c, b=backend: load_predictor(
                rank_model.text, backend=b, num_threads=1, store=store, cache_dir=cache_dir
            ),
        )
        batches = score_batches(scoring, _batches(rank_model, names, schema), events=lambda e: None)
        outputs[backend] = pa.Table.from_batches(list(batches))
    lgbm, compiled = outputs["lightgbm"], outputs["compiled"]
    assert lgbm.num_rows == compiled.num_rows == len(rank_model.x_test)
    assert set(lgbm.column("source").to_pylist()) == {"reranker"}
    expected = rank_model.reference(rank_model.x_test)
    assert np.array_equal(lgbm.column("score").to_numpy(), expected)
    assert compare_scores(expected, compiled.column("score").to_numpy()).equivalent
    assert lgbm.column("rank").equals(compiled.column("rank"))
    assert lgbm.column("candidate_id").equals(compiled.column("candidate_id"))
