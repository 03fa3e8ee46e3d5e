"""The content-addressed artifact store: boosters (and caches) stored by sha256, never overwritten.

``open_store(url)`` picks the backend: a plain path or ``file://`` URL -> the local store,
``s3://`` -> the S3 store (conditional writes; needs the ``s3`` extra), any other fsspec URL
-> the fsspec store.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from .base import ArtifactStore, check_ref_name, check_sha256, shard
from .fsspec_store import FsspecArtifactStore
from .local import LocalArtifactStore
from .s3 import S3ArtifactStore


def open_store(url: str | Path) -> ArtifactStore:
    """The artifact store at ``url`` (see the module docstring)."""
    text = str(url)
    parsed = urlparse(text)
    if parsed.scheme == "file":
        return LocalArtifactStore(unquote(parsed.path))
    if "://" not in text:
        return LocalArtifactStore(text)
    if parsed.scheme in ("s3", "s3a"):
        return S3ArtifactStore(text)
    return FsspecArtifactStore(text)


__all__ = [
    "ArtifactStore",
    "FsspecArtifactStore",
    "LocalArtifactStore",
    "S3ArtifactStore",
    "check_ref_name",
    "check_sha256",
    "open_store",
    "shard",
]
