"""Compile once per (model, compiler, CPU): the compiled-object cache in the artifact store.

Layout. The cache key is the sha256 of canonical JSON naming the model's sha256, the
compiler (lleaves, llvmlite, LLVM versions), the CPU target (triple, name, features) and
the compile options. The named ref ``compiled-<key>`` points at a small JSON *manifest*
blob; the manifest names the object blob by its content sha256 and keeps the equivalence
verdict and LightGBM's scores for the first rows of the probe sample. Manifests hold no
timings, so two processes that compile the same model concurrently write identical bytes.

Trust chain. LLVM aborts the process on a malformed object, so an object is loaded only if
its bytes hash to the sha256 in a manifest that was written after that very object loaded
and matched LightGBM. After loading, the compiled scores on the check rows must equal the
manifest's; any failure (bad ref, bad manifest, corrupt blob or local file, wrong scores)
rebuilds the entry. Within one machine a file lock makes concurrent first uses compile
once; across machines they compile harmlessly twice (same blob, same manifest).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from tessera_contracts import canonical_json
from tessera_serving.errors import ArtifactError

from .base import FloatMatrix, FloatVector
from .cache_manifest import (
    REF_PREFIX,
    CacheEntry,
    CacheStore,
    build_manifest,
    cache_key,
)
from .compat import REWRITE_VERSION, lightgbm_compatible_text
from .compiled import CompiledPredictor, CompilerIdentity, compile_object
from .equivalence import ABS_TOLERANCE, compare_scores
from .model_info import ModelInfo
from .sample import DEFAULT_SAMPLE_ROWS, DEFAULT_SAMPLE_SEED, synthesise_sample

MAX_GENERATIONS = 3


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _CorruptEntry(Exception):
    """A cache entry failed a check; the message says which."""


@contextmanager
def _lock(path: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # no flock (Windows): concurrent first uses compile twice, harmlessly
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class CompileCache:
    """Compiled objects for one store, materialised under a local cache directory."""

    def __init__(self, store: CacheStore, cache_dir: Path, identity: CompilerIdentity) -> None:
        self._store = store
        self._dir = Path(cache_dir)
        self._identity = identity

    def model_path(self, model_text: str, model_sha256: str) -> Path:
        """The compiler's input as a local file: the model text after ``compat``'s rewrite."""
        path = self._dir / "models" / f"{model_sha256}.v{REWRITE_VERSION}.txt"
        data = lightgbm_compatible_text(model_text).encode("utf-8")
        if not path.is_file() or path.read_bytes() != data:
            _atomic_write(path, data)
        return path

    def get_or_build(
        self,
        model_text: str,
        model_sha256: str,
        *,
        reference_scores: Callable[[FloatMatrix], FloatVector],
        num_threads: int,
        feature_names: tuple[str, ...],
        info: ModelInfo,
    ) -> CacheEntry:
        """Load the cached compiled model, or compile, verify and cache it.

        ``reference_scores(matrix)`` returns LightGBM's scores; it is called only on a build.
        """
        key = cache_key(model_sha256, self._identity)
        model_path = self.model_path(model_text, model_sha256)
        with _lock(self._dir / "locks" / f"{key}.lock"):
            rebuilt_because: str | None = None
            try:
                manifest = self._read_manifest(key, model_sha256)
            except _CorruptEntry as exc:
                manifest, rebuilt_because = None, str(exc)
            if manifest is not None:
                start = time.perf_counter()
                try:
                    predictor = self._load_verified(
                        manifest, model_path, info, feature_names, num_threads
                    )
                    elapsed = time.perf_counter() - start
                    return CacheEntry(key, manifest, predictor, "hit", None, elapsed, None)
                except _CorruptEntry as exc:
                    rebuilt_because = str(exc)
            return self._build(
                key,
                model_sha256,
                model_path,
                info,
                feature_names,
                num_threads,
                reference_scores,
                rebuilt_because,
            )

    def _read_manifest(self, key: str, model_sha256: str) -> dict[str, Any] | None:
        ref = self._store.read_ref(REF_PREFIX + key)
        if ref is None:
            return None
        try:
            manifest: dict[str, Any] = json.loads(self._store.read_bytes(ref))
        except Exception as exc:  # a corrupt or unreadable blob is rebuilt, never trusted
            raise _CorruptEntry(f"manifest {ref[:12]} unreadable: {exc}") from None
        if manifest.get("key") != key or manifest.get("model_sha256") != model_sha256:
            raise _CorruptEntry(f"manifest {ref[:12]} does not describe cache key {key[:12]}")
        return manifest

    def _local_object(self, object_sha256: str) -> Path:
        path = self._dir / "objects" / f"{object_sha256}.o"
        if path.is_file() and _sha256(path.read_bytes()) == object_sha256:
            return path
        path.unlink(missing_ok=True)
        try:
            fetched = self._store.fetch(object_sha256, path.parent)
        except Exception as exc:
            raise _CorruptEntry(f"object {object_sha256[:12]} unavailable: {exc}") from None
        if fetched != path:
            Path(fetched).replace(path)
        if _sha256(path.read_bytes()) != object_sha256:  # never hand LLVM unverified bytes
            path.unlink(missing_ok=True)
            raise _CorruptEntry(f"object {object_sha256[:12]} does not match its sha256")
        return path

    def _load_verified(
        self,
        manifest: dict[str, Any],
        model_path: Path,
        info: ModelInfo,
        feature_names: tuple[str, ...],
        num_threads: int,
    ) -> CompiledPredictor | None:
        if not manifest["equivalence"]["equivalent"]:
            return None  # a cached "not equivalent" verdict: serve with LightGBM, no recompile
        object_path = self._local_object(str(manifest["object_sha256"]))
        predictor = CompiledPredictor(
            model_path, object_path, feature_names=feature_names, num_threads=num_threads
        )
        check = manifest["check"]
        sample = synthesise_sample(info, rows=DEFAULT_SAMPLE_ROWS, seed=int(check["seed"]))
        expected = np.array([float.fromhex(v) for v in check["expected_hex"]])
        got = predictor.predict(sample[: len(expected)])
        if not compare_scores(expected, got, tolerance=float(check["tolerance"])).equivalent:
            object_path.unlink(missing_ok=True)
            raise _CorruptEntry(f"object {manifest['object_sha256'][:12]} scores differ")
        return predictor

    def _put_manifest(self, manifest: dict[str, Any]) -> str:
        """Store the manifest; if a corrupt blob holds its sha256 (the store never replaces
        one), store it again with a bumped ``generation`` so it gets a new address."""
        for generation in range(MAX_GENERATIONS):
            if generation:
                manifest["generation"] = generation
            try:
                return self._store.put_bytes(canonical_json(manifest))
            except ArtifactError:
                if generation == MAX_GENERATIONS - 1:
                    raise
        raise AssertionError("unreachable")

    def _build(
        self,
        key: str,
        model_sha256: str,
        model_path: Path,
        info: ModelInfo,
        feature_names: tuple[str, ...],
        num_threads: int,
        reference_scores: Callable[[FloatMatrix], FloatVector],
        rebuilt_because: str | None,
    ) -> CacheEntry:
        tmp_dir = self._dir / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=tmp_dir) as work:
            start = time.perf_counter()
            data = compile_object(model_path, Path(work) / "model.o")
            compile_seconds = time.perf_counter() - start
            object_sha256 = _sha256(data)
            object_path = self._dir / "objects" / f"{object_sha256}.o"
            _atomic_write(object_path, data)
        start = time.perf_counter()
        predictor = CompiledPredictor(
            model_path, object_path, feature_names=feature_names, num_threads=num_threads
        )
        load_seconds = time.perf_counter() - start
        sample = synthesise_sample(info, rows=DEFAULT_SAMPLE_ROWS, seed=DEFAULT_SAMPLE_SEED)
        expected = np.asarray(reference_scores(sample), dtype=np.float64)
        report = compare_scores(expected, predictor.predict(sample), tolerance=ABS_TOLERANCE)
        manifest = build_manifest(
            key, model_sha256, self._identity, object_sha256, len(data), report, expected
        )
        if report.equivalent:
            try:
                self._store.put_bytes(data)
            except ArtifactError as exc:
                # The store keeps a corrupt copy under this sha256 and never overwrites it;
                # the verified local object still serves, and other machines rebuild.
                note = f"object not stored: {exc}"
                rebuilt_because = f"{rebuilt_because}; {note}" if rebuilt_because else note
        self._store.write_ref(REF_PREFIX + key, self._put_manifest(manifest))
        return CacheEntry(
            key,
            manifest,
            predictor if report.equivalent else None,
            "built",
            compile_seconds,
            load_seconds,
            rebuilt_because,
        )
