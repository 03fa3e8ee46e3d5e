"""The recorder: real files hashed, counts checked, failures recorded, receipts written once."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tessera_contracts import ContractError, Receipt, canonical_json, load_receipt, sha256_file
from tessera_contracts.receipts import ReceiptRecorder, resolve_pipeline, resolve_run_id

PRODUCER = ("tessera-test", "1.0")
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TESSERA_RUN_ID", "TESSERA_PIPELINE", "TESSERA_RECEIPTS_DIR"):
        monkeypatch.delenv(name, raising=False)


def record_copy(src: Path, dst: Path, root: Path) -> Receipt:
    """A tiny real stage: copy a file, count its lines."""
    with ReceiptRecorder(stage="copy", producer=PRODUCER, root=root) as rec:
        rec.add_input(src, records=len(src.read_text().splitlines()))
        dst.write_bytes(src.read_bytes())
        rec.add_output(dst)
        n = len(dst.read_text().splitlines())
        rec.count(records_in=n, accepted=n)
    assert rec.receipt is not None
    return rec.receipt


def test_identical_stage_runs_give_identical_hashes(tmp_path: Path) -> None:
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        (tmp_path / run / "in.txt").write_text("x\ny\nz\n")
    first = record_copy(tmp_path / "a/in.txt", tmp_path / "a/out.txt", tmp_path / "a")
    second = record_copy(tmp_path / "b/in.txt", tmp_path / "b/out.txt", tmp_path / "b")
    assert first.run_id != second.run_id
    assert first.inputs == second.inputs
    assert first.outputs == second.outputs
    assert first.fingerprint == second.fingerprint
    assert first.inputs.files[0].path == "in.txt"
    assert first.inputs.files[0].sha256 == hashlib.sha256(b"x\ny\nz\n").hexdigest()
    assert (first.stats.records_in, first.stats.accepted) == (3, 3)
    assert first.validation.passed


def test_file_hashing_streams_large_files(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    data = os.urandom(3 * (1 << 20) + 17)
    path.write_bytes(data)
    assert sha256_file(path) == (hashlib.sha256(data).hexdigest(), len(data))
    with pytest.raises(ContractError, match=r"missing\.bin: cannot hash file"):
        sha256_file(tmp_path / "missing.bin")


def test_logical_paths(tmp_path: Path) -> None:
    inside, outside = tmp_path / "root" / "sub" / "f.txt", tmp_path / "other.txt"
    inside.parent.mkdir(parents=True)
    inside.write_text("1")
    outside.write_text("2")
    with ReceiptRecorder(stage="paths", producer=PRODUCER, root=tmp_path / "root") as rec:
        rec.add_input(inside)
        rec.add_input(outside)
        rec.add_input(inside, name="dataset/f.txt")
        rec.add_output_data("summary", {"b": 1, "a": [1, 2]}, records=2)
    assert rec.receipt is not None
    paths = [f.path for f in rec.receipt.inputs.files]
    assert paths == sorted(["sub/f.txt", outside.resolve().as_posix(), "dataset/f.txt"])
    data = rec.receipt.outputs.files[0]
    assert data.kind == "data"
    assert data.sha256 == hashlib.sha256(canonical_json({"a": [1, 2], "b": 1})).hexdigest()


def test_rejected_rows_add_up_and_fail_the_stage(tmp_path: Path) -> None:
    with ReceiptRecorder(stage="load", producer=PRODUCER, unit="rows", receipts_dir=tmp_path) as r:
        r.count(records_in=10, accepted=6, rejected=2, quarantined=1, skipped=1)
    receipt = load_receipt(tmp_path / "load.json")
    stats = receipt.stats
    assert stats.records_in == 10 == stats.accepted + stats.rejected + stats.quarantined + 1
    assert not receipt.validation.passed
    assert [e.class_ for e in receipt.validation.errors] == ["RejectedRecords"]
    assert receipt.validation.errors[0].message == "2 of 10 rows rejected"
    assert receipt.validation.warnings == ["1 of 10 rows quarantined"]
    assert r.written == [tmp_path / "load.json"]


def test_counts_that_do_not_add_up_raise_and_write_nothing(tmp_path: Path) -> None:
    with (
        pytest.raises(ContractError, match=r"receipt 'load': .*records_in 10 != accepted 3"),
        ReceiptRecorder(stage="load", producer=PRODUCER, receipts_dir=tmp_path) as rec,
    ):
        rec.count(records_in=10, accepted=3)
    assert list(tmp_path.iterdir()) == []


def test_an_exception_records_a_failed_receipt_and_propagates(tmp_path: Path) -> None:
    seen: list[Receipt] = []
    with (
        pytest.raises(KeyError, match="label"),
        ReceiptRecorder(
            stage="train", producer=PRODUCER, receipts_dir=tmp_path, sinks=[seen.append]
        ) as rec,
    ):
        rec.count(records_in=5, accepted=5)
        raise KeyError("label")
    receipt = load_receipt(tmp_path / "train.json")
    assert seen == [receipt]
    assert not receipt.validation.passed
    assert receipt.validation.errors[0].to_plain() == {"class": "KeyError", "message": "'label'"}


def test_a_receipt_error_during_an_exception_does_not_hide_it(tmp_path: Path) -> None:
    with (
        pytest.raises(RuntimeError, match="boom") as info,
        ReceiptRecorder(stage="train", producer=PRODUCER, receipts_dir=tmp_path) as rec,
    ):
        rec.count(records_in=1)
        raise RuntimeError("boom")
    assert "receipt could not be written" in "".join(info.value.__notes__)
    assert list(tmp_path.iterdir()) == []


def test_run_id_and_pipeline_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TESSERA_RUN_ID", "nightly-42")
    monkeypatch.setenv("TESSERA_PIPELINE", "quickstart")
    monkeypatch.setenv("TESSERA_RECEIPTS_DIR", str(tmp_path / "tree"))
    with ReceiptRecorder(stage="score", producer=PRODUCER, receipts_dir=tmp_path / "own") as rec:
        rec.count(accepted=1)
    assert rec.written == [
        tmp_path / "own" / "score.json",
        tmp_path / "tree" / "quickstart" / "nightly-42" / "score.json",
    ]
    assert load_receipt(rec.written[1]).run_id == "nightly-42"
    assert resolve_run_id("explicit") == "explicit"
    assert resolve_pipeline("other") == "other"
    monkeypatch.setenv("TESSERA_RUN_ID", "no spaces allowed")
    with pytest.raises(ContractError, match=r"\$TESSERA_RUN_ID 'no spaces allowed'"):
        ReceiptRecorder(stage="score", producer=PRODUCER)


def test_generated_run_ids_differ_and_default_pipeline() -> None:
    a = ReceiptRecorder(stage="s", producer=PRODUCER)
    b = ReceiptRecorder(stage="s", producer=PRODUCER)
    assert a.run_id != b.run_id
    assert a.pipeline == "default"


def test_git_commit_of_the_code(tmp_path: Path) -> None:
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False
    )
    rec = ReceiptRecorder(stage="s", producer=PRODUCER, code_dir=REPO)
    assert rec.git_commit == (head.stdout.strip() if head.returncode == 0 else None)
    assert ReceiptRecorder(stage="s", producer=PRODUCER, code_dir=tmp_path).git_commit is None
    assert ReceiptRecorder(stage="s", producer=PRODUCER).git_commit is None


def test_processes_of_one_run_share_the_run_id(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from tessera_contracts.receipts import ReceiptRecorder\n"
        "with ReceiptRecorder(stage=sys.argv[1], producer=('p', '1')) as rec:\n"
        "    rec.count(accepted=int(sys.argv[2]))\n"
    )
    env = {**os.environ, "TESSERA_RECEIPTS_DIR": str(tmp_path), "TESSERA_PIPELINE": "pipe"}
    env["TESSERA_RUN_ID"] = "run-1"
    for stage, n in (("first", "3"), ("second", "4")):
        subprocess.run([sys.executable, "-c", script, stage, n], env=env, check=True)
    written = sorted(p.name for p in (tmp_path / "pipe" / "run-1").iterdir())
    assert written == ["first.json", "second.json"]
    second = json.loads((tmp_path / "pipe" / "run-1" / "second.json").read_text())
    assert second["stats"]["accepted"] == 4
    assert second["run_id"] == "run-1"


def test_a_stage_run_twice_in_one_run_gets_a_numbered_receipt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TESSERA_RUN_ID", "run-1")
    monkeypatch.setenv("TESSERA_RECEIPTS_DIR", str(tmp_path))
    stages = []
    for n in (5, 6, 7):
        with ReceiptRecorder(stage="scoring", producer=PRODUCER) as rec:
            rec.count(accepted=n)
        assert rec.receipt is not None
        stages.append(rec.receipt.stage)
    assert stages == ["scoring", "scoring_2", "scoring_3"]
    run_dir = tmp_path / "default" / "run-1"
    assert load_receipt(run_dir / "scoring_2.json").stats.accepted == 6
