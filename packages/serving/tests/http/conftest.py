"""HTTP fixtures: a registry with a production model, and a real server process serving it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from server_harness import Server, register_and_promote, start_server

from tessera_serving.config import ServingConfig


@pytest.fixture
def served(sqlite_config: ServingConfig, runs: ModuleType, tmp_path: Path) -> ServingConfig:
    """A SQLite registry with ``rr`` registered and in production."""
    register_and_promote(sqlite_config, runs, tmp_path / "runs")
    return sqlite_config


@pytest.fixture
def server(served: ServingConfig, tmp_path: Path) -> Iterator[Server]:
    started = start_server(served, tmp_path)
    yield started
    started.stop()
