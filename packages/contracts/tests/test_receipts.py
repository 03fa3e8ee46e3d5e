"""The receipt model: aggregate hash, strict counts and verdicts, fingerprint, validated writes."""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from tessera_contracts import (
    ContractError,
    ErrorEntry,
    FileRef,
    FileSet,
    Receipt,
    RecordStats,
    Validation,
    aggregate_sha256,
    load_receipt,
    receipt_fingerprint,
)
from tessera_contracts._schemas import SCHEMA_DIR
from tessera_contracts.receipts import load_receipts, write_receipt


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def reference_aggregate(entries: list[tuple[str, str]]) -> str:
    """The aggregate as the docstring defines it, re-implemented from the text."""
    lines = sorted(f"{sha(path)}\0{content}\n" for path, content in entries)
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def file_ref(path: str, content: str, records: int | None = 1) -> FileRef:
    return FileRef(path=path, kind="file", sha256=sha(content), bytes=len(content), records=records)


def receipt_doc(**changes: Any) -> dict[str, Any]:
    """A valid receipt document (plain JSON data) with its fingerprint computed."""
    doc: dict[str, Any] = {
        "receipt_format": 1,
        "run_id": "20240701T120000Z-0a1b2c3d",
        "pipeline": "quickstart",
        "stage": "training",
        "started_at": "2024-07-01T12:00:00Z",
        "finished_at": "2024-07-01T12:00:05Z",
        "duration_s": 5.0,
        "git_commit": "dddbf4e",
        "producer": {"name": "tessera-lab", "version": "0.1.0"},
        "parameters": {"seed": 7},
        "inputs": FileSet.of([file_ref("dataset/train.parquet", "rows")]).to_plain(),
        "outputs": FileSet.of([file_ref("run/model.txt", "trees")]).to_plain(),
        "stats": {
            "unit": "rows",
            "records_in": 10,
            "accepted": 7,
            "rejected": 0,
            "quarantined": 1,
            "skipped": 2,
        },
        "validation": {"passed": True, "errors": [], "warnings": ["1 of 10 rows quarantined"]},
    }
    doc.update(changes)
    doc["fingerprint"] = receipt_fingerprint(doc)
    return doc


def test_aggregate_matches_the_documented_definition() -> None:
    entries = [("a.parquet", sha("A")), ("b/c.txt", sha("C")), ("ü.json", sha("U"))]
    assert aggregate_sha256(entries) == reference_aggregate(entries)
    assert aggregate_sha256([]) == hashlib.sha256(b"").hexdigest()


def test_aggregate_does_not_depend_on_order() -> None:
    entries = [(f"f{i}", sha(str(i))) for i in range(4)]
    hashes = {aggregate_sha256(list(p)) for p in itertools.permutations(entries)}
    assert len(hashes) == 1


def test_aggregate_distinguishes_path_from_content() -> None:
    base = aggregate_sha256([("a", sha("1")), ("b", sha("2"))])
    swapped = aggregate_sha256([("a", sha("2")), ("b", sha("1"))])
    renamed = aggregate_sha256([("a", sha("1")), ("c", sha("2"))])
    changed = aggregate_sha256([("a", sha("1")), ("b", sha("3"))])
    assert len({base, swapped, renamed, changed}) == 4
    # A path that looks like a hash and the separator cannot be confused with content.
    assert aggregate_sha256([("x\0" + sha("1"), sha("2"))]) != aggregate_sha256([("x", sha("1"))])


def test_file_set_checks_its_aggregate_and_paths() -> None:
    files = [file_ref("a", "1"), file_ref("b", "2")]
    good = FileSet.of(files)
    assert [f.path for f in good.files] == ["a", "b"]
    with pytest.raises(ValueError, match="does not match the files"):
        FileSet(files=files, aggregate_sha256="0" * 64)
    with pytest.raises(ValueError, match="duplicate paths in file set: \\['a'\\]"):
        FileSet.of([file_ref("a", "1"), file_ref("a", "2")])


def test_stats_must_add_up() -> None:
    RecordStats(unit="rows", records_in=6, accepted=3, rejected=1, quarantined=1, skipped=1)
    with pytest.raises(ValueError, match=r"records_in 7 != accepted 3 .* \(= 6\)"):
        RecordStats(unit="rows", records_in=7, accepted=3, rejected=1, quarantined=1, skipped=1)
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        RecordStats(unit="rows", records_in=0, accepted=-1, rejected=1, quarantined=0, skipped=0)


def test_validation_passes_exactly_without_errors() -> None:
    error = ErrorEntry(class_="SchemaMismatch", message="live sha differs")
    Validation(passed=False, errors=[error], warnings=[])
    with pytest.raises(ValueError, match=r"validation\.passed is True but 1 error"):
        Validation(passed=True, errors=[error], warnings=[])
    with pytest.raises(ValueError, match=r"validation\.passed is False but 0 error"):
        Validation(passed=False, errors=[], warnings=["only a warning"])


def test_error_entries_serialise_their_class_as_class() -> None:
    entry = ErrorEntry.model_validate({"class": "ValueError", "message": "bad"})
    assert entry.class_ == "ValueError"
    assert entry.to_plain() == {"class": "ValueError", "message": "bad"}
    schema = json.loads((SCHEMA_DIR / "receipt.schema.json").read_text(encoding="utf-8"))
    assert schema["$defs"]["ErrorEntry"]["required"] == ["class", "message"]


def test_a_valid_receipt_round_trips(tmp_path: Path) -> None:
    receipt = Receipt.model_validate(receipt_doc())
    path = write_receipt(receipt, tmp_path / "receipts")
    assert path == tmp_path / "receipts" / "training.json"
    assert load_receipt(path) == receipt
    assert json.loads(path.read_text())["fingerprint"] == receipt.fingerprint
    assert [p.name for p in path.parent.iterdir()] == ["training.json"]  # no temp file left


def test_the_fingerprint_ignores_run_id_and_wall_clock_only() -> None:
    base = receipt_doc()
    other_run = receipt_doc(
        run_id="20250101T000000Z-ffffffff",
        started_at="2025-01-01T00:00:00Z",
        finished_at="2025-01-01T01:00:00Z",
        duration_s=3600.0,
    )
    assert base["fingerprint"] == other_run["fingerprint"]
    for field, value in [
        ("stage", "evaluation"),
        ("git_commit", None),
        ("parameters", {"seed": 8}),
        ("producer", {"name": "tessera-lab", "version": "0.2.0"}),
    ]:
        assert receipt_doc(**{field: value})["fingerprint"] != base["fingerprint"], field


def test_a_tampered_receipt_file_is_rejected(tmp_path: Path) -> None:
    doc = receipt_doc()
    doc["stats"]["accepted"], doc["stats"]["skipped"] = 8, 1  # still adds up
    path = tmp_path / "training.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ContractError, match=r"training.json: .*fingerprint .* does not match"):
        load_receipt(path)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"stage": "summary"}, "reserved for run-level files"),
        ({"stage": "Training"}, "field 'stage'"),
        ({"finished_at": "2024-07-01T11:00:00Z"}, "is before started_at"),
        ({"started_at": "2024-07-01T12:00:00"}, "field 'started_at'"),
        ({"run_id": "bad id"}, "field 'run_id'"),
        ({"git_commit": "not-a-sha"}, "field 'git_commit'"),
        ({"receipt_format": 2}, "field 'receipt_format'"),
        ({"parameters": {"x": [1]}}, "field 'parameters.x"),
        ({"extra": 1}, "field 'extra': unknown field"),
    ],
)
def test_invalid_receipts_are_rejected(changes: dict[str, Any], message: str) -> None:
    from tessera_contracts import validate_plain

    with pytest.raises(ContractError, match=message):
        validate_plain(Receipt, receipt_doc(**changes), "receipt")


def test_an_invalid_receipt_is_never_written(tmp_path: Path) -> None:
    # model_copy skips validation, as a buggy caller building a receipt by hand might.
    bad = Receipt.model_validate(receipt_doc()).model_copy(update={"fingerprint": "0" * 64})
    with pytest.raises(ContractError, match=r"receipt 'training': .*fingerprint"):
        write_receipt(bad, tmp_path / "receipts")
    assert not (tmp_path / "receipts").exists() or list((tmp_path / "receipts").iterdir()) == []


def test_load_receipts_orders_by_start_and_skips_run_level_files(tmp_path: Path) -> None:
    late = Receipt.model_validate(receipt_doc(started_at="2024-07-01T12:00:01Z"))
    early = Receipt.model_validate(
        receipt_doc(stage="dataset_validation", finished_at="2024-07-01T12:00:01Z")
    )
    write_receipt(late, tmp_path)
    write_receipt(early, tmp_path)
    (tmp_path / "summary.json").write_text("{}")
    (tmp_path / "drift.json").write_text("{}")
    assert [r.stage for r in load_receipts(tmp_path)] == ["dataset_validation", "training"]
    with pytest.raises(ContractError, match="not a receipts directory"):
        load_receipts(tmp_path / "nope")
