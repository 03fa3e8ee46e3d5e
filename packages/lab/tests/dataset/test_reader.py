"""open_dataset: reading splits, and verification against the manifest."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from tessera_lab.dataset import Dataset, open_dataset, write_dataset
from tessera_lab.errors import DatasetError

from .conftest import SCHEMA, build_table


@pytest.fixture
def dataset_dir(tmp_path: Path) -> Path:
    out = tmp_path / "ds"
    write_dataset(
        out,
        name="tiny",
        train=build_table(queries=40),
        eval=build_table(queries=5, seed=1),
        feature_schema=SCHEMA,
        label_kind="binary",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    return out


def test_read_and_iterate(dataset_dir: Path) -> None:
    ds = open_dataset(dataset_dir)
    assert isinstance(ds, Dataset)
    assert ds.manifest.name == "tiny"
    assert ds.split_path("eval") == dataset_dir / "eval.parquet"
    assert ds.feature_columns == ["knn_score", "knn_votes", "query_len", "len_ratio"]
    table = ds.read("train", columns=["query_id", "label"])
    assert table.column_names == ["query_id", "label"]
    assert table.num_rows == ds.rows("train") == 200
    batches = list(ds.iter_batches("train", columns=["knn_score"], batch_size=64))
    assert [b.num_rows for b in batches] == [64, 64, 64, 8]
    assert pa.Table.from_batches(batches)["knn_score"].equals(ds.read("train")["knn_score"])
    filtered = ds.read("train", filter=pc.field("category") == "BPO")
    assert set(filtered["category"].to_pylist()) == {"BPO"}
    import hashlib

    raw = (dataset_dir / "manifest.json").read_bytes()
    assert ds.manifest_sha256 == hashlib.sha256(raw).hexdigest()
    with pytest.raises(DatasetError, match="unknown split 'test'"):
        ds.split_path("test")


def test_tampered_file_is_named(dataset_dir: Path) -> None:
    path = dataset_dir / "eval.parquet"
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match=r"eval.parquet: field 'sha256'"):
        open_dataset(dataset_dir)
    assert open_dataset(dataset_dir, verify=False).manifest.name == "tiny"


def test_truncated_file_is_named(dataset_dir: Path) -> None:
    path = dataset_dir / "train.parquet"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DatasetError, match=r"train.parquet: field 'bytes'"):
        open_dataset(dataset_dir)


def test_metadata_schema_must_match_manifest(dataset_dir: Path) -> None:
    path = dataset_dir / "train.parquet"
    table = pq.read_table(path)
    other = json.dumps({"knn": ["knn_score", "knn_votes", "query_len", "len_ratio"]})
    pq.write_table(
        table.replace_schema_metadata({"tessera.feature_schema": other}), path, compression="zstd"
    )
    manifest = json.loads((dataset_dir / "manifest.json").read_text())
    from tessera_contracts import sha256_file

    manifest["files"]["train.parquet"]["sha256"] = sha256_file(path)[0]
    manifest["files"]["train.parquet"]["bytes"] = path.stat().st_size
    (dataset_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DatasetError, match=r"train.parquet: field 'feature_schema'"):
        open_dataset(dataset_dir)


def test_bad_manifest_and_missing_dir(dataset_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not a dataset directory"):
        open_dataset(tmp_path / "nope")
    manifest = json.loads((dataset_dir / "manifest.json").read_text())
    manifest["schema_sha"] = "000000000000"
    (dataset_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DatasetError, match=r"manifest.json: .*schema_sha"):
        open_dataset(dataset_dir)


def test_unknown_column_is_one_line(dataset_dir: Path) -> None:
    ds = open_dataset(dataset_dir)
    assert ds.columns()[:7] == [
        "query_id",
        "candidate_id",
        "label",
        "category",
        "snapshot_pair",
        "base_score",
        "weight",
    ]
    for call in (
        lambda: ds.read("train", columns=["label", "nope"]),
        lambda: list(ds.iter_batches("eval", columns=["nope"])),
    ):
        with pytest.raises(DatasetError, match=r"no column 'nope' in dataset 'tiny'") as info:
            call()
        assert "\n" not in str(info.value)
