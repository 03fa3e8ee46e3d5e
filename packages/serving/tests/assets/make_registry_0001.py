"""Make ``registry_0001.db`` (+ its artifact store): a registry as revision 0001 left it.

Run ``uv run python packages/serving/tests/assets/make_registry_0001.py`` to rebuild the
committed files. The rows are realistic: a per-category model in production (with its
promotion record), a pooled model with an archived and a production version, a HOLD run
and two live schemas — all with ``feature_schema_sha`` only (revision 0001 has no
``schema_sha_v2``). ``populate_0001`` is also used by the tests to build the same rows on
PostgreSQL.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import runs_factory  # noqa: E402

from tessera_contracts import compute_feature_schema_sha  # noqa: E402
from tessera_serving.registry import create_registry_engine, upgrade  # noqa: E402
from tessera_serving.registry.rundir import LoadedRun, load_run_dir  # noqa: E402
from tessera_serving.store import ArtifactStore, LocalArtifactStore  # noqa: E402

DB_NAME = "registry_0001.db"
STORE_NAME = "registry_0001_artifacts"
FIRST_REVISION = "0001_initial"
URI_ROOT = "file:///srv/tessera/artifacts"
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
GO_SCHEMA = {
    "alignment_nw": ["nw_identity", "nw_score"],
    "annotation_meta": ["evidence_count"],
    "knn": ["knn_score", "knn_votes"],
    "length": ["query_len", "len_ratio"],
}
KNN_SCHEMA = {"knn": ["knn_score", "knn_votes"], "length": ["query_len", "len_ratio"]}

# (model name, version, stage, runs: [(run name, cell, schema, verdict, seed)])
MODELS: list[tuple[str, int, str, list[tuple[str, str | None, dict[str, list[str]], str, int]]]] = [
    (
        "go-reranker",
        1,
        "production",
        [("go-reranker", c, GO_SCHEMA, "PROMOTE", i) for i, c in enumerate(["bp", "cc", "mf"])],
    ),
    ("knn-pooled", 1, "archived", [("knn-pooled-a", None, KNN_SCHEMA, "PROMOTE", 10)]),
    ("knn-pooled", 2, "production", [("knn-pooled-b", None, KNN_SCHEMA, "PROMOTE", 11)]),
    ("knn-pooled", 3, "none", [("knn-pooled-c", None, KNN_SCHEMA, "HOLD", 12)]),
]
PROMOTIONS = [
    ("knn-pooled", 1, "none", "production", "first production model"),
    ("go-reranker", 1, "none", "production", "per-aspect boosters"),
    ("knn-pooled", 2, "none", "production", "retrained on 2024-07"),
    ("knn-pooled", 1, "production", "archived", "superseded by #2"),
]


def fixture_runs(workdir: Path) -> list[tuple[str, int, str, LoadedRun]]:
    """Train and load the runs behind ``MODELS`` (tiny boosters, deterministic)."""
    loaded = []
    for name, version, stage, runs in MODELS:
        for run_name, cell, schema, verdict, seed in runs:
            run_dir = runs_factory.write_run_dir(
                workdir,
                run_name,
                feature_schema=schema,
                cell=cell,
                verdict=verdict,
                seed=seed,
                num_trees=3,
                rows=100,
                with_report=False,
            )
            loaded.append((name, version, stage, load_run_dir(run_dir)))
    return loaded


def _row_0001(name: str, version: int, stage: str, run: LoadedRun, at: datetime) -> dict[str, Any]:
    record = run.record
    return {
        "name": name,
        "version": version,
        "cell_key": record.cell or "",
        "run_name": record.name,
        "run_sha256": run.run_sha256,
        "run_created_at": record.created_at,
        "registered_via": "run_dir",
        "producer_name": record.producer.name,
        "producer_version": record.producer.version,
        "producer_git_sha": record.producer.git_sha,
        "spec_yaml": run.spec_yaml,
        "run_json": run.run_json,
        "dataset_name": record.dataset.name,
        "dataset_manifest_sha256": record.dataset.manifest_sha256,
        "feature_families": list(record.feature_families),
        "feature_schema": {k: list(v) for k, v in record.feature_schema.items()},
        "feature_names": list(record.feature_names),
        "feature_schema_sha": record.feature_schema_sha,
        "objective": record.objective,
        "num_trees": run.num_trees,
        "metrics": record.metrics.to_plain(),
        "gate": record.gate.to_plain(),
        "gate_verdict": record.gate.verdict,
        "smoke": record.smoke,
        "license_id": record.license.id,
        "license_url": record.license.url,
        "artifact_uri": f"{URI_ROOT}/objects/{run.model_sha256[:2]}/{run.model_sha256}",
        "artifact_sha256": run.model_sha256,
        "stage": stage,
        "created_at": at,
    }


def populate_0001(engine: sa.Engine, store: ArtifactStore, workdir: Path) -> int:
    """Insert the fixture rows into a database at revision 0001; return the model row count."""
    runs = fixture_runs(workdir)
    with engine.begin() as connection:
        meta = sa.MetaData()
        models = sa.Table("reranker_models", meta, autoload_with=connection)
        schemas = sa.Table("live_schemas", meta, autoload_with=connection)
        promotions = sa.Table("promotions", meta, autoload_with=connection)
        assert "schema_sha_v2" not in models.c, "populate_0001 needs a revision-0001 database"
        for index, (name, version, stage, run) in enumerate(runs):
            store.put_bytes(run.model_bytes)
            at = T0 + timedelta(days=7 * index)
            connection.execute(models.insert().values(**_row_0001(name, version, stage, run, at)))
        for index, (schema_name, schema) in enumerate(
            [("go-live", GO_SCHEMA), ("knn-live", KNN_SCHEMA)]
        ):
            connection.execute(
                schemas.insert().values(
                    name=schema_name,
                    feature_schema=schema,
                    feature_schema_sha=compute_feature_schema_sha(schema),
                    source="manifest datasets/2024-07/manifest.json",
                    created_at=T0 - timedelta(days=1 + index),
                )
            )
        for index, (name, version, before, after, reason) in enumerate(PROMOTIONS):
            connection.execute(
                promotions.insert().values(
                    model_name=name,
                    version=version,
                    from_stage=before,
                    to_stage=after,
                    reason=reason,
                    created_at=T0 + timedelta(days=30 + index),
                )
            )
    return len(runs)


def make(out_dir: Path = HERE) -> None:
    """Rebuild the committed SQLite file and its artifact store under ``out_dir``."""
    db_path, store_path = out_dir / DB_NAME, out_dir / STORE_NAME
    db_path.unlink(missing_ok=True)
    shutil.rmtree(store_path, ignore_errors=True)
    engine = create_registry_engine(f"sqlite:///{db_path}", create_dir=True)
    try:
        upgrade(engine, FIRST_REVISION)
        with tempfile.TemporaryDirectory() as workdir:
            rows = populate_0001(engine, LocalArtifactStore(store_path), Path(workdir))
    finally:
        engine.dispose()
    print(f"wrote {db_path} ({rows} model rows) and {store_path}")


if __name__ == "__main__":
    make()
