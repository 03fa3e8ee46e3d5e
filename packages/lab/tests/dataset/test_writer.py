"""write_dataset: layout, metadata, manifest, atomicity and input checks."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tessera_contracts import (
    FEATURE_SCHEMA_METADATA_KEY,
    compute_schema_sha,
    load_manifest,
    sha256_file,
)
from tessera_lab.dataset import ROW_GROUP_SIZE, write_dataset
from tessera_lab.errors import DatasetError

from .conftest import SCHEMA, MakeTable

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _write(out: Path, make_table: MakeTable, **kwargs: object) -> object:
    args: dict[str, object] = {
        "name": "tiny",
        "train": make_table(),
        "eval": make_table(queries=3, seed=1),
        "feature_schema": SCHEMA,
        "label_kind": "binary",
        "created_at": WHEN,
    }
    args.update(kwargs)
    return write_dataset(out, **args)  # type: ignore[arg-type]


def test_layout_manifest_and_metadata(tmp_path: Path, make_table: MakeTable) -> None:
    out = tmp_path / "ds"
    manifest = _write(out, make_table)
    assert sorted(p.name for p in out.iterdir()) == [
        "eval.parquet",
        "manifest.json",
        "train.parquet",
    ]
    assert load_manifest(out / "manifest.json") == manifest
    loaded = load_manifest(out / "manifest.json")
    assert loaded.schema_sha == compute_schema_sha(SCHEMA) == "59d7445eba35"
    assert loaded.categories == ["BPO", "MFO"]
    assert loaded.snapshot_pairs == ["2024-01..2024-07"]
    assert loaded.has_weight is True
    for name, rows in (("train.parquet", 30), ("eval.parquet", 15)):
        entry = loaded.files[name]
        assert entry.rows == rows == pq.read_metadata(out / name).num_rows
        assert entry.sha256 == sha256_file(out / name)[0]
        assert entry.bytes == (out / name).stat().st_size
        schema = pq.read_schema(out / name)
        carried = json.loads(schema.metadata[FEATURE_SCHEMA_METADATA_KEY.encode()])
        assert carried == SCHEMA
        assert schema.names[:7] == [
            "query_id",
            "candidate_id",
            "label",
            "category",
            "snapshot_pair",
            "base_score",
            "weight",
        ]
        assert schema.names[7:] == ["knn_score", "knn_votes", "query_len", "len_ratio"]
        assert pq.ParquetFile(out / name).metadata.row_group(0).column(0).compression == "ZSTD"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_streams_batches_into_full_row_groups(tmp_path: Path, make_table: MakeTable) -> None:
    table = make_table(queries=400, per_query=7)
    batches = (b for b in table.to_batches(max_chunksize=333))
    _write(tmp_path / "ds", make_table, train=batches, row_group_size=1000)
    meta = pq.read_metadata(tmp_path / "ds" / "train.parquet")
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [1000, 1000, 800]
    written = pq.read_table(tmp_path / "ds" / "train.parquet")
    assert written["candidate_id"].to_pylist() == table["candidate_id"].to_pylist()
    assert written["knn_score"].to_pylist() == table["knn_score"].to_pylist()
    assert ROW_GROUP_SIZE == 131072


def test_coerces_common_input_types(tmp_path: Path, make_table: MakeTable) -> None:
    n = 30
    table = make_table(
        query_id=pa.array([f"q{i // 5}" for i in range(n)], pa.large_string()),
        label=np.where(np.arange(n) % 5 == 0, 1.0, 0.0),
        category=pa.array(["BPO"] * n).dictionary_encode(),
        knn_votes=np.arange(n, dtype=np.int32),
    )
    _write(tmp_path / "ds", make_table, train=table, eval=table, name="strings")
    schema = pq.read_schema(tmp_path / "ds" / "train.parquet")
    assert schema.field("query_id").type == pa.string()
    assert schema.field("label").type == pa.int64()
    assert schema.field("category").type == pa.string()
    assert schema.field("knn_votes").type == pa.float64()
    assert schema.field("knn_score").type == pa.float32()


def test_without_weight_column(tmp_path: Path, make_table: MakeTable) -> None:
    manifest = _write(
        tmp_path / "ds",
        make_table,
        train=make_table().drop_columns(["weight"]),
        eval=make_table(seed=1).drop_columns(["weight"]),
    )
    assert manifest.has_weight is False  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"label": np.full(30, 2)}, "train.parquet, column 'label', row 0: expected 0 or 1"),
        ({"label": np.where(np.arange(30) == 7, np.nan, 0.0)}, "column 'label', row 7"),
        ({"weight": np.where(np.arange(30) == 4, -1.0, 1.0)}, "column 'weight', row 4"),
        ({"base_score": np.where(np.arange(30) == 9, np.inf, 1.0)}, "column 'base_score', row 9"),
        ({"query_id": np.array([0] * 5 + [1] * 5 + [0] * 20)}, "column 'query_id', row 10"),
        ({"category": [""] * 30}, "column 'category', row 0: expected a non-blank string"),
    ],
)
def test_bad_rows_raise_and_leave_nothing(
    tmp_path: Path, make_table: MakeTable, change: dict[str, object], message: str
) -> None:
    out = tmp_path / "ds"
    with pytest.raises(DatasetError, match=message.replace("(", r"\(")):
        _write(out, make_table, train=make_table(**change))
    assert list(tmp_path.iterdir()) == []


def test_missing_and_unexpected_columns(tmp_path: Path, make_table: MakeTable) -> None:
    with pytest.raises(DatasetError, match=r"eval\.parquet: missing required column 'label'"):
        _write(tmp_path / "a", make_table, eval=make_table().drop_columns(["label"]))
    with pytest.raises(DatasetError, match="missing feature column 'len_ratio'"):
        _write(tmp_path / "b", make_table, train=make_table().drop_columns(["len_ratio"]))
    with pytest.raises(DatasetError, match="unexpected column 'extra'"):
        _write(tmp_path / "c", make_table, train=make_table(extra=np.zeros(30)))
    with pytest.raises(DatasetError, match=r"eval\.parquet: the split has no rows"):
        _write(tmp_path / "d", make_table, eval=make_table().slice(0, 0))
    assert list(tmp_path.iterdir()) == []


def test_never_overwrites(tmp_path: Path, make_table: MakeTable) -> None:
    out = tmp_path / "ds"
    out.mkdir()
    with pytest.raises(DatasetError, match="already exists"):
        _write(out, make_table)
    assert list(out.iterdir()) == []


def test_declared_values_must_cover_the_data(tmp_path: Path, make_table: MakeTable) -> None:
    with pytest.raises(DatasetError, match="category 'MFO' is not among the declared"):
        _write(tmp_path / "ds", make_table, categories=["BPO"])
    manifest = _write(tmp_path / "ok", make_table, categories=["MFO", "BPO", "CCO"])
    assert manifest.categories == ["MFO", "BPO", "CCO"]  # type: ignore[attr-defined]


def test_bad_name_and_schema_fail_before_writing(tmp_path: Path, make_table: MakeTable) -> None:
    with pytest.raises(DatasetError, match="dataset name 'a b' is invalid"):
        _write(tmp_path / "ds", make_table, name="a b")
    with pytest.raises(DatasetError, match="column 'label' is a reserved column name"):
        _write(tmp_path / "ds", make_table, feature_schema={"knn": ["label"]})
    with pytest.raises(DatasetError, match="label_kind must be one of"):
        _write(tmp_path / "ds", make_table, label_kind="ordinal")
    assert list(tmp_path.iterdir()) == []


def test_graded_labels(tmp_path: Path, make_table: MakeTable) -> None:
    graded = make_table(label=np.arange(30) % 4)
    manifest = _write(tmp_path / "ds", make_table, train=graded, label_kind="graded")
    assert manifest.label_kind == "graded"  # type: ignore[attr-defined]
    with pytest.raises(DatasetError, match=r"row 0: expected a grade 0\.\.30 .*found -3"):
        _write(
            tmp_path / "x",
            make_table,
            train=make_table(label=np.arange(30) - 3),
            label_kind="graded",
        )
    # Above 30 LightGBM's lambdarank has no gain for the grade: the writer refuses it too.
    with pytest.raises(DatasetError, match=r"row 29: expected a grade 0\.\.30 .*found 31"):
        _write(
            tmp_path / "y",
            make_table,
            train=make_table(label=np.arange(30) + 2),
            label_kind="graded",
        )
