"""import_dataset: LibSVM/LETOR text (the real LightGBM example) and named-column tables."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from tessera_lab.dataset import open_dataset
from tessera_lab.dataset.importers import import_dataset, import_text
from tessera_lab.dataset.tabular import ColumnMap
from tessera_lab.dataset.validate import validate_dataset
from tessera_lab.errors import DatasetError

DATA = Path(__file__).resolve().parents[4] / ".." / "shared" / "data" / "lightgbm-examples"
RANK = DATA / "lambdarank"
WHEN = datetime(2026, 1, 1, tzinfo=UTC)
Arr = np.ndarray[Any, Any]


def _sizes(query_ids: Arr) -> Arr:
    starts = np.concatenate(([0], np.flatnonzero(np.diff(query_ids)) + 1, [len(query_ids)]))
    return np.diff(starts)


def test_lightgbm_rank_example(tmp_path: Path) -> None:
    out = tmp_path / "rank"
    manifest = import_dataset(out, train=RANK / "rank.train", eval=RANK / "rank.test")
    assert manifest.name == "rank-base-input-order"
    assert manifest.label_kind == "graded" and not manifest.has_weight
    assert manifest.feature_schema == {"features": [f"f{i}" for i in range(1, 301)]}
    assert manifest.categories == ["all"] and manifest.snapshot_pairs == ["static"]
    assert manifest.files["train.parquet"].rows == 3005
    assert manifest.files["eval.parquet"].rows == 768
    assert validate_dataset(out) == []
    ds = open_dataset(out)
    train, test = ds.read("train"), ds.read("eval")
    train_sizes = _sizes(train["query_id"].to_numpy())
    expected = np.loadtxt(RANK / "rank.train.query", dtype=np.int64)
    assert train_sizes.tolist() == expected.tolist()
    assert set(train["query_id"].to_pylist()).isdisjoint(test["query_id"].to_pylist())
    first_query = train["base_score"].to_numpy()[: expected[0] + expected[1]]
    assert first_query.tolist() == [0.0, *(-np.arange(expected[1], dtype=float)).tolist()]
    assert sorted(set(train["label"].to_pylist())) == [0, 1, 2, 3, 4]

    # The same booster as LightGBM's own loader on the text file (it adds an empty f0).
    params = {
        "objective": "lambdarank",
        "num_threads": 1,
        "verbose": -1,
        "seed": 0,
        "min_data_in_leaf": 50,
        "num_leaves": 31,
    }
    raw = lgb.train(params, lgb.Dataset(str(RANK / "rank.train")), num_boost_round=10)

    def matrix(table: pa.Table) -> Arr:
        return np.column_stack([table[c].to_numpy() for c in ds.feature_columns])

    ours = lgb.train(
        params,
        lgb.Dataset(matrix(train), train["label"].to_numpy(), group=train_sizes),
        num_boost_round=10,
    )
    x_test = matrix(test)
    raw_pred = raw.predict(np.column_stack([np.zeros(len(x_test)), x_test]))
    np.testing.assert_array_equal(ours.predict(x_test), raw_pred)


def test_qid_weights_families_and_base_column(tmp_path: Path) -> None:
    train = tmp_path / "a.txt"
    train.write_text(
        "1 qid:7 1:0.5 3:2 # comment\n0 qid:7 2:1.5\n\n0 qid:9 0:1 1:0.25 3:1\n1 qid:9 3:4\n"
    )
    (tmp_path / "a.txt.weight").write_text("1\n2\n0.5\n3\n")
    test = tmp_path / "b.txt"
    test.write_text("0 qid:11 1:1\n1 qid:11 2:3\n")
    (tmp_path / "b.txt.weight").write_text("1\n1\n")
    families = tmp_path / "fam.yaml"
    families.write_text("align:\n  - f0\n  - f3\nknn: [f1]\n")
    manifest = import_text(
        tmp_path / "ds",
        train=train,
        eval=test,
        families=families,
        drop_unmapped=True,
        base_score_col="f3",
        category="MFO",
        snapshot_pair="2024-01..2024-07",
        created_at=WHEN,
    )
    assert manifest.feature_schema == {"align": ["f0", "f3"], "knn": ["f1"]}
    assert manifest.label_kind == "binary" and manifest.has_weight
    assert manifest.name == "a"
    table = open_dataset(tmp_path / "ds").read("train")
    assert table["query_id"].to_pylist() == [7, 7, 9, 9]
    assert table["base_score"].to_pylist() == [2.0, 0.0, 1.0, 4.0]
    assert table["f0"].to_pylist() == [0.0, 0.0, 1.0, 0.0]
    assert table["weight"].to_pylist() == [1.0, 2.0, 0.5, 3.0]
    assert table["category"].to_pylist() == ["MFO"] * 4


@pytest.mark.parametrize(
    ("train_text", "extra", "message"),
    [
        ("1 1:0.5\n0 1:x\n", {}, r"a.txt:2: token '1:x' is not 'index:value'"),
        ("1.5 1:0.5\n", {}, r"a.txt:1: label '1.5' is not an integer"),
        ("nan 1:0.5\n", {}, r"a.txt:1: label 'nan' is not an integer"),
        ("1 qid:1 1:0.5\n0 1:2\n", {}, r"a.txt:2: some lines have 'qid:'"),
        ("1 1:0.5\n0 1:2\n", {"a.txt.query": "3\n"}, r"a.txt.query: query sizes sum to 3"),
        ("1 1:0.5\n0 1:2\n", {"a.txt.query": "1\n1\n", "a.txt.weight": "1\n"}, "1 weights"),
    ],
)
def test_bad_text_input(
    tmp_path: Path, train_text: str, extra: dict[str, str], message: str
) -> None:
    (tmp_path / "a.txt").write_text(train_text)
    (tmp_path / "b.txt").write_text("0 qid:5 1:1\n")
    for name, text in extra.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(DatasetError, match=message):
        import_text(tmp_path / "ds", train=tmp_path / "a.txt", eval=tmp_path / "b.txt")
    assert not (tmp_path / "ds").exists()


def test_missing_group_file_and_bad_mapping(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("1 1:0.5\n0 2:1\n")
    (tmp_path / "b.txt").write_text("0 qid:5 1:1\n")
    with pytest.raises(DatasetError, match=r"no 'qid:' fields and no group file .*a\.txt\.query"):
        import_text(tmp_path / "ds", train=tmp_path / "a.txt", eval=tmp_path / "b.txt")
    (tmp_path / "a.txt.query").write_text("2\n")
    bad = tmp_path / "fam.yaml"
    for text, message in (
        ("knn: [f1\n", r"fam\.yaml: malformed YAML: line 2, column \d+: "),
        ("- f1\n", r"fam\.yaml: expected a non-empty mapping"),
        ("Knn: [f1, f2]\n", r"fam\.yaml: invalid feature family name 'Knn'"),
        ("knn: f1\n", r"fam\.yaml: family 'knn': expected a non-empty list"),
        ("knn: [f1]\n", r"1 feature column\(s\) are in no family, first 'f2'"),
        ("knn: [f1, f9]\n", r"maps column 'f9', which the input does not have"),
    ):
        bad.write_text(text)
        with pytest.raises(DatasetError, match=message):
            import_text(
                tmp_path / "ds", train=tmp_path / "a.txt", eval=tmp_path / "b.txt", families=bad
            )
    assert not (tmp_path / "ds").exists()


def _table(seed: int, n_queries: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    n = n_queries * 4
    return pa.table(
        {
            "qid": [f"s{seed}q{i // 4}" for i in range(n)],
            "rel": rng.integers(0, 3, n),
            "doc": np.arange(n),
            "score": rng.random(n),
            "aspect": ["CCO" if i % 8 < 4 else "BPO" for i in range(n)],
            "sim": rng.random(n),
            "votes": rng.integers(0, 5, n),
            "note": ["x"] * n,
        }
    )


def test_parquet_and_csv_tables(tmp_path: Path) -> None:
    for fmt in ("parquet", "csv"):
        paths = []
        for seed, queries in ((1, 6), (2, 3)):
            path = tmp_path / f"{fmt}{seed}.{fmt}"
            if fmt == "parquet":
                pq.write_table(_table(seed, queries), path)
            else:
                pacsv.write_csv(_table(seed, queries), path)
            paths.append(path)
        columns = ColumnMap(
            query="qid",
            label="rel",
            candidate="doc",
            base_score="score",
            category="aspect",
            snapshot_pair_value="2023-01..2023-07",
        )
        manifest = import_dataset(
            tmp_path / f"ds-{fmt}",
            train=paths[0],
            eval=paths[1],
            columns=columns,
            exclude=["note"],
            created_at=WHEN,
        )
        assert manifest.feature_schema == {"features": ["sim", "votes"]}
        assert manifest.label_kind == "graded" and manifest.categories == ["BPO", "CCO"]
        table = open_dataset(tmp_path / f"ds-{fmt}").read("train")
        source = _table(1, 6)
        assert table["query_id"].to_pylist() == source["qid"].to_pylist()
        assert table["base_score"].to_pylist() == source["score"].to_pylist()
        assert table["votes"].to_pylist() == [float(v) for v in source["votes"].to_pylist()]
        assert validate_dataset(tmp_path / f"ds-{fmt}") == []


def test_table_errors(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(_table(1, 3), path)
    columns = ColumnMap(query="qid", label="rel")
    with pytest.raises(DatasetError, match=r"column 'aspect' has type string and cannot be a feat"):
        import_dataset(tmp_path / "ds", train=path, eval=path, columns=columns)
    with pytest.raises(DatasetError, match=r"t\.parquet: no column 'missing'"):
        import_dataset(
            tmp_path / "ds", train=path, eval=path, columns=ColumnMap(query="missing", label="rel")
        )
    shuffled = _table(1, 3).take([0, 5, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11])
    pq.write_table(shuffled, tmp_path / "s.parquet")
    with pytest.raises(DatasetError, match=r"s\.parquet \(train split\), column 'query_id', row 2"):
        import_dataset(
            tmp_path / "ds",
            train=tmp_path / "s.parquet",
            eval=path,
            columns=columns,
            exclude=["note", "aspect"],
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.parquet", "t.parquet"]


def test_lightgbm_binary_example_dense_text(tmp_path: Path) -> None:
    binary = DATA / "binary_classification"
    out = tmp_path / "bin"
    manifest = import_dataset(
        out, train=binary / "binary.train", eval=binary / "binary.test", one_query=True
    )
    assert manifest.label_kind == "binary" and manifest.has_weight
    assert manifest.feature_schema == {"features": [f"f{i}" for i in range(28)]}
    ds = open_dataset(out)
    train, test = ds.read("train"), ds.read("eval")
    assert train.num_rows == 7000 and set(train["query_id"].to_pylist()) == {0}
    assert set(test["query_id"].to_pylist()) == {1}
    weights = np.loadtxt(binary / "binary.train.weight")
    np.testing.assert_array_equal(train["weight"].to_numpy(), weights)

    params = {"objective": "binary", "num_threads": 1, "verbose": -1, "seed": 0}
    raw = lgb.train(params, lgb.Dataset(str(binary / "binary.train")), num_boost_round=10)
    x = np.column_stack([train[c].to_numpy() for c in ds.feature_columns])
    ours = lgb.train(
        params,
        lgb.Dataset(x, train["label"].to_numpy(), weight=train["weight"].to_numpy()),
        num_boost_round=10,
    )
    x_test = np.column_stack([test[c].to_numpy() for c in ds.feature_columns])
    np.testing.assert_array_equal(ours.predict(x_test), raw.predict(x_test))
