"""``dataset import --valid``: a separate validation file in ``train.parquet`` under its own
snapshot pair, LETOR ``#docid`` comments as candidate ids, and every misuse failing on one
line (real subprocesses; tiny hand-written LETOR files and CSV tables)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

SCRIPT = Path(sys.executable).parent / "tessera-lab"


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_WAIT_POLICY": "passive"}
    return subprocess.run(
        [str(SCRIPT), *map(str, args)], capture_output=True, text=True, env=env, timeout=300
    )


def one_line_error(result: subprocess.CompletedProcess[str], out: Path) -> str:
    assert result.returncode == 1, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tessera-lab: error: ")
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}")]
    return lines[0]


def letor(path: Path, first_qid: int, queries: int, *, docids: bool = True) -> Path:
    """LETOR 4.0 lines: ``label qid:Q 1:v 2:v 3:v #docid = GX... inc = 1 prob = 0.5``."""
    lines = []
    for q in range(first_qid, first_qid + queries):
        for doc in range(4):
            comment = f" #docid = GX{q:03d}-{doc:02d} inc = 1 prob = 0.5" if docids else ""
            lines.append(
                f"{(q + doc) % 3} qid:{q} 1:{doc / 4:.2f} 2:{q / 100:.2f} 3:0.5{comment}\n"
            )
    path.write_text("".join(lines), encoding="utf-8")
    return path


@pytest.fixture
def fold(tmp_path: Path) -> dict[str, Path]:
    return {
        "train": letor(tmp_path / "train.txt", 1, 6),
        "valid": letor(tmp_path / "vali.txt", 101, 2),
        "eval": letor(tmp_path / "test.txt", 201, 3),
    }


def test_letor_fold_with_docids(tmp_path: Path, fold: dict[str, Path]) -> None:
    out = tmp_path / "ds"
    result = run(
        "dataset", "import", out, "--train", fold["train"], "--eval", fold["eval"],
        "--valid", fold["valid"],
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "snapshot pairs ['static', 'valid']" in result.stdout
    train = pq.read_table(out / "train.parquet")
    pairs = train.column("snapshot_pair").to_pylist()
    assert pairs == ["static"] * 24 + ["valid"] * 8
    assert train.column("query_id").to_pylist()[24:] == [101] * 4 + [102] * 4
    assert train.column("candidate_id").to_pylist()[:2] == ["GX001-00", "GX001-01"]
    assert train.column("candidate_id").to_pylist()[-1] == "GX102-03"
    test = pq.read_table(out / "eval.parquet")
    assert test.column("candidate_id").to_pylist()[0] == "GX201-00"
    assert set(test.column("snapshot_pair").to_pylist()) == {"static"}
    assert run("dataset", "validate", out).returncode == 0


def test_group_files_and_a_named_pair(tmp_path: Path) -> None:
    files = {}
    for name, queries in (("train", 3), ("vali", 2), ("test", 2)):
        path = tmp_path / f"{name}.svm"
        lines = [f"{i % 2} 1:{i}.0 2:0.5\n" for i in range(queries * 3)]
        path.write_text("".join(lines), encoding="utf-8")
        (tmp_path / f"{name}.groups").write_text("3\n" * queries, encoding="utf-8")
        files[name] = path
    out = tmp_path / "ds"
    result = run(
        "dataset", "import", out, "--train", files["train"], "--eval", files["test"],
        "--valid", files["vali"], "--valid-snapshot-pair", "vali",
        "--train-query", tmp_path / "train.groups", "--eval-query", tmp_path / "test.groups",
        "--valid-query", tmp_path / "vali.groups",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    train = pq.read_table(out / "train.parquet")
    assert train.column("snapshot_pair").to_pylist() == ["static"] * 9 + ["vali"] * 6
    assert train.column("query_id").to_pylist() == [0] * 3 + [1] * 3 + [2] * 3 + [3] * 3 + [4] * 3
    assert pq.read_table(out / "eval.parquet").column("query_id").to_pylist()[0] == 5


def test_tables_with_a_validation_table(tmp_path: Path) -> None:
    def table(path: Path, first: int) -> Path:
        pacsv.write_csv(
            pa.table({"q": [first, first, first + 1, first + 1], "y": [1, 0, 0, 1],
                      "x": [0.1, 0.2, 0.3, 0.4]}),
            path,
        )  # fmt: skip
        return path

    out = tmp_path / "ds"
    result = run(
        "dataset", "import", out, "--train", table(tmp_path / "t.csv", 0),
        "--eval", table(tmp_path / "e.csv", 10), "--valid", table(tmp_path / "v.csv", 5),
        "--query-col", "q", "--label-col", "y",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    train = pq.read_table(out / "train.parquet")
    assert train.column("snapshot_pair").to_pylist() == ["static"] * 4 + ["valid"] * 4


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("shared-query", "vali.txt: row 0: query 6 also occurs in the training file"),
        ("valid-query-alone", "--valid-query needs --valid FILE"),
        ("same-pair", "--valid-snapshot-pair 'static' is also the training rows' snapshot pair"),
        ("docid-missing", "vali.txt: has no '#docid = ...' comments but"),
        ("docid-mixed", "train.txt:25: some lines have a '#docid = ...' comment and some do not"),
    ],
)
def test_text_misuse_is_one_line(
    tmp_path: Path, fold: dict[str, Path], case: str, message: str
) -> None:
    extra: list[str | Path] = ["--valid", fold["valid"]]
    if case == "shared-query":
        letor(fold["valid"], 6, 2)
    elif case == "valid-query-alone":
        extra = ["--valid-query", fold["valid"]]
    elif case == "same-pair":
        extra += ["--valid-snapshot-pair", "static"]
    elif case == "docid-missing":
        letor(fold["valid"], 101, 2, docids=False)
    else:
        with fold["train"].open("a", encoding="utf-8") as handle:
            handle.write("1 qid:50 1:0.1 2:0.2 3:0.3\n")
    out = tmp_path / "ds"
    error = one_line_error(
        run("dataset", "import", out, "--train", fold["train"], "--eval", fold["eval"], *extra),
        out,
    )
    assert message in error, error


def test_a_training_row_in_the_validation_pair_is_refused(tmp_path: Path) -> None:
    def table(path: Path, pair: str) -> Path:
        pacsv.write_csv(
            pa.table({"q": [1, 1, 2, 2], "y": [1, 0, 0, 1], "x": [0.1, 0.2, 0.3, 0.4],
                      "p": ["2024", "2024", "2024", pair]}),
            path,
        )  # fmt: skip
        return path

    out = tmp_path / "ds"
    valid = table(tmp_path / "v.csv", "2024")
    valid.write_text(valid.read_text().replace("1,", "7,").replace("2,", "8,"))
    result = run(
        "dataset", "import", out, "--train", table(tmp_path / "t.csv", "valid"),
        "--eval", table(tmp_path / "e.csv", "2024"), "--valid", valid,
        "--query-col", "q", "--label-col", "y", "--snapshot-col", "p",
    )  # fmt: skip
    error = one_line_error(result, out)
    assert "t.csv: row 3: snapshot pair 'valid' is the validation file's" in error
    table_error = one_line_error(
        run(
            "dataset", "import", out, "--train", table(tmp_path / "t2.csv", "2024"),
            "--eval", tmp_path / "e.csv", "--valid", valid, "--valid-query", valid,
            "--query-col", "q", "--label-col", "y",
        ),
        out,
    )  # fmt: skip
    assert "--valid-query applies to LibSVM text only" in table_error


def test_side_files_and_columns_must_match_the_training_file(
    tmp_path: Path, fold: dict[str, Path]
) -> None:
    out = tmp_path / "ds"
    for name in ("train", "eval"):
        rows = len(fold[name].read_text().splitlines())
        Path(f"{fold[name]}.weight").write_text("1.0\n" * rows, encoding="utf-8")
    error = one_line_error(
        run("dataset", "import", out, "--train", fold["train"], "--eval", fold["eval"],
            "--valid", fold["valid"]),
        out,
    )  # fmt: skip
    assert f"train.txt: has a weight file but {fold['valid']} has none" in error

    def table(path: Path, feature: str) -> Path:
        pacsv.write_csv(pa.table({"q": [1, 1], "y": [1, 0], feature: [0.1, 0.2]}), path)
        return path

    error = one_line_error(
        run(
            "dataset", "import", out, "--train", table(tmp_path / "t.csv", "x"),
            "--eval", table(tmp_path / "e.csv", "x"), "--valid", table(tmp_path / "v.csv", "z"),
            "--query-col", "q", "--label-col", "y",
        ),
        out,
    )  # fmt: skip
    assert "v.csv: feature columns differ from" in error
