"""The artifact store on S3 (or any S3-compatible service) through s3fs.

Credentials, region and endpoint come from the standard AWS sources (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_DEFAULT_REGION``,
``AWS_ENDPOINT_URL``, profiles), so the same URL works against AWS, MinIO or a test server.

Never overwriting rests on the server, not on a check-then-write: every object is written
straight to its final key with ``If-None-Match: *``, so of two concurrent writers exactly one
creates the object and the other finds it and verifies it. A single PUT carries the body's
SHA-256 for the server to check; a large file goes up in parts whose bytes are hashed as
they are sent, and the upload is completed only if they hash to the key (else aborted, so a
file that changed mid-upload never becomes an object).
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from tessera_serving.errors import ArtifactError

from .base import CHUNK_BYTES, check_sha256
from .fsspec_store import FsspecArtifactStore

SINGLE_PUT_BYTES = 64 << 20
"""Files up to this size go up in one PUT; larger ones in parts of ``PART_BYTES``."""
PART_BYTES = 16 << 20


def _s3_filesystem() -> Any:
    try:
        import s3fs
    except ImportError:
        raise ArtifactError(
            "an s3:// artifact store needs s3fs: install tessera-serving[s3]"
        ) from None
    # A fresh client per store: the endpoint and credentials are read from the environment
    # now, not reused from an earlier store opened under other settings.
    return s3fs.S3FileSystem(skip_instance_cache=True)


class S3ArtifactStore(FsspecArtifactStore):
    """Objects under ``s3://bucket/prefix``; see the module docstring."""

    def __init__(self, url: str) -> None:
        self._url = url.rstrip("/")
        self.fs: Any = _s3_filesystem()
        self.root = str(self.fs._strip_protocol(self._url)).rstrip("/")
        if not self.root:
            raise ArtifactError(f"artifact store URL {url!r} names no bucket")

    def _split(self, key: str) -> tuple[str, str]:
        bucket, _, path = key.partition("/")
        return bucket, path

    def _call(self, method: str, key: str, **kwargs: Any) -> Any:
        bucket, path = self._split(key)
        return self.fs.call_s3(method, Bucket=bucket, Key=path, **kwargs)

    def exists(self, sha256: str) -> bool:
        try:
            self._call("head_object", self._key(sha256))
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise ArtifactError(f"cannot reach the artifact store {self._url}: {exc}") from exc
        return True

    def _created(self, sha256: str, create: Any) -> str:
        """Run ``create()`` (a conditional write); if the object already exists, verify it."""
        try:
            if not self.exists(sha256):
                create()
                return sha256
        except FileExistsError:
            pass  # another writer created it first: theirs stays, and must be the same bytes
        except OSError as exc:
            raise ArtifactError(f"cannot write artifact {sha256} to {self._url}: {exc}") from exc
        self.verify(sha256)
        return sha256

    def put_bytes(self, data: bytes) -> str:
        digest = hashlib.sha256(data)
        sha256 = digest.hexdigest()
        checksum = base64.b64encode(digest.digest()).decode("ascii")
        key = self._key(sha256)

        def create() -> None:
            self._call("put_object", key, Body=data, IfNoneMatch="*", ChecksumSHA256=checksum)

        return self._created(sha256, create)

    def put_file(self, path: Path) -> str:
        path = Path(path)
        try:
            size = path.stat().st_size
            if size <= SINGLE_PUT_BYTES:
                return self.put_bytes(path.read_bytes())
            digest = hashlib.sha256()
            with path.open("rb") as handle:
                while chunk := handle.read(CHUNK_BYTES):
                    digest.update(chunk)
        except OSError as exc:
            raise ArtifactError(f"{path}: cannot read: {exc.strerror or exc}") from exc
        sha256 = digest.hexdigest()
        return self._created(sha256, lambda: self._multipart(path, sha256))

    def _multipart(self, path: Path, sha256: str) -> None:
        key = self._key(check_sha256(sha256))
        upload = self._call("create_multipart_upload", key)["UploadId"]
        try:
            parts: list[dict[str, Any]] = []
            sent = hashlib.sha256()
            with path.open("rb") as handle:
                while chunk := handle.read(PART_BYTES):
                    sent.update(chunk)
                    number = len(parts) + 1
                    out = self._call(
                        "upload_part", key, UploadId=upload, PartNumber=number, Body=chunk
                    )
                    parts.append({"PartNumber": number, "ETag": out["ETag"]})
            if sent.hexdigest() != sha256:
                raise ArtifactError(f"{path}: content changed while it was being stored")
            self._call(
                "complete_multipart_upload",
                key,
                UploadId=upload,
                MultipartUpload={"Parts": parts},
                IfNoneMatch="*",
            )
        except BaseException:
            self._call("abort_multipart_upload", key, UploadId=upload)
            raise

    def write_ref(self, name: str, sha256: str) -> None:
        data = (check_sha256(sha256) + "\n").encode("ascii")
        try:
            self._call("put_object", self._ref_key(name), Body=data)
        except OSError as exc:
            raise ArtifactError(f"cannot write ref {name!r} to {self._url}: {exc}") from exc
