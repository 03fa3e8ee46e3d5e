"""The content-addressed artifact store: boosters (and caches) stored by sha256, never overwritten.

``open_store(url)`` picks the backend: a plain path or ``file://`` URL -> the local store,
``s3://`` -> the S3 store (conditional writes; needs the ``s3`` extra), any other fsspec URL
-> the fsspec store.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from .base import ArtifactStore, check_ref_name, check_sha256, shard
from .local import LocalArtifactStore

if TYPE_CHECKING:
    from .fsspec_store import FsspecArtifactStore
    from .s3 import S3ArtifactStore

# The remote stores import fsspec (~0.02 CPU-s): loaded when a URL needs them.
_REMOTE = {"FsspecArtifactStore": ".fsspec_store", "S3ArtifactStore": ".s3"}


def open_store(url: str | Path) -> ArtifactStore:
    """The artifact store at ``url`` (see the module docstring)."""
    text = str(url)
    parsed = urlparse(text)
    if parsed.scheme == "file":
        return LocalArtifactStore(unquote(parsed.path))
    if "://" not in text:
        return LocalArtifactStore(text)
    if parsed.scheme in ("s3", "s3a"):
        from .s3 import S3ArtifactStore

        return S3ArtifactStore(text)
    from .fsspec_store import FsspecArtifactStore

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


def __getattr__(name: str) -> Any:
    module = _REMOTE.get(name)
    if module is None:
        raise AttributeError(f"module 'tessera_serving.store' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
