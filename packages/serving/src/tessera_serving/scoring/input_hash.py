"""The sha256 of a job's input file, kept off the predict threads' CPUs.

Hashing a 770 MB input costs ~0.6 CPU-s; on a 2-core host a hash thread beside two
predict threads slows predict. So: a hash of a file whose identity (host, real path,
device, inode, size, mtime and ctime in ns) is unchanged since it was hashed is reused from a
cache under the state directory (``input_hash_cache``); otherwise the hash runs on an
idle-priority thread (it gets only CPU the predict threads leave) and the job's own thread
finishes whatever is left once scoring is done. ``InputHash.verify`` then refuses a file
whose identity changed at any point since the job began, so the recorded hash is always
that of the bytes scored.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import threading
from pathlib import Path
from typing import Any

from tessera_serving.errors import ScoringError
from tessera_serving.scoring import input_hash_cache as cache
from tessera_serving.scoring.input_hash_cache import FileIdentity

CHUNK_BYTES = 1 << 20
CACHE_ENV = "TESSERA_INPUT_HASH_CACHE"  # "off": never reuse or record a hash


def cache_dir_for(state_dir: Path) -> Path | None:
    """Where this state directory keeps input hashes; None when the cache is switched off."""
    if os.environ.get(CACHE_ENV, "").strip().lower() in ("off", "0", "false", "no"):
        return None
    return state_dir / "input-hashes"


def _idle_priority() -> None:
    """Make the calling thread (only) run when a CPU is otherwise idle; Linux only."""
    if not sys.platform.startswith("linux"):
        return
    try:  # pid 0 = this thread on Linux
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, 0, 19)


class InputHash:
    """One job's input hash: from the cache, or computed in idle time and finished on demand."""

    def __init__(self, path: Path, cache_dir: Path | None) -> None:
        self.path = path
        self.identity = identity_of(path)
        self._cache_dir = cache_dir
        self.cached = cache.lookup(cache_dir, self.identity) if cache_dir is not None else None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._checkpoint: tuple[int, Any] = (0, hashlib.sha256())
        self._thread: threading.Thread | None = None
        if self.cached is None:
            self._thread = threading.Thread(
                target=self._background, name="tessera-input-hash", daemon=True
            )
            self._thread.start()

    def _background(self) -> None:
        _idle_priority()
        try:
            with self.path.open("rb") as fh:
                digest = hashlib.sha256()
                offset = 0
                while not self._stop.is_set():
                    chunk = fh.read(CHUNK_BYTES)
                    if not chunk:
                        break
                    digest.update(chunk)
                    offset += len(chunk)
                    with self._lock:  # never held while hashing: the job's thread never waits
                        self._checkpoint = (offset, digest.copy())
        except OSError:
            return  # the job's thread reads the file itself and reports the error

    def result(self) -> str:
        """The sha256 of the input's bytes; the job's thread hashes what the idle one has not."""
        if self.cached is not None:
            self.verify()  # a remembered hash is true only of the bytes as they were
            return self.cached
        self._stop.set()
        with self._lock:
            offset, digest = self._checkpoint[0], self._checkpoint[1].copy()
        try:
            with self.path.open("rb") as fh:
                fh.seek(offset)
                while chunk := fh.read(CHUNK_BYTES):
                    digest.update(chunk)
        except OSError as exc:
            raise ScoringError(f"input {self.path}: cannot read: {exc.strerror or exc}") from exc
        sha = str(digest.hexdigest())
        self.verify()
        if self._cache_dir is not None:
            cache.remember(self._cache_dir, self.identity, sha)
        self.cached = sha
        return sha

    def cancel(self) -> str | None:
        """Stop hashing (the job failed); the hash if already known and still true, else None."""
        self._stop.set()
        if self.cached is None:
            return None
        try:
            self.verify()
        except ScoringError:
            return None
        return self.cached

    def verify(self) -> None:
        """Refuse an input whose identity changed since the job began (its hash would lie)."""
        if not identity_of(self.path).same_file_state(self.identity):
            raise ScoringError(
                f"input {self.path} changed while the job read it (size, inode or "
                "timestamps differ); nothing was recorded for it; rerun once it is complete"
            )


def identity_of(path: Path) -> FileIdentity:
    """``path``'s identity now, with a one-line error for a missing or unreadable file."""
    try:
        return FileIdentity.of(path)
    except FileNotFoundError as exc:
        raise ScoringError(f"input {path}: no such file") from exc
    except OSError as exc:
        raise ScoringError(f"input {path}: cannot stat: {exc.strerror or exc}") from exc
