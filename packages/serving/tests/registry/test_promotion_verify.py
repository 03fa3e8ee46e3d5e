"""Promotion rules and history; ``verify`` finding every kind of violation."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
import sqlalchemy as sa
from cli_runner import Cli

from tessera_serving.errors import ArtifactError, PromotionError
from tessera_serving.registry import Registry, RerankerModel
from tessera_serving.registry.models import resolve_model
from tessera_serving.registry.promotion import promote, promotion_history
from tessera_serving.registry.register import register_runs
from tessera_serving.registry.verify import verify_registry
from tessera_serving.store import shard


def _register(registry: Registry, run_dir: Path | list[Path]) -> None:
    dirs = run_dir if isinstance(run_dir, list) else [run_dir]
    register_runs(registry, dirs, allow_unknown_schema=True)


def _set(registry: Registry, where: sa.ColumnElement[bool], **values: object) -> None:
    with registry.transaction() as session:
        session.execute(sa.update(RerankerModel).where(where).values(**values))


def test_promote_archives_the_previous_production_and_records_history(
    registry: Registry, runs: ModuleType, tmp_path: Path
) -> None:
    _register(registry, runs.write_run_dir(tmp_path / "a", "rr", seed=1))
    _register(registry, runs.write_run_dir(tmp_path / "b", "rr", seed=2))
    first = promote(registry, "rr#1")
    assert first.describe() == "promoted rr#1 to production"
    assert resolve_model(registry, "rr@production").version == 1
    second = promote(registry, "rr", reason="better lift")  # latest = #2
    assert second.describe() == "promoted rr#2 to production (archived #1)"
    assert promote(registry, "rr#2").changed is False
    assert resolve_model(registry, "rr#1").stage == "archived"
    assert resolve_model(registry, "rr@production").version == 2
    history = [
        (p.version, p.from_stage, p.to_stage, p.reason) for p in promotion_history(registry, "rr")
    ]
    assert history == [
        (1, "none", "production", "promote"),
        (1, "production", "archived", "superseded by #2"),
        (2, "none", "production", "better lift"),
    ]
    assert verify_registry(registry).ok


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"verdict": "HOLD"}, "gate verdict is HOLD (ndcg@10 lift 0.07 below min_lift 0.5)"),
        ({"smoke": True}, "is a smoke run (smoke: true)"),
    ],
)
def test_promote_refuses_hold_and_smoke(
    sqlite_registry: Registry,
    runs: ModuleType,
    tmp_path: Path,
    options: dict[str, object],
    reason: str,
) -> None:
    _register(sqlite_registry, runs.write_run_dir(tmp_path, "rr", **options))
    with pytest.raises(PromotionError) as refused:
        promote(sqlite_registry, "rr")
    assert reason in str(refused.value) and "\n" not in str(refused.value)
    assert resolve_model(sqlite_registry, "rr").stage == "none"
    assert promotion_history(sqlite_registry, "rr") == []


def test_one_hold_cell_blocks_the_whole_version(
    sqlite_registry: Registry, runs: ModuleType, tmp_path: Path
) -> None:
    dirs = [
        runs.write_run_dir(tmp_path, "go", cell="bp"),
        runs.write_run_dir(tmp_path, "go", cell="cc", verdict="HOLD", seed=3),
    ]
    _register(sqlite_registry, dirs)
    with pytest.raises(PromotionError, match="go#1 cell 'cc': gate verdict is HOLD"):
        promote(sqlite_registry, "go")
    assert {r.stage for r in resolve_model(sqlite_registry, "go").rows} == {"none"}


def test_promote_requires_v2_and_an_intact_artifact(
    sqlite_registry: Registry, runs: ModuleType, tmp_path: Path
) -> None:
    _register(sqlite_registry, runs.write_run_dir(tmp_path, "rr"))
    _set(sqlite_registry, RerankerModel.name == "rr", schema_sha_v2=None)
    with pytest.raises(PromotionError, match="backfill-schema-sha-v2"):
        promote(sqlite_registry, "rr")
    _set(sqlite_registry, RerankerModel.name == "rr", schema_sha_v2="59d7445eba35")
    sha = resolve_model(sqlite_registry, "rr").rows[0].artifact_sha256
    (Path(sqlite_registry.config.artifacts_url) / shard(sha)).unlink()
    with pytest.raises(ArtifactError, match="missing from the store"):
        promote(sqlite_registry, "rr")
    assert resolve_model(sqlite_registry, "rr").stage == "none"


def test_verify_lists_every_violation(registry: Registry, runs: ModuleType, tmp_path: Path) -> None:
    for name, seed in [("missing", 1), ("corrupt", 2), ("nolicense", 3), ("prod", 4), ("nov2", 5)]:
        _register(registry, runs.write_run_dir(tmp_path, name, seed=seed))
    _register(
        registry,
        [runs.write_run_dir(tmp_path, "go", cell=c, seed=9 + i) for i, c in enumerate("ab")],
    )
    assert verify_registry(registry).ok
    root = Path(registry.config.artifacts_url)
    missing = resolve_model(registry, "missing").rows[0].artifact_sha256
    (root / shard(missing)).unlink()
    corrupt = root / shard(resolve_model(registry, "corrupt").rows[0].artifact_sha256)
    corrupt.chmod(0o644)
    corrupt.write_text("tree\n")
    _set(registry, RerankerModel.name == "nolicense", license_url="")
    _set(registry, RerankerModel.name == "prod", stage="production", smoke=True)
    _set(registry, RerankerModel.name == "nov2", schema_sha_v2=None)
    _set(registry, (RerankerModel.name == "go") & (RerankerModel.cell_key == "b"), stage="archived")
    report = verify_registry(registry)
    text = "\n".join(report.violations)
    assert not report.ok and len(report.violations) == 7, text
    assert f"model missing#1 (row 1): artifact {missing} is missing from the store" in text
    assert "model corrupt#1 (row 2): artifact" in text and "is corrupt" in text
    assert "model nolicense#1 (row 3): license metadata missing" in text
    assert (
        "model nov2#1 (row 5): schema_sha_v2 missing: run `tessera-serve backfill-schema-sha-v2`"
        in text
    )
    assert "model go#1: cells disagree on the stage (archived, none)" in text
    assert "model prod#1: in production without a recorded promotion" in text
    assert "model prod#1: in production but is a smoke run" in text


def test_verify_flags_two_production_versions(
    sqlite_registry: Registry, runs: ModuleType, tmp_path: Path
) -> None:
    _register(sqlite_registry, runs.write_run_dir(tmp_path / "a", "rr", seed=1))
    _register(sqlite_registry, runs.write_run_dir(tmp_path / "b", "rr", seed=2))
    promote(sqlite_registry, "rr#1")
    _set(sqlite_registry, RerankerModel.version == 2, stage="production")
    text = "\n".join(verify_registry(sqlite_registry).violations)
    assert "model rr: 2 versions in production (#1, #2)" in text


def test_promote_and_verify_cli(sqlite_cli: Cli, runs: ModuleType, tmp_path: Path) -> None:
    runs.write_run_dir(tmp_path / "runs", "good")
    runs.write_run_dir(tmp_path / "runs", "held", verdict="HOLD", seed=4)
    registered = sqlite_cli(
        "register", "--allow-unknown-schema", tmp_path / "runs" / "good", tmp_path / "runs" / "held"
    )
    assert registered.returncode == 0, registered.stderr
    held = sqlite_cli("promote", "held")
    assert held.returncode == 1 and held.stderr.count("\n") == 1
    assert "cannot promote: held#1: gate verdict is HOLD" in held.stderr
    good = sqlite_cli("promote", "good#1")
    assert good.returncode == 0 and good.stdout.strip() == "promoted good#1 to production"
    shown = sqlite_cli("models", "show", "good@production")
    assert shown.returncode == 0 and '"to": "production"' in shown.stdout
    assert sqlite_cli("verify").returncode == 0
    artifacts = Path(sqlite_cli.config.artifacts_url)
    for path in (artifacts / "objects").rglob("*"):
        if path.is_file():
            path.unlink()
    broken = sqlite_cli("verify")
    assert broken.returncode == 1
    assert broken.stderr.count("is missing from the store") == 2
    assert "2 violation(s)" in broken.stdout
