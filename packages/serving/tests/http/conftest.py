"""HTTP fixtures: a registry with a production model, and a real server process serving it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import runs_factory
from server_harness import Server, register_and_promote, start_server

from tessera_serving import ServingConfig, upgrade_registry


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


@pytest.fixture(scope="module")
def shared_config(tmp_path_factory: pytest.TempPathFactory) -> ServingConfig:
    """A module's SQLite registry with ``rr`` in production (for tests that only read it)."""
    root = tmp_path_factory.mktemp("shared")
    config = ServingConfig.from_env(
        state_dir=root / "home",
        database_url=f"sqlite:///{root / 'home' / 'registry.db'}",
        artifacts_url=str(root / "artifacts"),
    )
    upgrade_registry(config)
    register_and_promote(config, runs_factory, root / "runs")
    return config


@pytest.fixture(scope="module")
def shared_server(
    shared_config: ServingConfig, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """One server per module over ``shared_config``."""
    started = start_server(shared_config, tmp_path_factory.mktemp("server"))
    yield started
    started.stop()
