"""Compile once, reuse everywhere, never trust a damaged cache entry."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from tessera_serving.backends import BackendSelection, select_predictor
from tessera_serving.backends.cache_manifest import REF_PREFIX
from tessera_serving.backends.equivalence import compare_scores
from tessera_serving.store import LocalArtifactStore, shard

from .conftest import Model


def _select(model: Model, store: LocalArtifactStore, cache_dir: Path) -> BackendSelection:
    return select_predictor(
        model.text, backend="compiled", num_threads=1, store=store, cache_dir=cache_dir
    )


def _fields(selection: BackendSelection) -> dict[str, Any]:
    (event,) = selection.events
    assert event.name == "backend.compiled", event
    return event.fields


def _assert_scores(selection: BackendSelection, model: Model) -> None:
    expected = model.reference(model.x_test)
    assert compare_scores(expected, selection.predictor.predict(model.x_test)).equivalent


def _manifest(store: LocalArtifactStore, key: str) -> dict[str, Any]:
    ref = store.read_ref(REF_PREFIX + key)
    assert ref is not None
    manifest: dict[str, Any] = json.loads(store.read_bytes(ref))
    return manifest


def test_first_use_builds_and_verifies_then_hits(
    sign_model: Model, store: LocalArtifactStore, cache_dir: Path
) -> None:
    first = _fields(_select(sign_model, store, cache_dir))
    assert first["cache"] == "built" and first["compile_seconds"] is not None
    assert first["sample_rows"] == 4096 and first["max_abs_diff"] <= 1e-9
    manifest = _manifest(store, first["cache_key"])
    assert manifest["equivalence"]["equivalent"] is True
    assert manifest["model_sha256"] == sign_model.sha256
    assert store.read_bytes(manifest["object_sha256"])  # the object is in the store, verified
    local = cache_dir / "objects" / f"{manifest['object_sha256']}.o"
    before = local.stat()

    second = _select(sign_model, store, cache_dir)
    fields = _fields(second)
    assert fields["cache"] == "hit" and fields["compile_seconds"] is None
    assert fields["cache_key"] == first["cache_key"]
    assert (local.stat().st_ino, local.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    _assert_scores(second, sign_model)


def test_cache_key_changes_with_the_model(
    sign_model: Model, rank_model: Model, store: LocalArtifactStore, cache_dir: Path
) -> None:
    a = _fields(_select(sign_model, store, cache_dir))["cache_key"]
    b = _fields(_select(rank_model, store, cache_dir))["cache_key"]
    assert a != b


_CHILD = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from tessera_serving.backends import select_predictor
    from tessera_serving.store import LocalArtifactStore
    model_file, store_dir, cache_dir, go = sys.argv[1:5]
    while not Path(go).exists():
        time.sleep(0.01)
    sel = select_predictor(Path(model_file).read_text(), backend="compiled", num_threads=1,
                           store=LocalArtifactStore(store_dir), cache_dir=Path(cache_dir))
    print(json.dumps(sel.events[0].fields))
    """
)


def _spawn(model_file: Path, store: LocalArtifactStore, cache_dir: Path, go: Path) -> Any:
    args = [sys.executable, "-c", _CHILD, str(model_file), str(store.root), str(cache_dir), str(go)]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _results(procs: list[Any]) -> list[dict[str, Any]]:
    out = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


def test_concurrent_first_uses_on_one_machine_compile_once(
    sign_model: Model, store: LocalArtifactStore, cache_dir: Path, tmp_path: Path
) -> None:
    model_file = tmp_path / "model.txt"
    model_file.write_text(sign_model.text)
    go = tmp_path / "go"
    procs = [_spawn(model_file, store, cache_dir, go) for _ in range(2)]
    time.sleep(0.5)  # both children are importing / polling; release them together
    go.touch()
    results = _results(procs)
    assert sorted(r["cache"] for r in results) == ["built", "hit"]
    assert len({r["object_sha256"] for r in results}) == 1
    # and this process, later, reuses it too
    assert _fields(_select(sign_model, store, cache_dir))["cache"] == "hit"


def test_two_machines_sharing_a_store_compile_at_most_twice_harmlessly(
    sign_model: Model, store: LocalArtifactStore, tmp_path: Path
) -> None:
    model_file = tmp_path / "model.txt"
    model_file.write_text(sign_model.text)
    go = tmp_path / "go"
    machines = [tmp_path / "machine-a", tmp_path / "machine-b"]
    procs = [_spawn(model_file, store, machine, go) for machine in machines]
    time.sleep(0.5)
    go.touch()
    results = _results(procs)
    assert len({r["object_sha256"] for r in results}) == 1
    # identical objects and identical manifests: one of each in the store
    assert store.read_ref(REF_PREFIX + results[0]["cache_key"]) is not None
    # a third machine fetches from the store instead of compiling
    third = _select(sign_model, store, tmp_path / "machine-c")
    assert _fields(third)["cache"] == "hit"
    _assert_scores(third, sign_model)


def test_corrupt_local_object_is_replaced_from_the_store(
    sign_model: Model, store: LocalArtifactStore, cache_dir: Path
) -> None:
    object_sha = _fields(_select(sign_model, store, cache_dir))["object_sha256"]
    local = cache_dir / "objects" / f"{object_sha}.o"
    data = bytearray(local.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)  # loading this would crash LLVM
    local.write_bytes(bytes(data))
    again = _select(sign_model, store, cache_dir)
    assert _fields(again)["cache"] == "hit"
    assert local.read_bytes() == store.read_bytes(object_sha)
    _assert_scores(again, sign_model)


def test_corrupt_store_blob_is_rebuilt(
    sign_model: Model, store: LocalArtifactStore, cache_dir: Path, tmp_path: Path
) -> None:
    object_sha = _fields(_select(sign_model, store, cache_dir))["object_sha256"]
    blob = store.root / shard(object_sha)
    blob.chmod(0o644)
    blob.write_bytes(b"\x7fELF truncated")
    other_machine = tmp_path / "other"
    rebuilt = _select(sign_model, store, other_machine)
    fields = _fields(rebuilt)
    assert fields["cache"] == "built"
    assert "unavailable" in fields["rebuilt_because"]
    assert "object not stored" in fields["rebuilt_because"]  # the store never overwrites
    assert fields["object_sha256"] == object_sha  # compilation is deterministic
    _assert_scores(rebuilt, sign_model)
    # that machine now serves from its verified local copy
    assert _fields(_select(sign_model, store, other_machine))["cache"] == "hit"


def test_corrupt_manifest_is_rebuilt(
    sign_model: Model, store: LocalArtifactStore, cache_dir: Path
) -> None:
    key = _fields(_select(sign_model, store, cache_dir))["cache_key"]
    ref = store.read_ref(REF_PREFIX + key)
    assert ref is not None
    blob = store.root / shard(ref)
    blob.chmod(0o644)
    blob.write_bytes(b"{not json")
    fields = _fields(_select(sign_model, store, cache_dir))
    assert fields["cache"] == "built" and "manifest" in fields["rebuilt_because"]


def test_an_object_that_loads_but_scores_wrong_is_rebuilt(
    sign_model: Model, store: LocalArtifactStore, cache_dir: Path
) -> None:
    # Another real model over the same four features: its object loads fine.
    rng = np.random.default_rng(9)
    x = rng.normal(size=(2000, 4))
    params = {"objective": "regression", "num_leaves": 5, "verbose": -1, "num_threads": 1}
    other_text = str(lgb.train(params, lgb.Dataset(x, x[:, 3]), 10).model_to_string())
    other = Model("other", other_text, sign_model.x_test, sign_model.groups)
    other_object = _fields(_select(other, store, cache_dir))["object_sha256"]
    key = _fields(_select(sign_model, store, cache_dir))["cache_key"]
    manifest = _manifest(store, key)
    (cache_dir / "objects" / f"{manifest['object_sha256']}.o").unlink()
    manifest["object_sha256"] = other_object
    forged = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    store.write_ref(REF_PREFIX + key, store.put_bytes(forged))
    fields = _fields(_select(sign_model, store, cache_dir))
    assert fields["cache"] == "built" and "scores differ" in fields["rebuilt_because"]
    assert fields["object_sha256"] != other_object
    assert _manifest(store, key)["object_sha256"] == fields["object_sha256"]
