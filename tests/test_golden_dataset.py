"""Golden dataset gate: the lab's writer and the contracts' fingerprints must never drift apart.

``tests/golden/dataset-v2-tiny/`` was written by ``tessera_lab.dataset.write_dataset``
(regenerate only on purpose: ``uv run python tests/test_golden_dataset.py``, after
deleting the directory). Its feature schema is DESIGN.md's golden vector, so both the
Parquet metadata and the manifest must fingerprint to the contract's literal values.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tessera_contracts import (
    FEATURE_SCHEMA_METADATA_KEY,
    Producer,
    compute_feature_schema_sha,
    compute_schema_sha,
    load_manifest,
)
from tessera_lab.dataset import open_dataset, write_dataset
from tessera_lab.dataset.validate import validate_dataset

GOLDEN = Path(__file__).resolve().parent / "golden" / "dataset-v2-tiny"
SCHEMA = {"knn": ["knn_score", "knn_votes"], "length": ["query_len", "len_ratio"]}
# Literal values, committed: DESIGN.md section 2's golden vector and its family fingerprint.
SCHEMA_SHA = "59d7445eba35"
FEATURE_SCHEMA_SHA = "5c2e307868b6"
CREATED_AT = datetime(2026, 1, 1, tzinfo=UTC)
PRODUCER = Producer(name="tessera-lab", version="0.1.0", git_sha=None)


def golden_split(first_query: int, queries: int, seed: int) -> pa.Table:
    """A few dozen deterministic rows: two categories, two snapshot pairs, a NaN feature."""
    rng = np.random.default_rng(seed)
    sizes = [5, 7, 4, 6][:queries]
    n = sum(sizes)
    query = np.repeat(np.arange(first_query, first_query + queries), sizes)
    return pa.table(
        {
            "query_id": query.astype(np.int64),
            "candidate_id": np.arange(n, dtype=np.int64) + 1000 * seed,
            "label": (rng.random(n) < 0.3).astype(np.int64),
            "category": ["BPO" if q % 2 else "MFO" for q in query],
            "snapshot_pair": ["2023-01..2023-07" if q < 2 else "2023-07..2024-01" for q in query],
            "base_score": np.round(rng.random(n), 3),
            "weight": np.round(rng.pareto(1.5, n), 3),
            "knn_score": np.round(rng.random(n), 3).astype(np.float32),
            "knn_votes": rng.integers(0, 9, n).astype(np.float32),
            "query_len": np.repeat(rng.integers(80, 900, queries), sizes).astype(np.float32),
            "len_ratio": np.where(np.arange(n) % 7 == 3, np.nan, np.round(rng.random(n), 3)),
        }
    )


def write_golden(out: Path) -> None:
    """Write the golden dataset with the lab's own writer (fixed time and producer)."""
    write_dataset(
        out,
        name="golden-tiny",
        train=golden_split(0, 4, seed=1),
        eval=golden_split(10, 2, seed=2),
        feature_schema=SCHEMA,
        label_kind="binary",
        producer=PRODUCER,
        created_at=CREATED_AT,
    )


def test_golden_fingerprints_agree_everywhere() -> None:
    manifest = load_manifest(GOLDEN / "manifest.json")
    assert compute_schema_sha(SCHEMA) == SCHEMA_SHA  # the contracts' golden vector
    assert compute_feature_schema_sha(SCHEMA) == FEATURE_SCHEMA_SHA
    assert manifest.feature_schema == SCHEMA
    assert (manifest.schema_sha, manifest.feature_schema_sha) == (SCHEMA_SHA, FEATURE_SCHEMA_SHA)
    assert compute_schema_sha(manifest.feature_schema) == SCHEMA_SHA
    assert compute_feature_schema_sha(manifest.feature_schema) == FEATURE_SCHEMA_SHA
    for name in ("train.parquet", "eval.parquet"):
        metadata = pq.read_schema(GOLDEN / name).metadata
        carried = json.loads(metadata[FEATURE_SCHEMA_METADATA_KEY.encode()])
        assert carried == manifest.feature_schema, name
        assert compute_schema_sha(carried) == manifest.schema_sha == SCHEMA_SHA, name
        assert compute_feature_schema_sha(carried) == manifest.feature_schema_sha, name


def test_golden_files_match_their_manifest() -> None:
    assert validate_dataset(GOLDEN) == []
    dataset = open_dataset(GOLDEN)
    assert dataset.manifest.name == "golden-tiny"
    assert dataset.rows("train") + dataset.rows("eval") == 34
    assert dataset.feature_columns == ["knn_score", "knn_votes", "query_len", "len_ratio"]


def test_writer_today_reproduces_the_golden_dataset(tmp_path: Path) -> None:
    """Same inputs through today's writer: same manifest (but file hashes), same tables."""
    write_golden(tmp_path / "again")
    committed = load_manifest(GOLDEN / "manifest.json").to_plain()
    fresh = load_manifest(tmp_path / "again" / "manifest.json").to_plain()
    for manifest in (committed, fresh):
        for entry in manifest["files"].values():
            del entry["sha256"], entry["bytes"]  # encoder details may change across pyarrow
    assert fresh == committed
    for name in ("train.parquet", "eval.parquet"):
        old, new = pq.read_table(GOLDEN / name), pq.read_table(tmp_path / "again" / name)
        assert new.schema.equals(old.schema, check_metadata=True), name
        for column in old.column_names:  # NaN-aware, unlike Table.equals
            np.testing.assert_array_equal(
                new[column].to_numpy(zero_copy_only=False),
                old[column].to_numpy(zero_copy_only=False),
                err_msg=f"{name}: column {column}",
            )


if __name__ == "__main__":
    write_golden(GOLDEN)
    print(f"wrote {GOLDEN}", file=sys.stderr)
