"""The schema_sha_v2 migration path: a revision-0001 registry upgraded and backfilled.

The committed SQLite file (``assets/registry_0001.db``) goes through the CLI; the same rows
built on each backend go through the Python API.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

import pytest
import sqlalchemy as sa
from cli_runner import Cli

from tessera_contracts import compute_schema_sha
from tessera_serving.config import ServingConfig
from tessera_serving.errors import RegistryError
from tessera_serving.registry import (
    LiveSchema,
    Registry,
    RerankerModel,
    create_registry_engine,
    open_registry,
    upgrade,
)
from tessera_serving.registry.backfill import backfill_schema_sha_v2
from tessera_serving.registry.verify import verify_registry
from tessera_serving.store import open_store

ASSETS = Path(__file__).resolve().parents[1] / "assets"


def _maker() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_registry_0001", ASSETS / "make_registry_0001.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _snapshot(registry: Registry) -> dict[tuple[str, int], tuple[str, str | None]]:
    with registry.transaction(readonly=True) as session:
        models = session.execute(
            sa.select(
                RerankerModel.id, RerankerModel.feature_schema_sha, RerankerModel.schema_sha_v2
            )
        ).all()
        schemas = session.execute(
            sa.select(LiveSchema.id, LiveSchema.feature_schema_sha, LiveSchema.schema_sha_v2)
        ).all()
    return {("m", i): (v1, v2) for i, v1, v2 in models} | {
        ("s", i): (v1, v2) for i, v1, v2 in schemas
    }


@pytest.fixture
def old_registry(tmp_path: Path) -> ServingConfig:
    """A copy of the committed revision-0001 SQLite registry and its artifact store."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copyfile(ASSETS / "registry_0001.db", home / "registry.db")
    shutil.copytree(ASSETS / "registry_0001_artifacts", tmp_path / "artifacts")
    return ServingConfig.from_env(
        state_dir=home,
        database_url=f"sqlite:///{home / 'registry.db'}",
        artifacts_url=str(tmp_path / "artifacts"),
    )


def test_committed_first_revision_database_upgrades_and_backfills(
    old_registry: ServingConfig, tmp_path: Path
) -> None:
    cli = Cli(old_registry, tmp_path)
    blocked = cli("verify")
    assert blocked.returncode == 1
    assert "registry database at revision 0001_initial, code expects" in blocked.stderr

    upgraded = cli("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert "upgraded from 0001_initial to" in upgraded.stdout
    with open_registry(old_registry) as registry:
        before = _snapshot(registry)
        report = verify_registry(registry)
    assert len(before) == 8 and all(v2 is None for _, v2 in before.values())
    missing = [v for v in report.violations if "schema_sha_v2 missing" in v]
    assert len(missing) == 8 and len(report.violations) == 8  # nothing else is wrong

    dry = cli("backfill-schema-sha-v2", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.strip().splitlines()
    assert len([line for line in lines if line.startswith("would set schema_sha_v2=")]) == 8
    assert "model go-reranker#1 cell 'bp' (reranker_models id 1)" in dry.stdout
    assert "live schema 'knn-live'" in dry.stdout
    assert lines[-1] == "backfill-schema-sha-v2: would change 8 row(s)"
    with open_registry(old_registry) as registry:
        assert _snapshot(registry) == before  # the dry run changed nothing

    applied = cli("backfill-schema-sha-v2")
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.strip().splitlines()[-1] == "backfill-schema-sha-v2: changed 8 row(s)"
    with open_registry(old_registry) as registry:
        after = _snapshot(registry)
        with registry.transaction(readonly=True) as session:
            for row in session.scalars(sa.select(RerankerModel)):
                assert row.schema_sha_v2 == compute_schema_sha(row.feature_schema)
        assert backfill_schema_sha_v2(registry) == []  # a second apply changes nothing
    assert {k: v1 for k, (v1, _) in after.items()} == {k: v1 for k, (v1, _) in before.items()}
    assert {v2 for _, v2 in after.values()} == {
        compute_schema_sha(_maker().GO_SCHEMA),
        compute_schema_sha(_maker().KNN_SCHEMA),
    }

    verified = cli("verify")
    assert verified.returncode == 0, verified.stderr
    assert "6 model row(s) in 4 version(s), 6 artifact(s), 2 live schema(s): ok" in verified.stdout


def test_upgrade_and_backfill_on_each_backend(database_url: str, tmp_path: Path) -> None:
    config = ServingConfig.from_env(
        state_dir=tmp_path / "home", database_url=database_url, artifacts_url=str(tmp_path / "art")
    )
    engine = create_registry_engine(database_url, create_dir=True)
    try:
        upgrade(engine, "0001_initial")
        (tmp_path / "work").mkdir()
        rows = _maker().populate_0001(engine, open_store(config.artifacts_url), tmp_path / "work")
        with engine.begin() as connection:  # a legacy v1 value the backfill must not "fix"
            connection.execute(
                sa.text(
                    "UPDATE reranker_models SET feature_schema_sha = 'ffffffffffff' WHERE id = 4"
                )
            )
        upgrade(engine)
    finally:
        engine.dispose()
    with open_registry(config) as registry:
        before = _snapshot(registry)
        planned = backfill_schema_sha_v2(registry, dry_run=True)
        assert len(planned) == rows + 2
        assert _snapshot(registry) == before
        applied = backfill_schema_sha_v2(registry)
        assert [c.schema_sha_v2 for c in applied] == [c.schema_sha_v2 for c in planned]
        assert backfill_schema_sha_v2(registry) == []
        after = _snapshot(registry)
        assert after[("m", 4)] == ("ffffffffffff", compute_schema_sha(_maker().KNN_SCHEMA))
        assert all(after[k][0] == before[k][0] for k in before)
        report = verify_registry(registry)
    assert report.violations == [
        "model knn-pooled#1 (row 4): feature_schema_sha ffffffffffff does not match its "
        "feature_schema (5c2e307868b6)"
    ]


def test_an_invalid_stored_schema_aborts_with_nothing_changed(
    sqlite_registry: Registry, runs: ModuleType, tmp_path: Path
) -> None:
    from tessera_serving.registry.register import register_runs

    register_runs(
        sqlite_registry, [runs.write_run_dir(tmp_path / "runs", "a")], allow_unknown_schema=True
    )
    register_runs(
        sqlite_registry, [runs.write_run_dir(tmp_path / "runs", "b")], allow_unknown_schema=True
    )
    with sqlite_registry.transaction() as session:
        session.execute(sa.update(RerankerModel).values(schema_sha_v2=None))
        session.execute(
            sa.update(RerankerModel)
            .where(RerankerModel.name == "b")
            .values(feature_schema={"knn": ["x", "x"]})
        )
    with pytest.raises(RegistryError, match="model b#1: stored feature_schema is invalid"):
        backfill_schema_sha_v2(sqlite_registry)
    assert all(v2 is None for _, v2 in _snapshot(sqlite_registry).values())
