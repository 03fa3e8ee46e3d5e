"""The artifact store's interface and the rules every backend shares.

Objects are addressed by the sha256 of their bytes and never overwritten; reading one
verifies its hash. Refs are small mutable names pointing at an object (used by caches).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Protocol, runtime_checkable

from tessera_serving.errors import ArtifactError

CHUNK_BYTES = 1 << 20
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
REF_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


@runtime_checkable
class ArtifactStore(Protocol):
    """A content-addressed store of immutable blobs plus a few mutable named refs."""

    @property
    def url(self) -> str:
        """Where the store lives (a path or fsspec URL)."""
        ...

    def put_bytes(self, data: bytes) -> str:
        """Store ``data``; return its sha256. Idempotent; an existing object is verified."""
        ...

    def put_file(self, path: Path) -> str:
        """Store a file's bytes (streamed); return their sha256."""
        ...

    def restore(self, data: bytes) -> bool:
        """Store ``data``, replacing a missing or corrupt object; True if it was (re)written.

        Safe because ``data`` hashes to the key: no valid content is ever replaced.
        """
        ...

    def exists(self, sha256: str) -> bool:
        """Whether an object with this key is present (its content is not checked)."""
        ...

    def read_bytes(self, sha256: str) -> bytes:
        """The object's bytes, verified against the key (ArtifactError if missing/corrupt)."""
        ...

    def verify(self, sha256: str) -> None:
        """Stream the object and check its hash (ArtifactError if missing/corrupt)."""
        ...

    def fetch(self, sha256: str, dest_dir: Path) -> Path:
        """A verified local copy ``dest_dir/<sha256>`` (reused if already there and valid)."""
        ...

    def uri(self, sha256: str) -> str:
        """The object's URI (recorded in the registry)."""
        ...

    def sha256_from_uri(self, uri: str) -> str:
        """The key of an object URI of *this* store (ArtifactError if it points elsewhere)."""
        ...

    def write_ref(self, name: str, sha256: str) -> None:
        """Point ref ``name`` at an object (atomically replacing the old value)."""
        ...

    def read_ref(self, name: str) -> str | None:
        """The object a ref points at, or ``None`` if the ref does not exist."""
        ...


def check_sha256(sha256: str) -> str:
    """``sha256`` if it is 64 lowercase hex digits, else ArtifactError."""
    if not isinstance(sha256, str) or not SHA256_RE.match(sha256):
        raise ArtifactError(f"artifact key must be 64 lowercase hex digits, found {sha256!r}")
    return sha256


def check_ref_name(name: str) -> str:
    """A ref name is one path segment of safe characters (no ``/``, no ``..``)."""
    if not isinstance(name, str) or not REF_NAME_RE.match(name) or ".." in name:
        raise ArtifactError(
            f"ref name must match {REF_NAME_RE.pattern} without '..', found {name!r}"
        )
    return name


def shard(sha256: str) -> str:
    """The object's relative path: ``objects/ab/abcdef...``."""
    return f"objects/{sha256[:2]}/{sha256}"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def corrupt(sha256: str, where: str, actual: str) -> ArtifactError:
    return ArtifactError(
        f"artifact {sha256} at {where} is corrupt: its content hashes to {actual}; "
        "register the run again to restore it"
    )


def missing(sha256: str, where: str) -> ArtifactError:
    return ArtifactError(
        f"artifact {sha256} is missing from the store (expected at {where}); "
        "register the run again to restore it"
    )
