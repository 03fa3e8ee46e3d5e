"""Registration fails safe: all or nothing, run.json cross-checked, one name rule, repairable.

Every case runs the real ``tessera-serve`` on real run directories (tiny LightGBM boosters)
against a real registry, SQLite and PostgreSQL where the database matters.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa
from cli_runner import Cli

from tessera_contracts import NAME_MAX_LENGTH
from tessera_serving.config import ServingConfig
from tessera_serving.registry import LiveSchema, RerankerModel, open_registry
from tessera_serving.registry.live_schemas import add_live_schema
from tessera_serving.registry.receipt_store import receipts_for_run
from tessera_serving.store import shard

SCHEMA = {"knn": ["knn_score", "knn_votes"], "length": ["query_len", "len_ratio"]}


def _names(config: ServingConfig) -> list[tuple[str, int, str]]:
    with open_registry(config) as registry, registry.transaction(readonly=True) as session:
        query = sa.select(RerankerModel.name, RerankerModel.version, RerankerModel.cell_key)
        return [tuple(r) for r in session.execute(query.order_by(RerankerModel.id))]  # type: ignore[misc]


def _add_live(config: ServingConfig) -> None:
    with open_registry(config) as registry:
        add_live_schema(registry, SCHEMA, name="live", source="test")


def _objects(config: ServingConfig) -> list[Path]:
    root = Path(config.artifacts_url) / "objects"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _one_line_error(result: Any) -> str:
    """The process failed with exactly one ``tessera-serve: error:`` line and no traceback."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tessera-serve: error: "), result.stderr
    return str(lines[0])


def _edit_json(path: Path, **changes: Any) -> None:
    """Set dotted keys (``gate.min_lift``) in a JSON file."""
    data = json.loads(path.read_text(encoding="utf-8"))
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = data
        for key in parents:
            node = node[key]
        node[last] = value
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


# -- one call, one transaction ------------------------------------------------------------


def test_register_a_b_with_b_invalid_registers_nothing(
    cli: Cli, config: ServingConfig, runs: ModuleType, tmp_path: Path
) -> None:
    _add_live(config)
    cells = runs.write_run_set(tmp_path / "runs", "rr", cells=("bp", "cc"))
    assert cli("register", tmp_path / "runs" / "rr").returncode == 0
    before = _names(config)
    new_run = runs.write_run_dir(tmp_path / "runs", "aa", seed=5)

    result = cli("register", new_run, cells[0], TESSERA_RUN_ID="ab")  # B is part of rr#1

    line = _one_line_error(result)
    assert "already part of rr#1" in line
    assert _names(config) == before  # A ("aa") was not registered
    with open_registry(config) as registry:
        [receipt] = receipts_for_run(registry, "ab")
    assert not receipt.validation.passed
    assert (receipt.stats.records_in, receipt.stats.accepted, receipt.stats.rejected) == (2, 0, 2)


# -- run.json is cross-checked against spec.yaml and model.txt ----------------------------


def test_a_hold_run_edited_to_promote_is_refused(
    cli: Cli, config: ServingConfig, runs: ModuleType, tmp_path: Path
) -> None:
    _add_live(config)
    run_dir = runs.write_run_dir(tmp_path / "runs", "held", verdict="HOLD")
    _edit_json(run_dir / "run.json", **{"gate.verdict": "PROMOTE", "gate.min_lift": -1})

    line = _one_line_error(cli("register", run_dir))

    assert "run.json: field 'gate.min_lift' is -1" in line and "spec.yaml states 0.5" in line
    assert _names(config) == [] and _objects(config) == []


def test_a_verdict_the_spec_gate_does_not_give_is_refused(
    sqlite_cli: Cli, sqlite_config: ServingConfig, runs: ModuleType, tmp_path: Path
) -> None:
    """run.json and spec.yaml both edited to a low bar, but the metrics no longer agree."""
    _add_live(sqlite_config)
    run_dir = runs.write_run_dir(tmp_path / "runs", "held", verdict="HOLD")
    _edit_json(run_dir / "run.json", **{"gate.model_value": 0.99, "gate.lift": 0.99 - 0.64})
    spec = run_dir / "spec.yaml"
    spec.write_text(spec.read_text().replace("min_lift: 0.5", "min_lift: 0.3"))
    _edit_json(run_dir / "run.json", **{"gate.verdict": "PROMOTE", "gate.min_lift": 0.3})

    line = _one_line_error(sqlite_cli("register", run_dir))

    assert "field 'gate.model_value' is 0.99 but metrics (ndcg@10) states 0.71" in line


def test_import_by_reference_cross_checks_too(
    sqlite_cli: Cli, sqlite_config: ServingConfig, runs: ModuleType, tmp_path: Path
) -> None:
    _add_live(sqlite_config)
    run_dir = runs.write_run_dir(tmp_path / "runs", "held", verdict="HOLD")
    _edit_json(run_dir / "run.json", **{"gate.verdict": "PROMOTE", "gate.min_lift": -1})
    with open_registry(sqlite_config) as registry:
        sha = registry.store.put_file(run_dir / "model.txt")
        uri = registry.store.uri(sha)
    args = [
        "import-by-reference",
        "--uri",
        uri,
        "--sha256",
        sha,
        "--run-json",
        run_dir / "run.json",
    ]

    line = _one_line_error(sqlite_cli(*args, "--spec", run_dir / "spec.yaml"))

    assert "field 'gate.min_lift' is -1.0 but spec.yaml states 0.5" in line
    assert _names(sqlite_config) == []


@pytest.mark.parametrize(
    ("options", "edits", "expected"),
    [
        ({"smoke": True}, {"smoke": False}, "field 'smoke' is false but model.txt was trained"),
        ({}, {"seed": 7}, "field 'seed' is 7 but spec.yaml states 0"),
        ({}, {"model.num_trees": 9}, "field 'model.num_trees' is 9 but model.txt states 8"),
        ({}, {"objective": "binary"}, "field 'objective' is 'binary' but spec.yaml states"),
    ],
    ids=["smoke-flipped", "seed", "num-trees", "objective"],
)
def test_run_json_must_agree_with_spec_and_booster(
    sqlite_cli: Cli,
    sqlite_config: ServingConfig,
    runs: ModuleType,
    tmp_path: Path,
    options: dict[str, Any],
    edits: dict[str, Any],
    expected: str,
) -> None:
    _add_live(sqlite_config)
    run_dir = runs.write_run_dir(tmp_path / "runs", "rr", **options)
    assert sqlite_cli("register", "--name", "control", run_dir).returncode == 0  # unedited: ok
    _edit_json(run_dir / "run.json", **edits)

    line = _one_line_error(sqlite_cli("register", run_dir))

    assert expected in line, line
    assert [name for name, _, _ in _names(sqlite_config)] == ["control"]


def test_the_booster_seed_must_agree_even_when_the_spec_was_edited_too(
    sqlite_cli: Cli, sqlite_config: ServingConfig, runs: ModuleType, tmp_path: Path
) -> None:
    _add_live(sqlite_config)
    run_dir = runs.write_run_dir(tmp_path / "runs", "rr")
    _edit_json(run_dir / "run.json", seed=7)
    spec = run_dir / "spec.yaml"
    spec.write_text(spec.read_text().replace("seed: 0", "seed: 7"))

    line = _one_line_error(sqlite_cli("register", run_dir))

    assert "field 'seed' is 7 but model.txt states 0" in line


# -- one name rule, checked before anything is written ------------------------------------

BAD_NAMES = ["with space", "a#1", "a@production", "", "x" * 1000, "new\nline"]


@pytest.mark.parametrize("bad", BAD_NAMES, ids=["space", "hash", "at", "empty", "long", "nl"])
def test_register_refuses_a_bad_name_before_writing(
    sqlite_cli: Cli, sqlite_config: ServingConfig, runs: ModuleType, tmp_path: Path, bad: str
) -> None:
    _add_live(sqlite_config)
    run_dir = runs.write_run_dir(tmp_path / "runs", "rr")

    line = _one_line_error(sqlite_cli("register", "--name", bad, run_dir))

    assert "model name" in line and "at most 128 characters" in line
    assert _names(sqlite_config) == [] and _objects(sqlite_config) == []


def test_a_1000_character_name_never_reaches_the_database(
    cli: Cli, config: ServingConfig, runs: ModuleType, tmp_path: Path
) -> None:
    _add_live(config)
    run_dir = runs.write_run_dir(tmp_path / "runs", "rr")
    for args in (
        ("register", "--name", "x" * 1000, run_dir),
        ("schemas", "add", "--name", "y" * 1000, "--manifest", runs.write_manifest(tmp_path / "m")),
    ):
        line = _one_line_error(cli(*args))
        assert "1000 characters long" in line and "varchar" not in line.lower()
    assert _names(config) == []
    longest = "n" * 128  # the limit holds on every backend
    assert cli("register", "--name", longest, run_dir).returncode == 0
    assert _names(config) == [(longest, 1, "")]


def test_name_columns_hold_exactly_the_contracts_longest_name() -> None:
    for column in (RerankerModel.name, RerankerModel.run_name, LiveSchema.name):
        assert column.type.length == NAME_MAX_LENGTH, column  # type: ignore[attr-defined]


# -- a deleted or corrupted artifact can be repaired --------------------------------------


@pytest.mark.parametrize("damage", ["delete", "corrupt"])
def test_register_again_repairs_a_damaged_artifact(
    cli: Cli, config: ServingConfig, runs: ModuleType, tmp_path: Path, damage: str
) -> None:
    _add_live(config)
    run_dir = runs.write_run_dir(tmp_path / "runs", "rr")
    assert cli("register", run_dir).returncode == 0
    sha = hashlib.sha256((run_dir / "model.txt").read_bytes()).hexdigest()
    stored = Path(config.artifacts_url) / shard(sha)
    if damage == "delete":
        stored.unlink()
    else:
        stored.chmod(0o644)
        stored.write_bytes(b"not a booster")

    broken = cli("verify")
    assert broken.returncode == 1 and sha in broken.stderr
    assert "register the run again" in broken.stderr

    repaired = cli("register", run_dir)
    assert repaired.returncode == 0, repaired.stderr
    assert repaired.stdout.strip() == (
        f"already registered as rr#1 (pooled); restored missing or corrupt artifact {sha}"
    )
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == sha
    assert cli("verify").returncode == 0
    assert _names(config) == [("rr", 1, "")]  # no new row


def test_register_refuses_to_repair_from_a_tampered_run(
    sqlite_cli: Cli, sqlite_config: ServingConfig, runs: ModuleType, tmp_path: Path
) -> None:
    """Only bytes that hash to run.json's model.sha256 may restore an object."""
    _add_live(sqlite_config)
    run_dir = runs.write_run_dir(tmp_path / "runs", "rr")
    assert sqlite_cli("register", run_dir).returncode == 0
    [stored] = _objects(sqlite_config)
    stored.unlink()
    text = (run_dir / "model.txt").read_text()
    (run_dir / "model.txt").write_text(text.replace("shrinkage=0.2", "shrinkage=0.3", 1))

    line = _one_line_error(sqlite_cli("register", run_dir))

    assert "does not match run.json field 'model.sha256'" in line
    assert _objects(sqlite_config) == []
