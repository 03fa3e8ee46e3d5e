"""Shared helpers for the dataset tests: small, valid tables built in memory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

SCHEMA: dict[str, list[str]] = {
    "knn": ["knn_score", "knn_votes"],
    "length": ["query_len", "len_ratio"],
}

MakeTable = Callable[..., pa.Table]


def build_table(queries: int = 6, per_query: int = 5, seed: int = 0, **overrides: Any) -> pa.Table:
    """A valid split: ``queries`` contiguous queries of ``per_query`` rows, binary labels."""
    rng = np.random.default_rng(seed)
    n = queries * per_query
    columns: dict[str, Any] = {
        "query_id": np.repeat(np.arange(queries, dtype=np.int64) + 100 * seed, per_query),
        "candidate_id": np.arange(n, dtype=np.int64),
        "label": (np.arange(n) % per_query == 0).astype(np.int64),
        "category": ["BPO" if i % 2 else "MFO" for i in range(n)],
        "snapshot_pair": ["2024-01..2024-07"] * n,
        "base_score": rng.random(n),
        "weight": rng.random(n),
        "knn_score": rng.random(n).astype(np.float32),
        "knn_votes": rng.integers(0, 9, n).astype(np.float32),
        "query_len": rng.integers(50, 900, n).astype(np.float32),
        "len_ratio": rng.random(n).astype(np.float32),
    }
    columns.update(overrides)
    return pa.table(columns)


@pytest.fixture
def make_table() -> MakeTable:
    return build_table
