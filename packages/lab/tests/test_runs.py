"""Run directories appear whole or not at all, and are never overwritten."""

from __future__ import annotations

from pathlib import Path

import pytest

from tessera_lab.errors import TrainingError
from tessera_lab.runs import RunFiles, write_runs

FILES = {"run.json": "{}\n", "spec.yaml": "a: 1\n", "model.txt": "tree\n"}


def test_writes_contract_files_and_report(tmp_path: Path) -> None:
    [run] = write_runs(tmp_path, [RunFiles("r", FILES, {"history.json": "{}"})])
    assert sorted(p.name for p in run.iterdir()) == ["model.txt", "report", "run.json", "spec.yaml"]
    assert (run / "report" / "history.json").read_text() == "{}"
    assert [p.name for p in tmp_path.iterdir()] == ["r"]  # no staging left behind


def test_all_or_nothing_when_one_run_exists(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    with pytest.raises(TrainingError, match=r"b: run directory already exists"):
        write_runs(tmp_path, [RunFiles("a", FILES), RunFiles("b", FILES)])
    assert [p.name for p in tmp_path.iterdir()] == ["b"]


def test_failure_while_staging_leaves_nothing(tmp_path: Path) -> None:
    broken = RunFiles("c", {"run.json": "{}", "spec.yaml": "", "model.txt": object()})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        write_runs(tmp_path, [RunFiles("ok", FILES), broken])
    assert list(tmp_path.iterdir()) == []


def test_missing_contract_file_and_bad_name(tmp_path: Path) -> None:
    with pytest.raises(TrainingError, match=r"contract files missing: \['model.txt'\]"):
        write_runs(tmp_path, [RunFiles("m", {"run.json": "", "spec.yaml": ""})])
    with pytest.raises(TrainingError, match=r"run name '\.\./x'"):
        write_runs(tmp_path, [RunFiles("../x", FILES)])
    assert list(tmp_path.iterdir()) == []
