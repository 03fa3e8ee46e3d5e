"""ServingConfig: flags over environment over defaults; the shared CLI flags."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from tessera_serving.cli._common import add_config_arguments, config_from_args
from tessera_serving.config import ServingConfig, redact_url


def test_defaults_live_under_dot_tessera_in_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = ServingConfig.from_env(environ={})
    assert config.state_dir == tmp_path / ".tessera"
    assert config.database_url == f"sqlite:///{tmp_path / '.tessera' / 'registry.db'}"
    assert config.artifacts_url == str(tmp_path / ".tessera" / "artifacts")


def test_environment_then_overrides(tmp_path: Path) -> None:
    env = {
        "TESSERA_HOME": str(tmp_path / "h"),
        "TESSERA_DATABASE_URL": "postgresql+psycopg://u@db/x",
        "TESSERA_ARTIFACTS_URL": "memory://art",
    }
    from_env = ServingConfig.from_env(environ=env)
    assert from_env == ServingConfig(tmp_path / "h", "postgresql+psycopg://u@db/x", "memory://art")
    only_home = ServingConfig.from_env(environ={"TESSERA_HOME": str(tmp_path / "h")})
    assert only_home.database_url == f"sqlite:///{tmp_path / 'h' / 'registry.db'}"
    overridden = ServingConfig.from_env(
        state_dir=tmp_path / "o", database_url="sqlite:///x.db", environ=env
    )
    assert overridden.state_dir == tmp_path / "o"
    assert overridden.database_url == "sqlite:///x.db"
    assert overridden.artifacts_url == "memory://art"


def test_cli_flags_win(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESSERA_DATABASE_URL", "sqlite:///env.db")
    parser = argparse.ArgumentParser()
    add_config_arguments(parser)
    args = parser.parse_args(["--home", str(tmp_path), "--artifacts-url", "memory://a"])
    config = config_from_args(args)
    assert config.state_dir == tmp_path
    assert config.database_url == "sqlite:///env.db"
    assert config.artifacts_url == "memory://a"
    args = parser.parse_args(["--database-url", "sqlite:///flag.db"])
    assert config_from_args(args).database_url == "sqlite:///flag.db"


def test_redact_url_hides_passwords_only() -> None:
    assert (
        redact_url("postgresql+psycopg://u:secret@h:5432/db")
        == "postgresql+psycopg://u:***@h:5432/db"
    )
    assert redact_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert redact_url("sqlite:////tmp/a@b/registry.db") == "sqlite:////tmp/a@b/registry.db"
    assert "secret" not in ServingConfig(Path("/x"), "postgresql://u:secret@h/d", "/a").describe()
