"""The artifact store on any fsspec filesystem (``memory://``, ``s3://``, ...).

Same layout and rules as the local store. Objects are written to a temporary key and
moved into place (a single PUT on object stores); an existing object is verified, never
replaced.
"""

from __future__ import annotations

import hashlib
import posixpath
import uuid
from pathlib import Path
from typing import Any

import fsspec

from tessera_contracts import sha256_file, sha256_stream
from tessera_serving.errors import ArtifactError

from .base import CHUNK_BYTES, check_ref_name, check_sha256, corrupt, missing, shard


def _hash_local(path: Path) -> str:
    return sha256_file(path)[0]


class FsspecArtifactStore:
    """Objects under ``url`` on an fsspec filesystem."""

    def __init__(self, url: str) -> None:
        self._url = url.rstrip("/")
        fs, root = fsspec.core.url_to_fs(self._url)
        self.fs: Any = fs
        self.root: str = str(root).rstrip("/")

    @property
    def url(self) -> str:
        return self._url

    def _key(self, sha256: str) -> str:
        return f"{self.root}/{shard(check_sha256(sha256))}"

    def _hash_key(self, key: str) -> str:
        with self.fs.open(key, "rb") as handle:
            return sha256_stream(handle)[0]

    def put_bytes(self, data: bytes) -> str:
        sha256 = hashlib.sha256(data).hexdigest()
        key = self._key(sha256)
        if self.fs.exists(key):
            self.verify(sha256)
            return sha256
        tmp = f"{self.root}/tmp/{sha256[:16]}.{uuid.uuid4().hex}.tmp"
        try:
            self.fs.pipe_file(tmp, data)
            if self.fs.exists(key):  # a concurrent writer won; keep its (verified) copy
                self.fs.rm_file(tmp)
                self.verify(sha256)
                return sha256
            self.fs.mv(tmp, key)
        except (OSError, ValueError) as exc:
            raise ArtifactError(f"cannot write artifact {sha256} to {self._url}: {exc}") from exc
        return sha256

    def restore(self, data: bytes) -> bool:
        sha256 = hashlib.sha256(data).hexdigest()
        key = self._key(sha256)
        if self.fs.exists(key):
            try:
                self.verify(sha256)
                return False
            except ArtifactError:
                try:  # corrupt: its bytes are worthless, the right ones are in hand
                    self.fs.rm_file(key)
                except OSError as exc:
                    raise ArtifactError(f"cannot replace corrupt artifact {key}: {exc}") from exc
        self.put_bytes(data)
        return True

    def put_file(self, path: Path) -> str:
        path = Path(path)
        try:
            with path.open("rb") as handle:
                sha256 = sha256_stream(handle)[0]
            key = self._key(sha256)
            if self.fs.exists(key):
                self.verify(sha256)
                return sha256
            tmp = f"{self.root}/tmp/{sha256[:16]}.{uuid.uuid4().hex}.tmp"
            self.fs.put_file(str(path), tmp)
        except OSError as exc:
            raise ArtifactError(f"{path}: cannot store: {exc.strerror or exc}") from exc
        if self._hash_key(tmp) != sha256:
            self.fs.rm_file(tmp)
            raise ArtifactError(f"{path}: content changed while it was being stored")
        if self.fs.exists(key):
            self.fs.rm_file(tmp)
            self.verify(sha256)
        else:
            self.fs.mv(tmp, key)
        return sha256

    def exists(self, sha256: str) -> bool:
        return bool(self.fs.isfile(self._key(sha256)))

    def verify(self, sha256: str) -> None:
        key = self._key(sha256)
        try:
            actual = self._hash_key(key)
        except FileNotFoundError:
            raise missing(sha256, self.uri(sha256)) from None
        if actual != sha256:
            raise corrupt(sha256, self.uri(sha256), actual)

    def read_bytes(self, sha256: str) -> bytes:
        key = self._key(sha256)
        try:
            data: bytes = self.fs.cat_file(key)
        except FileNotFoundError:
            raise missing(sha256, self.uri(sha256)) from None
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise corrupt(sha256, self.uri(sha256), actual)
        return data

    def fetch(self, sha256: str, dest_dir: Path) -> Path:
        dest_dir = Path(dest_dir)
        dest = dest_dir / check_sha256(sha256)
        if dest.is_file() and _hash_local(dest) == sha256:
            return dest
        dest_dir.mkdir(parents=True, exist_ok=True)
        tmp = dest_dir / f".{sha256[:16]}.{uuid.uuid4().hex}.tmp"
        try:
            digest = hashlib.sha256()
            try:
                with self.fs.open(self._key(sha256), "rb") as src, tmp.open("wb") as out:
                    while chunk := src.read(CHUNK_BYTES):
                        digest.update(chunk)
                        out.write(chunk)
            except FileNotFoundError:
                raise missing(sha256, self.uri(sha256)) from None
            if digest.hexdigest() != sha256:
                raise corrupt(sha256, self.uri(sha256), digest.hexdigest())
            tmp.replace(dest)
        finally:
            tmp.unlink(missing_ok=True)
        return dest

    def uri(self, sha256: str) -> str:
        return str(self.fs.unstrip_protocol(self._key(sha256)))

    def sha256_from_uri(self, uri: str) -> str:
        stripped = str(self.fs._strip_protocol(uri))
        name = posixpath.basename(stripped)
        try:
            check_sha256(name)
        except ArtifactError:
            raise ArtifactError(
                f"artifact URI {uri!r} does not name an object of {self._url}"
            ) from None
        normal = posixpath.normpath(stripped)
        if ".." in stripped.split("/") or normal != self._key(name):
            raise ArtifactError(f"artifact URI {uri!r} escapes the store {self._url}")
        return name

    def _ref_key(self, name: str) -> str:
        return f"{self.root}/refs/{check_ref_name(name)}"

    def write_ref(self, name: str, sha256: str) -> None:
        self.fs.pipe_file(self._ref_key(name), (check_sha256(sha256) + "\n").encode("ascii"))

    def read_ref(self, name: str) -> str | None:
        key = self._ref_key(name)
        try:
            value = bytes(self.fs.cat_file(key)).decode("ascii", "replace").strip()
        except FileNotFoundError:
            return None
        try:
            return check_sha256(value)
        except ArtifactError:
            raise ArtifactError(f"{self.uri_of_ref(name)}: ref {name!r} is not a sha256") from None

    def uri_of_ref(self, name: str) -> str:
        return str(self.fs.unstrip_protocol(self._ref_key(name)))
