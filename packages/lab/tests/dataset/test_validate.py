"""validate_dataset: every problem is found and located (file, column, row)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tessera_contracts import sha256_file
from tessera_lab.dataset import write_dataset
from tessera_lab.dataset.validate import validate_dataset

from .conftest import SCHEMA, build_table


@pytest.fixture
def dataset_dir(tmp_path: Path) -> Path:
    out = tmp_path / "ds"
    write_dataset(
        out,
        name="tiny",
        train=build_table(queries=8),
        eval=build_table(queries=4, seed=1),
        feature_schema=SCHEMA,
        label_kind="binary",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    return out


def _rewrite(root: Path, filename: str, table: pa.Table, *, fix_manifest: bool = True) -> None:
    """Replace a split file (keeping its metadata) and, optionally, re-sign the manifest."""
    path = root / filename
    metadata = pq.read_schema(path).metadata
    pq.write_table(table.replace_schema_metadata(metadata), path, compression="zstd")
    if fix_manifest:
        manifest = json.loads((root / "manifest.json").read_text())
        manifest["files"][filename] = {
            "sha256": sha256_file(path)[0],
            "rows": table.num_rows,
            "bytes": path.stat().st_size,
        }
        (root / "manifest.json").write_text(json.dumps(manifest))


def _messages(root: Path) -> list[str]:
    return [str(p) for p in validate_dataset(root)]


def test_valid_dataset_has_no_problems(dataset_dir: Path) -> None:
    assert validate_dataset(dataset_dir) == []


def test_tampered_bytes(dataset_dir: Path) -> None:
    path = dataset_dir / "train.parquet"
    _rewrite(dataset_dir, "train.parquet", pq.read_table(path).slice(0, 35), fix_manifest=False)
    messages = _messages(dataset_dir)
    assert any(m.startswith("train.parquet: sha256: manifest says") for m in messages)
    assert any(m.startswith("train.parquet: rows: manifest says 40, file has 35") for m in messages)
    assert any(m.startswith("train.parquet: bytes:") for m in messages)


def test_row_problems_are_located(dataset_dir: Path) -> None:
    table = pq.read_table(dataset_dir / "train.parquet")
    label = table["label"].to_numpy().copy()
    label[13] = 3
    weight = table["weight"].to_numpy().copy()
    weight[21] = np.nan
    query = table["query_id"].to_numpy().copy()
    query[30:35] = query[0]
    base = table["base_score"].to_numpy().copy()
    base[2] = np.inf
    for name, values in (
        ("label", label),
        ("weight", weight),
        ("query_id", query),
        ("base_score", base),
    ):
        table = table.set_column(table.schema.get_field_index(name), name, pa.array(values))
    _rewrite(dataset_dir, "train.parquet", table)
    messages = _messages(dataset_dir)
    assert (
        "train.parquet, column 'label', row 13: expected 0 or 1 (label_kind 'binary'), found 3"
        in messages
    )
    assert (
        "train.parquet, column 'weight', row 21: expected a finite float >= 0, found nan"
        in messages
    )
    assert any(
        m.startswith("train.parquet, column 'query_id', row 30: rows of query 0") for m in messages
    )
    assert (
        "train.parquet, column 'base_score', row 2: expected a finite float, found inf" in messages
    )
    assert len(messages) == 4


def test_columns_types_and_schema(dataset_dir: Path) -> None:
    table = pq.read_table(dataset_dir / "eval.parquet")
    table = table.drop_columns(["len_ratio"])
    table = table.set_column(2, "label", table["label"].cast(pa.float64()))
    table = table.append_column("extra", pa.array(np.zeros(table.num_rows)))
    _rewrite(dataset_dir, "eval.parquet", table)
    messages = _messages(dataset_dir)
    assert "eval.parquet, column 'len_ratio': column is missing" in messages
    assert "eval.parquet, column 'label': expected type int64, found double" in messages
    assert "eval.parquet, column 'extra': unexpected column (not in the manifest)" in messages


def test_metadata_fingerprints(dataset_dir: Path) -> None:
    table = pq.read_table(dataset_dir / "train.parquet")
    other = {"knn": ["knn_score", "knn_votes"], "length": ["query_len", "len_ratio2"]}
    path = dataset_dir / "train.parquet"
    pq.write_table(
        table.replace_schema_metadata({"tessera.feature_schema": json.dumps(other)}), path
    )
    messages = _messages(dataset_dir)
    assert any(
        "schema_sha from metadata is" in m and "manifest says 59d7445eba35" in m for m in messages
    )
    assert any(m.startswith("train.parquet: metadata feature schema") for m in messages)


def test_manifest_problems(dataset_dir: Path, tmp_path: Path) -> None:
    (dataset_dir / "notes.txt").write_text("hi")
    assert _messages(dataset_dir) == ["notes.txt: unexpected file in the dataset directory"]
    (dataset_dir / "manifest.json").write_text("{")
    [problem] = _messages(dataset_dir)
    assert "manifest.json: not valid JSON" in problem
    assert "not a dataset directory" in _messages(tmp_path / "missing")[0]
