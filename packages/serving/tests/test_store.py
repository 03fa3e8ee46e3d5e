"""One conformance suite for every artifact store backend: local directory, fsspec memory, and
S3 on a real S3-protocol server on loopback (moto in server mode, see ``s3_server.py``)."""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tessera_serving.errors import ArtifactError
from tessera_serving.store import (
    ArtifactStore,
    FsspecArtifactStore,
    LocalArtifactStore,
    S3ArtifactStore,
    open_store,
    shard,
)


def _corrupt(store: ArtifactStore, sha256: str, data: bytes) -> None:
    """Overwrite an object's bytes behind the store's back (simulated bit rot)."""
    if isinstance(store, LocalArtifactStore):
        path = store.root / shard(sha256)
        path.chmod(0o644)
        path.write_bytes(data)
    else:
        assert isinstance(store, FsspecArtifactStore)
        store.fs.pipe_file(f"{store.root}/{shard(sha256)}", data)


def _delete(store: ArtifactStore, sha256: str) -> None:
    if isinstance(store, LocalArtifactStore):
        (store.root / shard(sha256)).unlink()
    else:
        assert isinstance(store, FsspecArtifactStore)
        store.fs.rm_file(f"{store.root}/{shard(sha256)}")


def _objects(store: ArtifactStore) -> list[str]:
    """Every object key under ``objects/`` (relative to the store's root)."""
    if isinstance(store, LocalArtifactStore):
        root = store.root
        return sorted(
            str(p.relative_to(root)) for p in (root / "objects").rglob("*") if p.is_file()
        )
    assert isinstance(store, FsspecArtifactStore)
    found = store.fs.find(f"{store.root}/objects")
    return sorted(
        str(key).removeprefix("/").removeprefix(f"{store.root.lstrip('/')}/") for key in found
    )


def _identity(store: ArtifactStore, sha256: str) -> tuple[object, ...]:
    """What changes if the object is written again (inode and mtime; fsspec's creation time)."""
    if isinstance(store, LocalArtifactStore):
        stat = (store.root / shard(sha256)).stat()
        return (stat.st_ino, stat.st_mtime_ns)
    assert isinstance(store, FsspecArtifactStore)
    info = store.fs.info(f"{store.root}/{shard(sha256)}")
    return (info.get("created") or info.get("LastModified"),)  # memory fs | S3


@pytest.fixture(params=["local", "memory", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ArtifactStore]:
    if request.param == "local":
        yield open_store(tmp_path / "store")
        return
    if request.param == "s3":
        opened_s3 = open_store(request.getfixturevalue("s3_url"))
        assert isinstance(opened_s3, S3ArtifactStore)
        yield opened_s3
        return
    url = f"memory://tessera-test-{uuid.uuid4().hex}"
    opened = open_store(url)
    assert isinstance(opened, FsspecArtifactStore)
    try:
        yield opened
    finally:
        if opened.fs.exists(opened.root):
            opened.fs.rm(opened.root, recursive=True)


class TestArtifactStoreConformance:
    def test_open_store_picks_the_backend(self, tmp_path: Path) -> None:
        assert isinstance(open_store(tmp_path), LocalArtifactStore)
        assert isinstance(open_store(tmp_path.as_uri()), LocalArtifactStore)
        assert isinstance(open_store("memory://x"), FsspecArtifactStore)
        assert not isinstance(open_store("memory://x"), S3ArtifactStore)
        assert isinstance(open_store("s3://bucket/prefix"), S3ArtifactStore)

    def test_put_bytes_returns_the_sha256_and_reads_back(self, store: ArtifactStore) -> None:
        data = b"tree=0\nleaf_value=0.5\n"
        sha = store.put_bytes(data)
        assert sha == hashlib.sha256(data).hexdigest()
        assert store.exists(sha)
        assert store.read_bytes(sha) == data
        store.verify(sha)

    def test_put_is_idempotent(self, store: ArtifactStore) -> None:
        """The same bytes twice: the same key, one object, and the first copy left in place."""
        first = store.put_bytes(b"same")
        stamp = _identity(store, first)
        second = store.put_bytes(b"same")
        assert first == second == hashlib.sha256(b"same").hexdigest()
        assert _objects(store) == [shard(first)]
        assert _identity(store, first) == stamp  # never rewritten

    def test_restore_rewrites_only_a_missing_or_corrupt_object(self, store: ArtifactStore) -> None:
        sha = store.put_bytes(b"booster")
        stamp = _identity(store, sha)
        assert store.restore(b"booster") is False and _identity(store, sha) == stamp
        _delete(store, sha)
        assert store.restore(b"booster") is True and store.read_bytes(sha) == b"booster"
        _corrupt(store, sha, b"bit rot")
        assert store.restore(b"booster") is True and store.read_bytes(sha) == b"booster"
        assert _objects(store) == [shard(sha)]

    def test_put_file_streams_a_large_file(self, store: ArtifactStore, tmp_path: Path) -> None:
        path = tmp_path / "big.bin"
        data = bytes(range(256)) * 20_000  # > one chunk
        path.write_bytes(data)
        sha = store.put_file(path)
        assert sha == hashlib.sha256(data).hexdigest()
        assert store.read_bytes(sha) == data

    def test_concurrent_puts_of_the_same_object_agree(
        self, store: ArtifactStore, tmp_path: Path
    ) -> None:
        data = bytes(range(256)) * 4_000
        path = tmp_path / "same.bin"
        path.write_bytes(data)
        barrier = threading.Barrier(8)
        results: list[str] = []
        errors: list[BaseException] = []

        def put(index: int) -> None:
            barrier.wait()
            try:
                sha = store.put_bytes(data) if index % 2 else store.put_file(path)
                results.append(sha)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=put, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert results == [hashlib.sha256(data).hexdigest()] * 8
        assert store.read_bytes(results[0]) == data

    def test_missing_object_is_an_artifact_error(self, store: ArtifactStore) -> None:
        sha = hashlib.sha256(b"never stored").hexdigest()
        assert not store.exists(sha)
        with pytest.raises(ArtifactError, match=f"{sha} is missing"):
            store.read_bytes(sha)
        with pytest.raises(ArtifactError, match="missing"):
            store.verify(sha)

    def test_corrupt_object_is_detected_on_read(self, store: ArtifactStore) -> None:
        sha = store.put_bytes(b"original")
        _corrupt(store, sha, b"tampered")
        with pytest.raises(ArtifactError, match="corrupt"):
            store.read_bytes(sha)
        with pytest.raises(ArtifactError, match="corrupt"):
            store.verify(sha)

    def test_existing_corrupt_object_is_never_overwritten(self, store: ArtifactStore) -> None:
        sha = store.put_bytes(b"original")
        _corrupt(store, sha, b"tampered")
        with pytest.raises(ArtifactError, match="corrupt"):
            store.put_bytes(b"original")
        _delete(store, sha)
        assert store.put_bytes(b"original") == sha
        assert store.read_bytes(sha) == b"original"

    def test_fetch_gives_a_verified_local_copy(self, store: ArtifactStore, tmp_path: Path) -> None:
        sha = store.put_bytes(b"model text")
        dest = store.fetch(sha, tmp_path / "cache")
        assert dest == tmp_path / "cache" / sha
        assert dest.read_bytes() == b"model text"
        dest.write_bytes(b"stale")
        assert store.fetch(sha, tmp_path / "cache").read_bytes() == b"model text"

    def test_fetch_refuses_a_corrupt_object(self, store: ArtifactStore, tmp_path: Path) -> None:
        sha = store.put_bytes(b"model text")
        _corrupt(store, sha, b"bad")
        with pytest.raises(ArtifactError, match="corrupt"):
            store.fetch(sha, tmp_path / "cache")
        assert not (tmp_path / "cache" / sha).exists()

    def test_uri_round_trips_and_other_uris_are_refused(self, store: ArtifactStore) -> None:
        sha = store.put_bytes(b"x")
        assert store.sha256_from_uri(store.uri(sha)) == sha
        escaping = store.uri(sha).replace(f"/objects/{sha[:2]}/", f"/objects/{sha[:2]}/../../")
        with pytest.raises(ArtifactError, match=r"escapes|does not name"):
            store.sha256_from_uri(escaping)
        with pytest.raises(ArtifactError):
            store.sha256_from_uri("file:///etc/passwd")
        other = store.uri(sha).replace(f"objects/{sha[:2]}", "objects/zz")
        with pytest.raises(ArtifactError, match="escapes"):
            store.sha256_from_uri(other)

    def test_bad_keys_are_refused(self, store: ArtifactStore) -> None:
        for key in ["../../etc/passwd", "ABC", "0" * 63, "g" * 64]:
            with pytest.raises(ArtifactError, match="64 lowercase hex"):
                store.exists(key)

    def test_refs_are_mutable_and_validated(self, store: ArtifactStore) -> None:
        first, second = store.put_bytes(b"1"), store.put_bytes(b"2")
        assert store.read_ref("compiled-abc") is None
        store.write_ref("compiled-abc", first)
        assert store.read_ref("compiled-abc") == first
        store.write_ref("compiled-abc", second)
        assert store.read_ref("compiled-abc") == second
        for bad in ["../escape", "a/b", "..", "", ".hidden", "a..b"]:
            with pytest.raises(ArtifactError, match="ref name"):
                store.write_ref(bad, first)
            with pytest.raises(ArtifactError, match="ref name"):
                store.read_ref(bad)
        with pytest.raises(ArtifactError, match="64 lowercase hex"):
            store.write_ref("ok", "not-a-sha")


def test_s3_never_replaces_an_existing_object(s3_url: str) -> None:
    """The write itself is conditional: bytes written under an existing key are refused by
    the server, so the first object stays even if a writer raced past the existence check."""
    store = open_store(s3_url)
    assert isinstance(store, S3ArtifactStore)
    sha = store.put_bytes(b"original")
    key = f"{store.root}/{shard(sha)}"
    bucket, _, path = key.partition("/")
    with pytest.raises(FileExistsError):
        store.fs.call_s3("put_object", Bucket=bucket, Key=path, Body=b"x", IfNoneMatch="*")
    assert store.read_bytes(sha) == b"original"


def test_s3_large_file_goes_up_in_parts_and_leaves_nothing_else(
    s3_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tessera_serving.store import s3

    monkeypatch.setattr(s3, "SINGLE_PUT_BYTES", 1 << 20)
    monkeypatch.setattr(s3, "PART_BYTES", 5 << 20)  # S3's smallest part
    data = hashlib.sha256(b"seed").digest() * (12 << 20 >> 5)  # 12 MiB -> 3 parts
    path = tmp_path / "large.bin"
    path.write_bytes(data)
    store = open_store(s3_url)
    assert isinstance(store, S3ArtifactStore)
    sha = store.put_file(path)
    assert sha == hashlib.sha256(data).hexdigest()
    assert store.fetch(sha, tmp_path / "copy").read_bytes() == data
    assert store.put_file(path) == sha  # again: found and verified, not uploaded twice
    assert store.fs.find(store.root) == [f"{store.root}/{shard(sha)}"]
    bucket = store.root.partition("/")[0]
    assert store.fs.call_s3("list_multipart_uploads", Bucket=bucket).get("Uploads", []) == []


def test_s3_missing_bucket_is_one_line_artifact_error(s3_url: str) -> None:
    store = open_store(s3_url.replace("s3://", "s3://no-such-"))
    with pytest.raises(ArtifactError, match=r"cannot write artifact .* to s3://no-such-"):
        store.put_bytes(b"data")


def test_local_store_leaves_no_temp_files_and_read_only_objects(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "store")
    sha = store.put_bytes(b"data")
    files = sorted(
        p.relative_to(store.root).as_posix() for p in store.root.rglob("*") if p.is_file()
    )
    assert files == [shard(sha)]
    assert (store.root / shard(sha)).stat().st_mode & 0o222 == 0
