"""``tessera-lab dataset ...`` through real subprocesses: success paths and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

DATA = Path(__file__).resolve().parents[4] / ".." / "shared" / "data" / "lightgbm-examples"
RANK = DATA / "lambdarank"
SCRIPT = Path(sys.executable).parent / "tessera-lab"


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    command = (
        [str(SCRIPT)]
        if SCRIPT.exists()
        else [sys.executable, "-c", "from tessera_lab.cli import entrypoint; entrypoint()"]
    )
    env = {**os.environ, "OMP_WAIT_POLICY": "passive"}
    return subprocess.run(
        [*command, *map(str, args)], capture_output=True, text=True, env=env, timeout=300
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tessera-lab: error: ")
    return lines[0]


def test_synth_then_validate(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    result = run("dataset", "synth", out, "--rows", "3000", "--seed", "4", "--label-kind", "graded")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"wrote {out}: dataset 'synth-3000r-seed4'")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["label_kind"] == "graded"
    assert manifest["producer"]["name"] == "tessera-lab"
    result = run("dataset", "validate", out)
    assert result.returncode == 0 and result.stdout.startswith("ok:")
    # An existing output directory is never touched.
    before = (out / "manifest.json").read_bytes()
    error = one_line_error(run("dataset", "synth", out, "--rows", "500"))
    assert f"{out}: output directory already exists" in error
    assert (out / "manifest.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_validate_reports_tampering(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    assert run("dataset", "synth", out, "--rows", "1000").returncode == 0
    path = out / "train.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    result = run("dataset", "validate", out)
    assert result.returncode == 1
    assert f"{out}: train.parquet: sha256: manifest says" in result.stderr
    assert result.stderr.strip().splitlines()[-1].endswith(f"problem(s) in {out}")


def test_import_rank_example(tmp_path: Path) -> None:
    out = tmp_path / "rank"
    result = run(
        "dataset",
        "import",
        out,
        "--train",
        RANK / "rank.train",
        "--eval",
        RANK / "rank.test",
        "--category",
        "web",
        "--snapshot-pair",
        "letor",
    )
    assert result.returncode == 0, result.stderr
    assert "train 3005 rows, eval 768 rows, 300 features in 1 families" in result.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["name"] == "rank-base-input-order"
    assert manifest["categories"] == ["web"] and manifest["snapshot_pairs"] == ["letor"]
    assert run("dataset", "validate", out).returncode == 0


def _csv(path: Path, **columns: list[object]) -> Path:
    base: dict[str, list[object]] = {
        "q": [1, 1, 2, 2],
        "y": [1, 0, 0, 1],
        "s": [0.5, 0.1, 0.3, 0.9],
        "x": [1.0, 2.0, 3.0, 4.0],
    }
    base.update(columns)
    pacsv.write_csv(pa.table(base), path)
    return path


@pytest.mark.parametrize(
    ("columns", "options", "message"),
    [
        ({}, ["--label-col", "missing"], "train.csv: no column 'missing'"),
        ({"y": [1.0, None, 0.0, 1.0]}, [], "train.csv (train split), column 'label', row 1:"),
        (
            {"y": [1, 0, 2, 1]},
            ["--label-kind", "binary"],
            "train.csv (train split), column 'label', row 2: expected 0 or 1",
        ),
        (
            {"q": [1, 2, 1, 2]},
            [],
            "train.csv (train split), column 'query_id', row 2: rows of query",
        ),
        (
            {"s": [0.5, float("nan"), 0.3, 0.9]},
            [],
            "train.csv (train split), column 'base_score', row 1: missing value (null)",
        ),
    ],
)
def test_import_bad_tables(
    tmp_path: Path, columns: dict[str, list[object]], options: list[str], message: str
) -> None:
    train = _csv(tmp_path / "train.csv", **columns)
    test = _csv(tmp_path / "eval.csv")
    args = ["--query-col", "q", "--base-score-col", "s"]
    if "--label-col" not in options:
        args += ["--label-col", "y"]
    error = one_line_error(
        run(
            "dataset", "import", tmp_path / "out", "--train", train, "--eval", test, *args, *options
        )
    )
    assert message in error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eval.csv", "train.csv"]


def test_import_malformed_families(tmp_path: Path) -> None:
    families = tmp_path / "families.yaml"
    families.write_text("knn: [f1, f2\n")
    error = one_line_error(
        run(
            "dataset",
            "import",
            tmp_path / "out",
            "--train",
            RANK / "rank.train",
            "--eval",
            RANK / "rank.test",
            "--families",
            families,
        )
    )
    assert f"{families}: malformed YAML: line 2, column " in error
    families.write_text("knn: [f1, f2]\n")
    error = one_line_error(
        run(
            "dataset",
            "import",
            tmp_path / "out",
            "--train",
            RANK / "rank.train",
            "--eval",
            RANK / "rank.test",
            "--families",
            families,
        )
    )
    assert "298 feature column(s) are in no family, first 'f3'" in error
    result = run(
        "dataset",
        "import",
        tmp_path / "out",
        "--train",
        RANK / "rank.train",
        "--eval",
        RANK / "rank.test",
        "--families",
        families,
        "--drop-unmapped",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["feature_schema"] == {
        "knn": ["f1", "f2"]
    }


def test_option_mismatch_is_an_error(tmp_path: Path) -> None:
    error = one_line_error(
        run(
            "dataset",
            "import",
            tmp_path / "out",
            "--train",
            RANK / "rank.train",
            "--eval",
            RANK / "rank.test",
            "--query-col",
            "q",
        )
    )
    assert "--query-col applies to table input only" in error
    assert not (tmp_path / "out").exists()
