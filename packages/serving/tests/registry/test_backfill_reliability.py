"""kill -9 during ``backfill-schema-sha-v2``, then a rerun: nothing lost, nothing duplicated.

A real ``tessera-serve`` process is parked at a pause point, killed with SIGKILL, and the
command is run again, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from types import ModuleType

import pytest
import sqlalchemy as sa
from cli_runner import Cli

from tessera_contracts import compute_schema_sha
from tessera_serving.config import ServingConfig
from tessera_serving.registry import LiveSchema, RerankerModel, open_registry
from tessera_serving.registry.live_schemas import add_live_schema
from tessera_serving.registry.register import register_runs

SCHEMA = {"knn": ["knn_score", "knn_votes"], "length": ["query_len", "len_ratio"]}
V2 = compute_schema_sha(SCHEMA)


def _state(config: ServingConfig) -> list[tuple[str, int, str | None]]:
    """Every model row and live schema with its schema_sha_v2, in id order."""
    with open_registry(config) as registry, registry.transaction(readonly=True) as session:
        models = session.execute(
            sa.select(RerankerModel.name, RerankerModel.id, RerankerModel.schema_sha_v2)
            .order_by(RerankerModel.id)
        ).all()  # fmt: skip
        schemas = session.execute(
            sa.select(LiveSchema.name, LiveSchema.id, LiveSchema.schema_sha_v2)
            .order_by(LiveSchema.id)
        ).all()  # fmt: skip
    return [tuple(r) for r in [*models, *schemas]]  # type: ignore[misc]


def _wait_for(path: Path, process: subprocess.Popen[str], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"process exited {process.returncode} before its pause point: {err}{out}")
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


@pytest.mark.parametrize("point", ["backfill.after_read", "backfill.before_commit"])
def test_kill_9_during_backfill_then_rerun(
    config: ServingConfig, runs: ModuleType, tmp_path: Path, point: str
) -> None:
    with open_registry(config) as registry:
        add_live_schema(registry, SCHEMA, name="live", source="test")
        register_runs(
            registry,
            [
                runs.write_run_dir(tmp_path / "runs", "rr"),
                runs.write_run_dir(tmp_path / "r2", "qq"),
            ],
        )
        with registry.transaction() as session:
            session.execute(sa.update(RerankerModel).values(schema_sha_v2=None))
            session.execute(sa.update(LiveSchema).values(schema_sha_v2=None))
    before = _state(config)
    assert [v2 for _, _, v2 in before] == [None, None, None]
    cli = Cli(config, tmp_path)
    marker = tmp_path / "parked"
    process = cli.popen(
        "backfill-schema-sha-v2", TESSERA_TEST_PAUSE_AT=point, TESSERA_TEST_PAUSE_FILE=str(marker)
    )
    _wait_for(marker, process)
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL

    assert _state(config) == before  # the killed transaction changed nothing
    rerun = cli("backfill-schema-sha-v2")
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.splitlines()[-1] == "backfill-schema-sha-v2: changed 3 row(s)"
    after = _state(config)
    assert [(name, row_id) for name, row_id, _ in after] == [(n, i) for n, i, _ in before]
    assert [v2 for _, _, v2 in after] == [V2, V2, V2]
    again = cli("backfill-schema-sha-v2")
    assert "nothing to do" in again.stdout and _state(config) == after
    assert cli("verify").returncode == 0
