"""The local-directory artifact store: temp file, fsync, hard-link into place, never overwrite.

Layout under the root: ``objects/ab/abcdef...`` (content-addressed, immutable),
``refs/<name>`` (mutable, replaced atomically) and ``tmp/`` (staging for streamed files).
``os.link`` fails if the target exists, so a concurrent writer can never replace an object.
A writer killed mid-write leaves only a dot-named staging file, never an addressable object;
the next put of the same content removes it once it is an hour old.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlparse

from tessera_contracts import sha256_stream
from tessera_serving.errors import ArtifactError
from tessera_serving.testhooks import pause_point

from .base import CHUNK_BYTES, check_ref_name, check_sha256, corrupt, missing, shard


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _hash_file(path: Path) -> str:
    """The file's sha256; ``OSError`` propagates for the caller to name the artifact."""
    with path.open("rb") as handle:
        return sha256_stream(handle)[0]


STALE_TEMP_S = 3600.0
"""A staging file untouched this long belongs to a writer that died; the next put removes it."""


def _remove_stale_temps(directory: Path, sha256: str) -> None:
    cutoff = time.time() - STALE_TEMP_S
    for path in directory.glob(f".{sha256[:16]}.*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_mtime < cutoff:
                path.unlink()


def _chunks_of(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), CHUNK_BYTES):
        yield data[start : start + CHUNK_BYTES]


class LocalArtifactStore:
    """Objects in a local directory; see the module docstring for the layout."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().absolute()

    @property
    def url(self) -> str:
        return str(self.root)

    def _path(self, sha256: str) -> Path:
        return self.root / shard(check_sha256(sha256))

    def put_bytes(self, data: bytes) -> str:
        sha256 = hashlib.sha256(data).hexdigest()
        self._install(sha256, _chunks_of(data))
        return sha256

    def restore(self, data: bytes) -> bool:
        sha256 = hashlib.sha256(data).hexdigest()
        target = self._path(sha256)
        if target.exists():
            try:
                self.verify(sha256)
                return False
            except ArtifactError:
                try:  # corrupt: its bytes are worthless, the right ones are in hand
                    target.unlink(missing_ok=True)
                except OSError as exc:
                    raise ArtifactError(f"{target}: cannot replace corrupt object: {exc}") from exc
        self._install(sha256, _chunks_of(data))
        return True

    def put_file(self, path: Path) -> str:
        path = Path(path)
        try:
            sha256 = _hash_file(path)
        except OSError as exc:
            raise ArtifactError(f"{path}: cannot read: {exc.strerror or exc}") from exc

        def chunks() -> Iterator[bytes]:
            with path.open("rb") as handle:
                while chunk := handle.read(CHUNK_BYTES):
                    yield chunk

        self._install(sha256, chunks())
        return sha256

    def _install(self, sha256: str, chunks: Iterator[bytes]) -> None:
        """Write ``chunks`` to a temp file beside the target, verify, fsync, link into place."""
        target = self._path(sha256)
        if target.exists():
            self.verify(sha256)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temps(target.parent, sha256)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{sha256[:16]}.", suffix=".tmp", dir=target.parent)
        tmp = Path(tmp_name)
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as handle:
                for index, chunk in enumerate(chunks):
                    digest.update(chunk)
                    handle.write(chunk)
                    if index == 0:
                        handle.flush()
                        pause_point("store.write")
                handle.flush()
                os.fsync(handle.fileno())
            tmp.chmod(0o444)
            if digest.hexdigest() != sha256:
                raise ArtifactError(
                    f"content changed while storing artifact {sha256} "
                    f"(now hashes to {digest.hexdigest()})"
                )
            try:
                os.link(tmp, target)
            except FileExistsError:
                self.verify(sha256)  # a concurrent writer won; its copy must be the same bytes
            _fsync_dir(target.parent)
        except OSError as exc:
            raise ArtifactError(f"cannot write artifact {sha256} under {self.root}: {exc}") from exc
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def exists(self, sha256: str) -> bool:
        return self._path(sha256).is_file()

    def verify(self, sha256: str) -> None:
        path = self._path(sha256)
        try:
            actual = _hash_file(path)
        except FileNotFoundError:
            raise missing(sha256, str(path)) from None
        except OSError as exc:
            raise ArtifactError(f"{path}: cannot read artifact: {exc.strerror or exc}") from exc
        if actual != sha256:
            raise corrupt(sha256, str(path), actual)

    def read_bytes(self, sha256: str) -> bytes:
        path = self._path(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise missing(sha256, str(path)) from None
        except OSError as exc:
            raise ArtifactError(f"{path}: cannot read artifact: {exc.strerror or exc}") from exc
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise corrupt(sha256, str(path), actual)
        return data

    def fetch(self, sha256: str, dest_dir: Path) -> Path:
        dest_dir = Path(dest_dir)
        dest = dest_dir / check_sha256(sha256)
        if dest.is_file() and _hash_file(dest) == sha256:
            return dest
        self.verify(sha256)
        dest_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{sha256[:16]}.", suffix=".tmp", dir=dest_dir)
        os.close(fd)
        try:
            shutil.copyfile(self._path(sha256), tmp_name)
            if _hash_file(Path(tmp_name)) != sha256:
                raise corrupt(sha256, tmp_name, _hash_file(Path(tmp_name)))
            Path(tmp_name).replace(dest)
        finally:
            with contextlib.suppress(FileNotFoundError):
                Path(tmp_name).unlink()
        return dest

    def uri(self, sha256: str) -> str:
        return self._path(sha256).as_uri()

    def sha256_from_uri(self, uri: str) -> str:
        parsed = urlparse(uri)
        raw = unquote(parsed.path) if parsed.scheme == "file" else uri
        if parsed.scheme not in ("", "file"):
            raise ArtifactError(f"artifact URI {uri!r} is not in the local store {self.root}")
        candidate = Path(os.path.normpath(raw))
        name = candidate.name
        try:
            check_sha256(name)
        except ArtifactError:
            raise ArtifactError(
                f"artifact URI {uri!r} does not name an object of {self.root}"
            ) from None
        if candidate != self._path(name) or ".." in Path(raw).parts:
            raise ArtifactError(f"artifact URI {uri!r} escapes the store {self.root}")
        return name

    def _ref_path(self, name: str) -> Path:
        return self.root / "refs" / check_ref_name(name)

    def write_ref(self, name: str, sha256: str) -> None:
        path = self._ref_path(name)
        check_sha256(sha256)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(sha256 + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            Path(tmp_name).replace(path)
            _fsync_dir(path.parent)
        finally:
            with contextlib.suppress(FileNotFoundError):
                Path(tmp_name).unlink()

    def read_ref(self, name: str) -> str | None:
        path = self._ref_path(name)
        try:
            value = path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise ArtifactError(f"{path}: cannot read ref {name!r}: {exc}") from exc
        try:
            return check_sha256(value)
        except ArtifactError:
            raise ArtifactError(
                f"{path}: ref {name!r} holds {value[:80]!r}, not a sha256"
            ) from None
