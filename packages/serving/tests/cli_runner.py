"""Running ``tessera-serve`` as a real subprocess against one configuration (tests only).

A plain module, not a conftest: test modules import it by name (``from cli_runner import
Cli``), which stays unambiguous however many conftest.py files the suite has.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tessera_serving.config import (
    ARTIFACTS_URL_ENV,
    DATABASE_URL_ENV,
    HOME_ENV,
    ServingConfig,
)

PG_PORT = int(os.environ.get("TESSERA_TEST_PG_PORT", "5432"))  # another port: "unreachable"
TESSERA_SERVE = Path(sys.executable).parent / "tessera-serve"


def cli_env(config: ServingConfig, **extra: str) -> dict[str, str]:
    """This environment with ``config``'s locations (and passive OpenMP waiting)."""
    env = dict(os.environ)
    env.update(
        {
            HOME_ENV: str(config.state_dir),
            DATABASE_URL_ENV: config.database_url,
            ARTIFACTS_URL_ENV: config.artifacts_url,
            "OMP_WAIT_POLICY": "passive",
        }
    )
    env.update(extra)
    return env


class Cli:
    """Runs ``tessera-serve`` in a subprocess against one configuration."""

    def __init__(self, config: ServingConfig, cwd: Path) -> None:
        self.config = config
        self.cwd = cwd

    def __call__(self, *args: str | Path, **extra_env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(TESSERA_SERVE), *map(str, args)],
            capture_output=True,
            text=True,
            check=False,
            cwd=self.cwd,
            env=cli_env(self.config, **extra_env),
            timeout=300,
        )

    def popen(self, *args: str | Path, **extra_env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(TESSERA_SERVE), *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=self.cwd,
            env=cli_env(self.config, **extra_env),
        )
