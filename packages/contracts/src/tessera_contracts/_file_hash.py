"""The one streaming file hash: sha256 over 1 MiB chunks, with the byte count.

Stdlib only, so every package (and the serving image, which installs no lab code) hashes
files the same way: dataset splits, run artifacts, store objects, scoring inputs, receipts.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import BinaryIO

from ._errors import ContractError

HASH_CHUNK_BYTES = 1 << 20
"""Read size: large enough to keep hashing I/O-bound, small enough to bound memory."""


def sha256_stream(handle: BinaryIO) -> tuple[str, int]:
    """Hash an open binary stream to its end; return (hex digest, bytes read).

    Errors of the stream (``OSError``, ``FileNotFoundError``...) propagate unchanged, so a
    caller with its own error tree (the artifact store, scoring) translates them itself.
    """
    digest = hashlib.sha256()
    size = 0
    while chunk := handle.read(HASH_CHUNK_BYTES):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def sha256_file(path: str | Path) -> tuple[str, int]:
    """Stream ``path`` through sha256; return (hex digest, size in bytes).

    An unreadable file raises ``ContractError`` naming the path.
    """
    try:
        with Path(path).open("rb") as handle:
            return sha256_stream(handle)
    except OSError as exc:
        raise ContractError(f"{path}: cannot hash file: {exc.strerror or exc}") from exc
