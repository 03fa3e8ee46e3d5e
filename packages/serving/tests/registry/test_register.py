"""Registering run directories: provenance, idempotency, run sets, schema rule, bad input.

The conformance part runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from types import ModuleType

import pytest
from cli_runner import Cli
from sqlalchemy import func, select

from tessera_serving.errors import NotFoundError, RegistrationError
from tessera_serving.registry import Registry, RerankerModel
from tessera_serving.registry.live_schemas import add_live_schema
from tessera_serving.registry.models import resolve_model
from tessera_serving.registry.register import import_by_reference, register_runs
from tessera_serving.store import shard

SCHEMA = {"knn": ["knn_score", "knn_votes"], "length": ["query_len", "len_ratio"]}


def _count(registry: Registry) -> int:
    with registry.transaction(readonly=True) as session:
        return int(session.scalar(select(func.count()).select_from(RerankerModel)) or 0)


def _objects(root: Path) -> list[Path]:
    return sorted(p for p in (root / "objects").rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture
def live(registry: Registry) -> Registry:
    add_live_schema(registry, SCHEMA, name="live", source="test")
    return registry


def test_register_stores_full_provenance(live: Registry, runs: ModuleType, tmp_path: Path) -> None:
    run_dir = runs.write_run_dir(tmp_path / "runs", "rr")
    [result] = register_runs(live, [run_dir])
    assert (result.name, result.version, result.created) == ("rr", 1, True)
    with live.transaction(readonly=True) as session:
        row = session.scalars(select(RerankerModel)).one()
    record = json.loads((run_dir / "run.json").read_text())
    model_bytes = (run_dir / "model.txt").read_bytes()
    assert row.cell is None and row.cell_key == ""
    assert row.run_name == "rr" and row.registered_via == "run_dir"
    assert row.producer_version == "0.1.0" and row.producer_git_sha == record["producer"]["git_sha"]
    assert row.spec_yaml == (run_dir / "spec.yaml").read_text()
    assert row.run_json == (run_dir / "run.json").read_text()
    assert row.run_sha256 == hashlib.sha256((run_dir / "run.json").read_bytes()).hexdigest()
    assert row.feature_families == ["knn", "length"]
    assert row.feature_schema == SCHEMA
    assert row.feature_names == record["feature_names"]
    assert row.feature_schema_sha == record["feature_schema_sha"] == "5c2e307868b6"
    assert row.schema_sha_v2 == record["schema_sha"] == "59d7445eba35"
    assert row.objective == "lambdarank" and row.num_trees == 8
    assert row.metrics == record["metrics"] and row.gate == record["gate"]
    assert row.gate_verdict == "PROMOTE" and row.smoke is False
    assert (row.license_id, row.license_url) == (record["license"]["id"], record["license"]["url"])
    assert row.artifact_sha256 == hashlib.sha256(model_bytes).hexdigest()
    assert row.artifact_uri == live.store.uri(row.artifact_sha256)
    assert live.store.read_bytes(row.artifact_sha256) == model_bytes
    assert row.stage == "none" and row.created_at.tzinfo is not None


def test_same_run_twice_gives_one_row(live: Registry, runs: ModuleType, tmp_path: Path) -> None:
    run_dir = runs.write_run_dir(tmp_path / "runs", "rr")
    first = register_runs(live, [run_dir])[0]
    second = register_runs(live, [run_dir])[0]
    assert second.created is False and (second.name, second.version) == ("rr", 1)
    assert second.rows == first.rows
    assert _count(live) == 1


def test_a_new_run_of_the_same_name_is_the_next_version(
    live: Registry, runs: ModuleType, tmp_path: Path
) -> None:
    register_runs(live, [runs.write_run_dir(tmp_path / "a", "rr", seed=1)])
    result = register_runs(live, [runs.write_run_dir(tmp_path / "b", "rr", seed=2)])[0]
    assert result.version == 2 and _count(live) == 2
    assert resolve_model(live, "rr#2").version == 2
    assert resolve_model(live, "rr#1").version == 1


def test_per_category_run_set_is_one_version_with_a_row_per_cell(
    live: Registry, runs: ModuleType, tmp_path: Path
) -> None:
    runs.write_run_set(tmp_path / "runs", "go", cells=("bp", "cc", "mf"))
    [result] = register_runs(live, [tmp_path / "runs" / "go"])  # runs/go -> runs/go--*
    assert (result.name, result.version) == ("go", 1)
    assert [row.cell for row in result.rows] == ["bp", "cc", "mf"]
    assert len({row.artifact_sha256 for row in result.rows}) == 3
    resolved = resolve_model(live, "go#1")
    assert resolved.for_cell("cc") is not None and resolved.for_cell("zz") is None
    again = register_runs(live, sorted((tmp_path / "runs").glob("go--*")))[0]
    assert again.created is False and _count(live) == 3


def test_unknown_live_schema_is_refused_unless_allowed(
    registry: Registry, runs: ModuleType, tmp_path: Path
) -> None:
    run_dir = runs.write_run_dir(tmp_path / "runs", "rr")
    with pytest.raises(RegistrationError) as refused:
        register_runs(registry, [run_dir])
    message = str(refused.value)
    assert (
        "run.json: field 'schema_sha' '59d7445eba35' matches no known live feature schema"
        in message
    )
    assert "--allow-unknown-schema" in message and "\n" not in message
    assert _count(registry) == 0
    assert register_runs(registry, [run_dir], allow_unknown_schema=True)[0].version == 1


@pytest.mark.parametrize(
    ("tamper", "names"),
    [
        ("model_txt", ["model.txt", "model.sha256"]),
        ("feature_names", ["model.txt", "feature_names"]),
        ("fingerprint", ["run.json", "schema_sha"]),
        ("unknown_field", ["run.json", "owner", "unknown field"]),
        ("no_license", ["run.json", "license", "required"]),
        ("missing_model", ["model.txt", "missing file"]),
        ("missing_spec", ["spec.yaml", "missing file"]),
        ("symlink_escape", ["model.txt", "escapes the run directory"]),
    ],
)
def test_bad_run_directories_are_refused_with_nothing_written(
    live: Registry, runs: ModuleType, tmp_path: Path, tamper: str, names: list[str]
) -> None:
    run_dir = runs.write_run_dir(tmp_path / "runs", "bad", tamper=tamper)
    with pytest.raises(RegistrationError) as refused:
        register_runs(live, [run_dir])
    message = str(refused.value)
    assert "\n" not in message
    for name in names:
        assert name in message, message
    assert _count(live) == 0
    assert _objects(Path(live.config.artifacts_url)) == []


def test_a_bad_run_in_a_set_registers_nothing(
    live: Registry, runs: ModuleType, tmp_path: Path
) -> None:
    good = runs.write_run_dir(tmp_path / "runs", "ok")
    bad = runs.write_run_dir(tmp_path / "runs", "bad", tamper="model_txt")
    with pytest.raises(RegistrationError, match=r"model\.sha256"):
        register_runs(live, [good, bad])
    assert _count(live) == 0


def test_not_a_run_directory(live: Registry, tmp_path: Path) -> None:
    with pytest.raises(RegistrationError, match="not a run directory"):
        register_runs(live, [tmp_path / "nowhere"])


def test_import_by_reference(live: Registry, runs: ModuleType, tmp_path: Path) -> None:
    run_dir = runs.write_run_dir(tmp_path / "runs", "ref")
    sha = live.store.put_file(run_dir / "model.txt")
    result = import_by_reference(
        live, uri=live.store.uri(sha), sha256=sha, run_json=run_dir / "run.json"
    )
    assert result.created and result.rows[0].artifact_sha256 == sha
    with live.transaction(readonly=True) as session:
        row = session.scalars(select(RerankerModel)).one()
    assert row.registered_via == "reference" and row.spec_yaml is None
    again = import_by_reference(
        live, uri=live.store.uri(sha), sha256=sha, run_json=run_dir / "run.json"
    )
    assert again.created is False


def test_import_by_reference_refuses_escapes_and_mismatches(
    live: Registry, runs: ModuleType, tmp_path: Path
) -> None:
    run_dir = runs.write_run_dir(tmp_path / "runs", "ref")
    sha = live.store.put_file(run_dir / "model.txt")
    other = live.store.put_bytes(b"not this booster")
    escaping = live.store.uri(sha).replace(f"objects/{sha[:2]}/", f"objects/{sha[:2]}/../../../")
    with pytest.raises(RegistrationError, match="escapes the store"):
        import_by_reference(live, uri=escaping, sha256=sha, run_json=run_dir / "run.json")
    with pytest.raises(RegistrationError, match=f"names object {other}, not {sha}"):
        import_by_reference(
            live, uri=live.store.uri(other), sha256=sha, run_json=run_dir / "run.json"
        )
    with pytest.raises(RegistrationError, match=r"model\.sha256"):
        import_by_reference(
            live, uri=live.store.uri(other), sha256=other, run_json=run_dir / "run.json"
        )
    missing = hashlib.sha256(b"absent").hexdigest()
    with pytest.raises(RegistrationError, match="missing from the store"):
        import_by_reference(
            live, uri=live.store.uri(missing), sha256=missing, run_json=run_dir / "run.json"
        )
    assert _count(live) == 0


def test_resolve_model_refs(live: Registry, runs: ModuleType, tmp_path: Path) -> None:
    register_runs(live, [runs.write_run_dir(tmp_path / "runs", "rr")])
    resolved = resolve_model(live, "rr#1")
    [row] = resolved.rows
    assert resolved.pooled and row.schema_sha_v2 == "59d7445eba35" and row.stage == "none"
    assert row.feature_names == ("knn_score", "knn_votes", "query_len", "len_ratio")
    with pytest.raises(NotFoundError, match="not registered"):
        resolve_model(live, "nope")
    with pytest.raises(NotFoundError, match="no version 7 \\(latest is 1\\)"):
        resolve_model(live, "rr#7")
    with pytest.raises(NotFoundError, match="no version in stage 'production'"):
        resolve_model(live, "rr@production")
    with pytest.raises(NotFoundError, match="unknown stage"):
        resolve_model(live, "rr@prod")
    with pytest.raises(NotFoundError, match="is not NAME"):
        resolve_model(live, "../x")


def test_register_and_schemas_cli(cli: Cli, runs: ModuleType, tmp_path: Path) -> None:
    runs.write_run_set(tmp_path / "runs", "go", cells=("bp", "cc"))
    manifest = runs.write_manifest(tmp_path / "manifest.json", SCHEMA, name="live-2024")
    refused = cli("register", tmp_path / "runs" / "go")
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1
    assert "matches no known live feature schema" in refused.stderr
    added = cli("schemas", "add", "--manifest", manifest)
    assert added.returncode == 0, added.stderr
    assert "added live schema live-2024 (schema_sha_v2 59d7445eba35)" in added.stdout
    registered = cli("register", tmp_path / "runs" / "go")
    assert registered.returncode == 0, registered.stderr
    assert registered.stdout.strip() == "registered go#1 (2 cells: bp, cc)"
    listed = cli("models", "list", "--json")
    assert json.loads(listed.stdout)["cells"] == ["bp", "cc"]


def test_schemas_add_yaml_and_list(sqlite_cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "live.yaml").write_text(
        "knn: [knn_score, knn_votes]\nlength: [query_len, len_ratio]\n"
    )
    added = sqlite_cli("schemas", "add", "--yaml", tmp_path / "live.yaml", "--name", "prod")
    assert added.returncode == 0 and "59d7445eba35" in added.stdout
    listed = sqlite_cli("schemas", "list", "--json")
    assert json.loads(listed.stdout)["feature_schema"] == SCHEMA
    (tmp_path / "bad.yaml").write_text("knn: [a, a]\n")
    bad = sqlite_cli("schemas", "add", "--yaml", tmp_path / "bad.yaml")
    assert bad.returncode == 1 and "bad.yaml" in bad.stderr and bad.stderr.count("\n") == 1


def test_store_layout_after_register(live: Registry, runs: ModuleType, tmp_path: Path) -> None:
    [result] = register_runs(live, [runs.write_run_dir(tmp_path / "runs", "rr")])
    root = Path(live.config.artifacts_url)
    assert _objects(root) == [root / shard(result.rows[0].artifact_sha256)]


def test_an_unknown_schema_anywhere_in_the_call_stores_nothing(
    live: Registry, runs: ModuleType, tmp_path: Path
) -> None:
    good = runs.write_run_dir(tmp_path / "runs", "good")
    other = runs.write_run_dir(tmp_path / "runs", "other", feature_schema={"knn": ["knn_score"]})
    with pytest.raises(RegistrationError, match=r"other/run\.json: field 'schema_sha'"):
        register_runs(live, [good, other])
    assert _count(live) == 0
    assert _objects(Path(live.config.artifacts_url)) == []


def test_import_by_reference_cli(sqlite_cli: Cli, runs: ModuleType, tmp_path: Path) -> None:
    from tessera_serving.store import open_store

    run_dir = runs.write_run_dir(tmp_path / "runs", "ref")
    store = open_store(sqlite_cli.config.artifacts_url)
    sha = store.put_file(run_dir / "model.txt")
    args = ["import-by-reference", "--uri", store.uri(sha), "--sha256", sha]
    args += ["--run-json", str(run_dir / "run.json"), "--spec", str(run_dir / "spec.yaml")]
    imported = sqlite_cli(*args, "--allow-unknown-schema", "--name", "imported")
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == "registered imported#1 (pooled)"
    outside = sqlite_cli(*[a if a != store.uri(sha) else "file:///etc/passwd" for a in args])
    assert outside.returncode == 1 and outside.stderr.count("\n") == 1
    assert "artifact URI 'file:///etc/passwd' does not name an object of" in outside.stderr


def test_registry_over_an_fsspec_artifact_store(
    sqlite_url: str, runs: ModuleType, tmp_path: Path
) -> None:
    import uuid

    from tessera_serving.config import ServingConfig
    from tessera_serving.registry import create_registry_engine, open_registry, upgrade
    from tessera_serving.registry.verify import verify_registry
    from tessera_serving.store import FsspecArtifactStore

    config = ServingConfig.from_env(
        state_dir=tmp_path, database_url=sqlite_url, artifacts_url=f"memory://t-{uuid.uuid4().hex}"
    )
    engine = create_registry_engine(sqlite_url, create_dir=True)
    upgrade(engine)
    engine.dispose()
    with open_registry(config) as registry:
        assert isinstance(registry.store, FsspecArtifactStore)
        [result] = register_runs(
            registry, [runs.write_run_dir(tmp_path / "runs", "rr")], allow_unknown_schema=True
        )
        row = result.rows[0]
        assert row.artifact_uri.startswith("memory://") and row.artifact_uri.endswith(
            row.artifact_sha256
        )
        assert verify_registry(registry).ok
        registry.store.fs.rm_file(f"{registry.store.root}/{shard(row.artifact_sha256)}")
        assert "is missing from the store" in verify_registry(registry).violations[0]
