"""Input hashes remembered by file identity, so an unchanged input is not hashed again.

An entry is reused only if every identity field still matches: host, real path, device,
inode, size, mtime_ns and ctime_ns. ctime moves on every write, truncate, rename onto the
path or ``utime`` and cannot be set back by a user, so an in-place edit that keeps the size
and restores the mtime still misses. The "racy git" rule closes the remaining gap: a write
within the file system's timestamp granularity after the last one leaves the stamps as they
were, so an entry is written (and trusted) only if the file had been quiet for
``RACY_MARGIN_NS`` when it was first stat'ed for hashing. Entries are small JSON files
written atomically; an unreadable or foreign entry is a miss, never an error.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from tessera_serving.scoring.liveness import this_host

RACY_MARGIN_NS = 2_000_000_000  # above any file system's timestamp granularity (FAT: 2 s)
MAX_ENTRIES = 1024


@dataclass(frozen=True)
class FileIdentity:
    """What must not change for a file's bytes to be taken as unchanged."""

    host: str
    path: str
    dev: int
    ino: int
    size: int
    mtime_ns: int
    ctime_ns: int
    seen_at_ns: int  # the wall clock when this was read (not compared)

    @classmethod
    def of(cls, path: Path) -> FileIdentity:
        now = time.time_ns()
        real = Path(path).resolve()
        st = real.stat()
        return cls(this_host(), str(real), st.st_dev, st.st_ino, st.st_size,
                   st.st_mtime_ns, st.st_ctime_ns, now)  # fmt: skip

    def same_file_state(self, other: FileIdentity) -> bool:
        """Every field but ``seen_at_ns`` equal."""
        return _fields(self) == _fields(other)

    def quiet(self) -> bool:
        """Unchanged for at least ``RACY_MARGIN_NS`` when it was read (safe to remember)."""
        return self.seen_at_ns - max(self.mtime_ns, self.ctime_ns) > RACY_MARGIN_NS

    def key(self) -> str:
        return hashlib.sha256(json.dumps(_fields(self)).encode()).hexdigest()


def _fields(identity: FileIdentity) -> list[object]:
    fields = asdict(identity)
    fields.pop("seen_at_ns")
    return list(fields.values())


def lookup(cache_dir: Path, identity: FileIdentity) -> str | None:
    """The remembered sha256 for ``identity``, or None (no entry, or not provably current)."""
    try:
        entry = json.loads((cache_dir / f"{identity.key()}.json").read_text())
        stored = FileIdentity(**entry["identity"])
        sha = str(entry["sha256"])
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if not stored.same_file_state(identity) or not stored.quiet() or len(sha) != 64:
        return None
    return sha


def remember(cache_dir: Path, identity: FileIdentity, sha256: str) -> bool:
    """Record ``sha256`` for ``identity`` if the file was quiet when first read; best effort."""
    if not identity.quiet():
        return False
    entry = json.dumps({"identity": asdict(identity), "sha256": sha256})
    target = cache_dir / f"{identity.key()}.json"
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp.write_text(entry)
        tmp.replace(target)
        _prune(cache_dir)
    except OSError:
        tmp.unlink(missing_ok=True)
        return False
    return True


def _prune(cache_dir: Path) -> None:
    """Keep the newest ``MAX_ENTRIES`` entries (one per distinct input file state)."""
    entries = list(cache_dir.glob("*.json"))
    if len(entries) <= MAX_ENTRIES:
        return
    entries.sort(key=lambda p: p.stat().st_mtime_ns)
    for old in entries[: len(entries) - MAX_ENTRIES]:
        old.unlink(missing_ok=True)
