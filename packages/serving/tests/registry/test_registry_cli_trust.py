"""Registry commands answer in one line (never a traceback) and print JSON when asked.

Real ``tessera-serve`` subprocesses against real SQLite files and the real PostgreSQL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa
from cli_runner import PG_PORT, Cli

from tessera_serving.config import ServingConfig
from tessera_serving.registry import create_registry_engine, open_registry
from tessera_serving.registry.live_schemas import add_live_schema

SCHEMA = {"knn": ["knn_score", "knn_votes"], "length": ["query_len", "len_ratio"]}
REPO = Path(__file__).resolve().parents[4]


def _one_line_error(result: Any) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tessera-serve: error: "), result.stderr
    return str(lines[0])


def _registered(cli: Cli, runs: ModuleType, tmp_path: Path, **options: Any) -> Path:
    with open_registry(cli.config) as registry:
        add_live_schema(registry, SCHEMA, name="live", source="test")
    run_dir = runs.write_run_dir(tmp_path / "runs", "rr", **options)
    assert cli("register", run_dir).returncode == 0
    return Path(run_dir)


def _execute(config: ServingConfig, statement: str) -> None:
    engine = create_registry_engine(config.database_url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(statement))
    finally:
        engine.dispose()


# -- stored JSON that does not parse is a finding, not a JSONDecodeError -------------------


def test_verify_and_backfill_over_unparseable_stored_json(
    sqlite_cli: Cli, runs: ModuleType, tmp_path: Path
) -> None:
    """SQLite stores JSON as text, so a damaged row can exist (PostgreSQL's json type refuses)."""
    _registered(sqlite_cli, runs, tmp_path)
    _execute(
        sqlite_cli.config,
        "UPDATE reranker_models SET feature_schema = '{\"knn\": [' , schema_sha_v2 = NULL",
    )

    verify = sqlite_cli("verify")
    assert verify.returncode == 1 and "Traceback" not in verify.stderr
    assert "model rr#1 (row 1): stored feature_schema is not valid JSON" in verify.stderr
    report = json.loads(sqlite_cli("verify", "--json").stdout)
    assert report["ok"] is False and any("not valid JSON" in v for v in report["violations"])

    for args in (("backfill-schema-sha-v2", "--dry-run"), ("backfill-schema-sha-v2",)):
        line = _one_line_error(sqlite_cli(*args))
        assert "model rr#1: stored feature_schema is not valid JSON" in line
        assert "nothing was backfilled" in line


# -- bad locations and revisions ----------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("garbage://", "unsupported database 'garbage'"),
        ("mysql://user@localhost/tessera", "unsupported database 'mysql'"),
        ("postgresql+nodriver://u@h/d", "driver 'postgresql+nodriver' is not available"),
        ("not a url", "invalid registry database URL"),
    ],
)
def test_an_unusable_database_url_is_one_line(sqlite_cli: Cli, url: str, expected: str) -> None:
    for command in (("verify",), ("db", "upgrade"), ("models", "list")):
        line = _one_line_error(sqlite_cli(*command, "--database-url", url))
        assert expected in line and "expected sqlite:///PATH or postgresql" in line


def test_db_upgrade_says_to_create_a_missing_postgres_database(
    postgres_url: str, sqlite_cli: Cli
) -> None:
    absent = f"tessera_absent_{uuid.uuid4().hex[:12]}"
    url = f"postgresql+psycopg://postgres@127.0.0.1:{PG_PORT}/{absent}"
    for command in (("db", "upgrade"), ("verify",)):
        line = _one_line_error(sqlite_cli(*command, "--database-url", url))
        assert f"the database '{absent}' does not exist on the server: create it" in line


def test_a_database_newer_than_the_code_says_to_upgrade_tessera(
    cli: Cli, config: ServingConfig
) -> None:
    _execute(config, "UPDATE alembic_version SET version_num = '9999_from_the_future'")
    for command in (("db", "upgrade"), ("db", "current"), ("verify",), ("models", "list")):
        line = _one_line_error(cli(*command))
        assert "9999_from_the_future, which this code does not know" in line
        assert "upgrade Tessera" in line and "run `tessera-serve db upgrade`" not in line


# -- --json and the listing's header -------------------------------------------------------


def test_json_on_register_promote_verify_and_models_list(
    sqlite_cli: Cli, runs: ModuleType, tmp_path: Path
) -> None:
    with open_registry(sqlite_cli.config) as registry:
        add_live_schema(registry, SCHEMA, name="live", source="test")
    run_dir = runs.write_run_dir(tmp_path / "runs", "rr")

    registered = json.loads(sqlite_cli("register", "--json", run_dir).stdout)
    [entry] = registered["registered"]
    assert (entry["name"], entry["version"], entry["created"]) == ("rr", 1, True)
    assert entry["rows"][0]["cell"] is None and len(entry["rows"][0]["artifact_sha256"]) == 64
    again = json.loads(sqlite_cli("register", "--json", run_dir).stdout)
    assert again["registered"][0]["created"] is False

    promoted = json.loads(sqlite_cli("promote", "--json", "rr#1").stdout)
    assert promoted == {
        "name": "rr", "version": 1, "stage": "production", "changed": True, "archived": []
    }  # fmt: skip
    verified = json.loads(sqlite_cli("verify", "--json").stdout)
    assert verified == {
        "ok": True, "rows": 1, "versions": 1, "artifacts": 1, "live_schemas": 1, "violations": []
    }  # fmt: skip
    [line] = sqlite_cli("models", "list", "--json").stdout.splitlines()
    assert json.loads(line)["stage"] == "production"

    human = sqlite_cli("models", "list").stdout.splitlines()
    assert human[0].split("\t") == [
        "MODEL",
        "STAGE",
        "VERDICT",
        "WEIGHTS",
        "SCHEMA_SHA_V2",
        "CELLS",
    ]
    assert human[1].split("\t")[:2] == ["rr#1", "production"]


def test_a_failed_json_command_still_fails_in_one_line(
    sqlite_cli: Cli, runs: ModuleType, tmp_path: Path
) -> None:
    _registered(sqlite_cli, runs, tmp_path, verdict="HOLD")
    line = _one_line_error(sqlite_cli("promote", "--json", "rr#1"))
    assert "gate verdict" in line.lower() or "HOLD" in line


# -- the PostgreSQL half of this suite cannot pass by skipping -----------------------------


def _pytest(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("CI", "TESSERA_TEST_PG_PORT")}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
        env=environment,
        timeout=300,
    )


def test_postgres_tests_are_marked_and_fail_under_ci_when_the_server_is_missing() -> None:
    module = "packages/serving/tests/registry/test_engine.py"
    target = f"{module}::test_transaction_commits_once_or_rolls_back"
    selected = _pytest(target, "-m", "postgres", "--collect-only", "-q")
    assert f"{target}[postgresql]" in selected.stdout and f"{target}[sqlite]" not in selected.stdout

    unreachable = {"TESSERA_TEST_PG_PORT": "9"}  # nothing listens on the discard port
    local = _pytest(f"{target}[postgresql]", "-q", **unreachable)
    assert local.returncode == 0 and "1 skipped" in local.stdout, local.stdout
    under_ci = _pytest(f"{target}[postgresql]", "-q", CI="true", **unreachable)
    assert under_ci.returncode == 1 and "1 error" in under_ci.stdout, under_ci.stdout
    assert "CI is set: PostgreSQL tests must run, not skip" in under_ci.stdout
