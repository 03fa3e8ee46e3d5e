"""Parquet in/out: streaming offsets, atomic output, empty inputs, --feature-schema files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tessera_serving.errors import ScoringError
from tessera_serving.scoring.parquet_io import read_feature_schema_file, score_file

from .conftest import FEATURE_SCHEMA, Booster, scoring_model, write_candidates


def test_on_batch_sees_every_row_once_with_its_input_offset(
    tmp_path: Path, table: pa.Table, booster: Booster
) -> None:
    path = write_candidates(tmp_path / "in.parquet", table, row_group_size=30)
    seen: list[tuple[int, int]] = []
    result = score_file(
        scoring_model({booster.cell(): booster}),
        path,
        tmp_path / "o.parquet",
        batch_size=17,
        on_batch=lambda b, first: seen.append((first, b.num_rows)),
    )
    assert result.rows == table.num_rows
    offsets = [0]
    for first, n in seen:
        assert first == offsets[-1]
        offsets.append(first + n)
    assert offsets[-1] == table.num_rows
    out = pq.read_table(tmp_path / "o.parquet")
    assert np.array_equal(out.column("score").to_numpy(), booster.predict(table))


def test_a_failure_mid_stream_leaves_no_output(
    tmp_path: Path, table: pa.Table, booster: Booster
) -> None:
    path = write_candidates(tmp_path / "in.parquet", table)
    out = tmp_path / "o.parquet"
    out.write_bytes(b"previous output stays untouched")

    def boom(batch: pa.RecordBatch, first: int) -> None:
        if first > 0:
            raise RuntimeError("store went away")

    with pytest.raises(RuntimeError, match="store went away"):
        score_file(
            scoring_model({booster.cell(): booster}), path, out, batch_size=50, on_batch=boom
        )
    assert out.read_bytes() == b"previous output stays untouched"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.parquet", "o.parquet"]


def test_empty_input_writes_an_empty_file_with_the_schema(
    tmp_path: Path, table: pa.Table, booster: Booster
) -> None:
    path = write_candidates(tmp_path / "in.parquet", table.slice(0, 0))
    result = score_file(scoring_model({booster.cell(): booster}), path, tmp_path / "o.parquet")
    out = pq.read_table(tmp_path / "o.parquet")
    assert result.rows == 0 and out.num_rows == 0
    assert out.column_names == [
        "query_id",
        "candidate_id",
        "score",
        "rank",
        "source",
        "model_sha256",
    ]


def test_output_directory_must_exist(tmp_path: Path, table: pa.Table, booster: Booster) -> None:
    path = write_candidates(tmp_path / "in.parquet", table)
    with pytest.raises(ScoringError, match="does not exist"):
        score_file(scoring_model({booster.cell(): booster}), path, tmp_path / "no" / "o.parquet")


def test_not_parquet_is_one_line(tmp_path: Path, booster: Booster) -> None:
    bad = tmp_path / "in.parquet"
    bad.write_text("query_id,candidate_id\n")
    with pytest.raises(ScoringError, match="not a readable Parquet file") as info:
        score_file(scoring_model({booster.cell(): booster}), bad, tmp_path / "o.parquet")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("s.json", '{"knn": ["knn_score", "knn_votes"], "length": ["query_len", "len_ratio"]}'),
        ("s.yaml", "knn: [knn_score, knn_votes]\nlength:\n  - query_len\n  - len_ratio\n"),
    ],
)
def test_feature_schema_files(tmp_path: Path, name: str, text: str) -> None:
    (tmp_path / name).write_text(text)
    assert read_feature_schema_file(tmp_path / name) == FEATURE_SCHEMA


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        ("s.json", "{", "not valid JSON/YAML"),
        ("s.yaml", "knn: knn_score\n", "expected a mapping family -> list"),
        ("s.yaml", "- a\n", "found list"),
    ],
)
def test_bad_feature_schema_files(tmp_path: Path, name: str, text: str, match: str) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(ScoringError, match=match) as info:
        read_feature_schema_file(tmp_path / name)
    assert name in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(ScoringError, match="cannot read"):
        read_feature_schema_file(tmp_path / "absent.yaml")
