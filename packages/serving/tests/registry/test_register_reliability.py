"""Registration under concurrency and crashes (real subprocesses, SIGKILL, both backends).

Pause points (``tessera_serving.testhooks``) park a ``tessera-serve register`` process at a
chosen step: two processes lined up after their "already registered?" check race on the
insert; a process killed at a step must leave no row and no half-written artifact.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
from pathlib import Path
from types import ModuleType

import pytest
import sqlalchemy as sa
from cli_runner import Cli

from tessera_serving.config import ServingConfig
from tessera_serving.registry import RerankerModel, open_registry
from tessera_serving.registry.live_schemas import add_live_schema
from tessera_serving.registry.verify import verify_registry

SCHEMA = {"knn": ["knn_score", "knn_votes"], "length": ["query_len", "len_ratio"]}


def _rows(config: ServingConfig) -> list[tuple[str, int, str]]:
    with open_registry(config) as registry, registry.transaction(readonly=True) as session:
        query = sa.select(RerankerModel.name, RerankerModel.version, RerankerModel.run_sha256)
        return [tuple(r) for r in session.execute(query.order_by(RerankerModel.id))]  # type: ignore[misc]


def _add_live(config: ServingConfig) -> None:
    with open_registry(config) as registry:
        add_live_schema(registry, SCHEMA, name="live", source="test")


def _wait_for(path: Path, process: subprocess.Popen[str], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"process exited {process.returncode} before its pause point: {err}{out}")
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def _object_files(config: ServingConfig) -> tuple[list[Path], list[Path]]:
    """(addressable objects, dot-temp files) under the local store."""
    objects = Path(config.artifacts_url) / "objects"
    files = [p for p in objects.rglob("*") if p.is_file()] if objects.exists() else []
    return [p for p in files if not p.name.startswith(".")], [
        p for p in files if p.name.startswith(".")
    ]


def _all_objects_intact(config: ServingConfig) -> None:
    addressable, temps = _object_files(config)
    for path in addressable:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name, path
    for path in temps:
        assert path.name.endswith(".tmp")  # a killed writer's staging file, never addressable


@pytest.mark.parametrize("same_run", [True, False], ids=["same-run", "different-runs"])
def test_two_processes_racing_on_the_insert(
    config: ServingConfig, runs: ModuleType, tmp_path: Path, same_run: bool
) -> None:
    _add_live(config)
    run_a = runs.write_run_dir(tmp_path / "a", "rr", seed=1)
    run_b = run_a if same_run else runs.write_run_dir(tmp_path / "b", "rr", seed=2)
    release = tmp_path / "go"
    cli = Cli(config, tmp_path)
    processes = []
    for index, run_dir in enumerate([run_a, run_b]):
        marker = tmp_path / f"parked-{index}"
        process = cli.popen(
            "register",
            run_dir,
            TESSERA_TEST_PAUSE_AT="register.after_upload",
            TESSERA_TEST_PAUSE_FILE=str(marker),
            TESSERA_TEST_RELEASE_FILE=str(release),
        )
        processes.append((process, marker))
    for process, marker in processes:
        _wait_for(marker, process)  # both checked "not registered yet" and uploaded
    release.touch()
    outputs = [process.communicate(timeout=300) for process, _ in processes]
    for (process, _), (_out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err
    rows = _rows(config)
    if same_run:
        assert len(rows) == 1 and rows[0][:2] == ("rr", 1)
        assert sorted(out.split(" as ")[0].strip() for out, _ in outputs) == [
            "already registered",
            "registered rr#1 (pooled)",
        ]
    else:
        assert sorted(version for _, version, _ in rows) == [1, 2]
        assert len({sha for _, _, sha in rows}) == 2


@pytest.mark.parametrize(
    "point", ["store.write", "register.after_upload", "register.before_commit"]
)
def test_kill_9_while_registering_leaves_nothing_half_done(
    config: ServingConfig, runs: ModuleType, tmp_path: Path, point: str
) -> None:
    _kill_and_rerun(config, runs, tmp_path, point)


def _kill_and_rerun(config: ServingConfig, runs: ModuleType, tmp_path: Path, point: str) -> None:
    _add_live(config)
    run_dir = runs.write_run_dir(tmp_path / "runs", "rr")
    other = runs.write_run_dir(tmp_path / "runs", "qq", seed=3)
    marker = tmp_path / "parked"
    process = Cli(config, tmp_path).popen(
        "register",
        run_dir,
        other,
        TESSERA_TEST_PAUSE_AT=point,
        TESSERA_TEST_PAUSE_FILE=str(marker),
    )
    _wait_for(marker, process)
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL

    assert _rows(config) == []
    _all_objects_intact(config)
    model_sha = hashlib.sha256((run_dir / "model.txt").read_bytes()).hexdigest()
    addressable, _ = _object_files(config)
    if point == "store.write":
        assert addressable == []  # the object never appeared under its name
        [staging] = _object_files(config)[1]  # the first booster's, killed mid-write
        old = time.time() - 2 * 3600
        os.utime(staging, (old, old))  # the dead writer's staging file, an hour later
    rerun = Cli(config, tmp_path)("register", run_dir, other)
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.splitlines() == ["registered rr#1 (pooled)", "registered qq#1 (pooled)"]
    with open_registry(config) as registry:
        assert registry.store.read_bytes(model_sha) == (run_dir / "model.txt").read_bytes()
        assert verify_registry(registry).ok
    assert [row[:2] for row in _rows(config)] == [("rr", 1), ("qq", 1)]
    if point == "store.write":
        assert _object_files(config)[1] == []  # the stale staging file was cleaned up
