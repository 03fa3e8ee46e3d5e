"""The job's input hash: reused only for a provably unchanged file, always the true sha256.

Real files, real stat data: an in-place edit that keeps the size and sets the mtime back
(``os.utime``) still changes the ctime, and must be hashed again.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tessera_serving.errors import ScoringError
from tessera_serving.registry import Registry
from tessera_serving.scoring import input_hash_cache
from tessera_serving.scoring.input_hash import CACHE_ENV, InputHash, cache_dir_for
from tessera_serving.scoring.jobs import get_job
from tessera_serving.scoring.readback import list_jobs
from tessera_serving.scoring.score_job import ScoreOptions, run_score_job
from tessera_serving.testhooks import PAUSE_AT_ENV, PAUSE_FILE_ENV, RELEASE_FILE_ENV

from .conftest import Booster, register, write_candidates

QUIET_NS = 50_000_000  # the test's stand-in for the 2 s racy margin, to keep it fast


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _rewrite_in_place(path: Path, data: bytes) -> None:
    """Overwrite ``path`` with ``data`` (same size), then set its mtime back as it was."""
    before = path.stat()
    assert len(data) == before.st_size
    with path.open("r+b") as fh:
        fh.write(data)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


@pytest.fixture
def quiet_margin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(input_hash_cache, "RACY_MARGIN_NS", QUIET_NS)


def test_an_edit_that_restores_size_and_mtime_is_hashed_again(
    tmp_path: Path, quiet_margin: None
) -> None:
    path, cache = tmp_path / "in.bin", tmp_path / "cache"
    path.write_bytes(b"a" * 5_000_000)
    time.sleep(2 * QUIET_NS / 1e9)
    first = InputHash(path, cache)
    assert first.cached is None and first.result() == _sha(path)
    again = InputHash(path, cache)
    assert again.cached == _sha(path)  # unchanged file: reused, not read

    _rewrite_in_place(path, b"b" * 5_000_000)
    time.sleep(2 * QUIET_NS / 1e9)
    edited = InputHash(path, cache)
    assert edited.cached is None, "a stale hash was reused for changed bytes"
    assert edited.result() == _sha(path) == hashlib.sha256(b"b" * 5_000_000).hexdigest()


def test_a_file_changed_within_the_racy_margin_is_never_remembered(tmp_path: Path) -> None:
    path, cache = tmp_path / "in.bin", tmp_path / "cache"
    path.write_bytes(os.urandom(100_000))
    assert InputHash(path, cache).result() == _sha(path)
    assert not list(cache.glob("*.json"))
    assert InputHash(path, cache).cached is None


def test_a_file_changed_during_the_job_is_refused(tmp_path: Path, quiet_margin: None) -> None:
    path, cache = tmp_path / "in.bin", tmp_path / "cache"
    path.write_bytes(b"a" * 1_000_000)
    hashing = InputHash(path, cache)
    _rewrite_in_place(path, b"c" * 1_000_000)
    with pytest.raises(ScoringError, match="changed while the job read it"):
        hashing.result()
    assert not list(cache.glob("*.json"))

    time.sleep(2 * QUIET_NS / 1e9)
    InputHash(path, cache).result()
    remembered = InputHash(path, cache)
    assert remembered.cached == _sha(path)
    _rewrite_in_place(path, b"d" * 1_000_000)  # while that job scores: its hash is stale
    with pytest.raises(ScoringError, match="changed while the job read it"):
        remembered.result()


def test_the_cache_can_be_switched_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cache_dir_for(tmp_path) == tmp_path / "input-hashes"
    monkeypatch.setenv(CACHE_ENV, "off")
    assert cache_dir_for(tmp_path) is None


def _same_size_files(table: pa.Table, tmp_path: Path) -> tuple[Path, bytes]:
    """Two Parquet encodings of ``table`` of equal size, one feature value apart."""
    changed = table.column("knn_votes").to_numpy().copy()
    changed[0] += 1.0
    other = table.set_column(
        table.schema.get_field_index("knn_votes"), "knn_votes", pa.array(changed)
    )
    paths = []
    for name, t in (("in.parquet", table), ("other.parquet", other)):
        path = write_candidates(tmp_path / name, t)
        pq.write_table(
            pq.read_table(path), path, compression="none", use_dictionary=False,
            write_statistics=False,
        )  # fmt: skip
        paths.append(path)
    assert paths[0].stat().st_size == paths[1].stat().st_size
    return paths[0], paths[1].read_bytes()


def test_a_job_records_the_hash_of_the_bytes_it_scored(
    sqlite_registry: Registry,
    tmp_path: Path,
    table: pa.Table,
    booster: Booster,
    quiet_margin: None,
) -> None:
    register(sqlite_registry, booster)
    path, other_bytes = _same_size_files(table, tmp_path)
    options = ScoreOptions(backend="lightgbm", num_threads=1)
    time.sleep(2 * QUIET_NS / 1e9)
    shas = []
    for step in range(3):
        if step == 2:
            _rewrite_in_place(path, other_bytes)
            time.sleep(2 * QUIET_NS / 1e9)
        out = tmp_path / f"out{step}.parquet"
        job = run_score_job(sqlite_registry, "rr", path, out, options)
        recorded = get_job(sqlite_registry, job.job_id)["input_sha256"]
        assert recorded == job.input_sha256 == _sha(path)
        shas.append(recorded)
        scored = pq.read_table(out).column("score").to_numpy()
        assert np.array_equal(scored, booster.predict(pq.read_table(path)))
    assert shas[0] == shas[1] != shas[2]
    cache = cache_dir_for(sqlite_registry.config.state_dir)
    assert cache is not None and len(list(cache.glob("*.json"))) == 2


@pytest.mark.parametrize("store", [False, True])
def test_a_job_whose_input_changes_before_its_output_is_in_place_fails_cleanly(
    store: bool,
    sqlite_registry: Registry,
    tmp_path: Path,
    table: pa.Table,
    booster: Booster,
    monkeypatch: pytest.MonkeyPatch,
    quiet_margin: None,
) -> None:
    """Every row scored, the output not yet renamed: the input is edited in place, mtime kept."""
    register(sqlite_registry, booster)
    path, other_bytes = _same_size_files(table, tmp_path)
    time.sleep(2 * QUIET_NS / 1e9)
    options = ScoreOptions(backend="lightgbm", store=store)
    run_score_job(sqlite_registry, "rr", path, tmp_path / "first.parquet", options)  # remembered
    paused, release = tmp_path / "paused", tmp_path / "release"
    monkeypatch.setenv(PAUSE_AT_ENV, "score.output.before_rename")
    monkeypatch.setenv(PAUSE_FILE_ENV, str(paused))
    monkeypatch.setenv(RELEASE_FILE_ENV, str(release))
    out = tmp_path / "out.parquet"
    failures: list[BaseException] = []

    def job() -> None:
        try:
            run_score_job(sqlite_registry, "rr", path, out, options)
        except ScoringError as exc:
            failures.append(exc)

    worker = threading.Thread(target=job)
    worker.start()
    deadline = time.monotonic() + 120
    while not paused.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    _rewrite_in_place(path, other_bytes)
    release.touch()
    worker.join(120)
    assert len(failures) == 1 and "changed while the job read it" in str(failures[0])
    assert not out.exists() and not list(tmp_path.glob(".out.parquet.tmp-*"))
    row = list_jobs(sqlite_registry)[0]  # newest first
    assert row["status"] == "failed" and "changed while the job read it" in row["error"]
    if not store:  # no hash is recorded for bytes that are no longer there
        assert get_job(sqlite_registry, row["id"])["input_sha256"] is None
