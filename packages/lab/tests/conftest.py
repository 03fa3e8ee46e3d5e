"""Shared fixtures of the lab's tests: small synthetic datasets, spec files, the CLI.

Datasets are written once per session by the lab's own synthesiser (a few thousand rows);
tests that modify one copy it first.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))  # cli_checks, for the CLI test modules

from tessera_lab.dataset import synth_dataset

LICENSE = {"id": "Apache-2.0", "url": "https://www.apache.org/licenses/LICENSE-2.0"}
FAMILIES = ["alignment", "annotation_meta", "knn", "length", "taxonomy"]
CLI = Path(sys.executable).parent / "tessera-lab"

SpecFactory = Callable[..., Path]
CliRunner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def graded_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A graded-label synthetic dataset with weights, three categories and snapshot pairs."""
    path = tmp_path_factory.mktemp("data") / "graded"
    synth_dataset(path, rows=8000, seed=3, label_kind="graded")
    return path


@pytest.fixture(scope="session")
def binary_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A binary-label synthetic dataset."""
    path = tmp_path_factory.mktemp("data") / "binary"
    synth_dataset(path, rows=6000, seed=4, label_kind="binary")
    return path


@pytest.fixture
def copy_dataset(tmp_path: Path) -> Callable[[Path], Path]:
    """A private copy of a session dataset that a test may damage."""

    def copy(source: Path) -> Path:
        target = tmp_path / f"copy-{source.name}"
        shutil.copytree(source, target)
        return target

    return copy


def spec_data(dataset: Path, **fields: Any) -> dict[str, Any]:
    """A small, fast spec (20 rounds, 15 leaves) with ``fields`` overriding its keys."""
    data: dict[str, Any] = {
        "dataset": str(dataset),
        "feature_families": list(FAMILIES),
        "objective": "lambdarank",
        "params": {"learning_rate": 0.1, "num_leaves": 15, "min_data_in_leaf": 10},
        "num_boost_round": 20,
        "early_stopping": {"rounds": 5, "valid_fraction": 0.25, "metric": "ndcg@10"},
        "seed": 7,
        "license": dict(LICENSE),
    }
    data.update(fields)
    return {k: v for k, v in data.items() if v is not ...}


@pytest.fixture
def make_spec(tmp_path: Path) -> SpecFactory:
    """Write a spec YAML into the test's directory; a field set to ``...`` is left out."""

    def make(dataset: Path, name: str = "spec.yaml", **fields: Any) -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(spec_data(dataset, **fields)), encoding="utf-8")
        return path

    return make


@pytest.fixture
def run_cli() -> CliRunner:
    """Run ``tessera-lab`` in a real subprocess (passive OpenMP waiting, no TTY)."""

    def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, OMP_WAIT_POLICY="passive")
        return subprocess.run(
            [str(CLI), *map(str, args)],
            capture_output=True,
            text=True,
            cwd=cwd,
            env=env,
            check=False,
            timeout=600,
        )

    return run


@pytest.fixture(scope="session")
def spec_fields() -> Callable[..., dict[str, Any]]:
    """:func:`spec_data` for fixtures that outlive one test (``make_spec`` is per test)."""
    return spec_data
