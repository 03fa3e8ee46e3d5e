"""``Receipt``: what one pipeline stage took in, gave out and decided (DESIGN.md section 7).

Every hash here covers content only: the aggregate hash of a file set is computed from
paths and content hashes, and a receipt's ``fingerprint`` leaves out the wall-clock fields
and the run id, so the same inputs and code give the same hashes on every run.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, model_validator

from ._errors import ContractError
from ._fingerprints import canonical_json
from ._json_io import load_json_file, to_json_text, validate_plain
from ._values import GIT_SHA_PATTERN, SHA256_PATTERN, Name, Sha256, StrictModel, UtcDatetime

STAGE_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
KNOWN_STAGES = (
    "dataset_validation",
    "training",
    "evaluation",
    "tuning",
    "registration",
    "scoring",
    "rescoring",
    "backfill",
)
"""The stages Tessera itself records, in pipeline order; other names are allowed."""
RESERVED_FILE_STEMS = frozenset({"summary", "drift"})
"""Stage names that would collide with the run-level files next to the receipts."""
FINGERPRINT_EXCLUDED = ("run_id", "started_at", "finished_at", "duration_s", "fingerprint")
"""Receipt fields left out of ``fingerprint``: they differ between identical runs."""

ParamValue = str | int | float | bool | None
StageName = Annotated[str, Field(pattern=STAGE_NAME_PATTERN)]


def aggregate_sha256(entries: list[tuple[str, str]]) -> str:
    """Order-independent hash of ``(path, content_sha256)`` pairs.

    Definition (stable, documented in the JSON Schema): one line per entry,
    ``sha256_hex(path as UTF-8) + "\\0" + content_sha256_hex + "\\n"``; the lines are
    sorted and the sha256 of their concatenation is the aggregate. Hashing the path
    separately keeps path and content apart: swapping the contents of two files, or
    renaming one, changes the aggregate. The empty set hashes to ``sha256(b"")``.
    """
    lines = sorted(
        hashlib.sha256(path.encode("utf-8")).hexdigest() + "\0" + content + "\n"
        for path, content in entries
    )
    return hashlib.sha256("".join(lines).encode("ascii")).hexdigest()


class FileRef(StrictModel):
    """One input or output: a file (hashed bytes) or a data item (hashed canonical JSON)."""

    path: Annotated[str, Field(min_length=1, max_length=4096)]
    kind: Literal["file", "data"]
    sha256: Sha256
    bytes: Annotated[int, Field(ge=0)]
    records: Annotated[int | None, Field(ge=0)]


class FileSet(StrictModel):
    """A stage's inputs or outputs, with their order-independent aggregate hash."""

    files: list[FileRef]
    aggregate_sha256: Annotated[
        str,
        Field(
            pattern=SHA256_PATTERN,
            description=(
                "sha256 of the sorted lines sha256_hex(path UTF-8) + NUL + content sha256 + LF,"
                " one per file: independent of file order, distinguishes path from content"
            ),
        ),
    ]

    @model_validator(mode="after")
    def _consistent(self) -> FileSet:
        paths = [f.path for f in self.files]
        if len(set(paths)) != len(paths):
            dupes = sorted({p for p in paths if paths.count(p) > 1})
            raise ContractError(f"duplicate paths in file set: {dupes!r}")
        expected = aggregate_sha256([(f.path, f.sha256) for f in self.files])
        if self.aggregate_sha256 != expected:
            raise ContractError(
                f"aggregate_sha256 {self.aggregate_sha256!r} does not match the files "
                f"(expected {expected!r})"
            )
        return self

    @classmethod
    def of(cls, files: list[FileRef]) -> FileSet:
        """The file set of ``files`` (sorted by path) with its aggregate hash computed."""
        ordered = sorted(files, key=lambda f: f.path)
        return cls(
            files=ordered, aggregate_sha256=aggregate_sha256([(f.path, f.sha256) for f in ordered])
        )


class RecordStats(StrictModel):
    """What happened to the stage's records: ``records_in`` must equal the four outcomes."""

    unit: Annotated[str, Field(pattern=r"^[a-z][a-z_]{0,31}$")]
    records_in: Annotated[int, Field(ge=0)]
    accepted: Annotated[int, Field(ge=0)]
    rejected: Annotated[int, Field(ge=0)]
    quarantined: Annotated[int, Field(ge=0)]
    skipped: Annotated[int, Field(ge=0)]

    @model_validator(mode="after")
    def _adds_up(self) -> RecordStats:
        total = self.accepted + self.rejected + self.quarantined + self.skipped
        if total != self.records_in:
            raise ContractError(
                f"stats do not add up: records_in {self.records_in} != accepted {self.accepted}"
                f" + rejected {self.rejected} + quarantined {self.quarantined}"
                f" + skipped {self.skipped} (= {total})"
            )
        return self


class ErrorEntry(StrictModel):
    """One validation error: its class (e.g. the exception type) and a one-line message."""

    model_config = ConfigDict(
        validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )

    class_: Annotated[str, Field(alias="class", min_length=1, max_length=128)]
    message: Annotated[str, Field(max_length=4096)]


class Validation(StrictModel):
    """The stage's verdict: it passed exactly when it recorded no error."""

    passed: bool
    errors: list[ErrorEntry]
    warnings: list[Annotated[str, Field(max_length=4096)]]

    @model_validator(mode="after")
    def _consistent(self) -> Validation:
        if self.passed == bool(self.errors):
            state = "passed" if self.passed else "failed"
            raise ContractError(
                f"validation.passed is {self.passed} but {len(self.errors)} error(s) are "
                f"recorded: a stage {state} must have {'no' if self.passed else 'an'} error"
            )
        return self


class ReceiptProducer(StrictModel):
    """The distribution that ran the stage."""

    name: Annotated[str, Field(min_length=1, max_length=128)]
    version: Annotated[str, Field(min_length=1, max_length=64)]


class Receipt(StrictModel):
    """One stage of one pipeline run: inputs, outputs, counts, verdict, timings."""

    receipt_format: Literal[1]
    run_id: Name
    pipeline: Name
    stage: StageName
    started_at: UtcDatetime
    finished_at: UtcDatetime
    duration_s: Annotated[float, Field(ge=0)]
    git_commit: Annotated[str | None, Field(pattern=GIT_SHA_PATTERN)]
    producer: ReceiptProducer
    parameters: dict[str, ParamValue]
    inputs: FileSet
    outputs: FileSet
    stats: RecordStats
    validation: Validation
    fingerprint: Annotated[
        str,
        Field(
            pattern=SHA256_PATTERN,
            description=(
                "sha256 of the canonical JSON of this receipt without run_id, started_at,"
                " finished_at, duration_s and fingerprint: equal for identical stage runs"
            ),
        ),
    ]

    @model_validator(mode="after")
    def _consistent(self) -> Receipt:
        if self.stage in RESERVED_FILE_STEMS:
            raise ContractError(f"stage name {self.stage!r} is reserved for run-level files")
        if self.finished_at < self.started_at:
            raise ContractError(
                f"finished_at {self.finished_at.isoformat()} is before "
                f"started_at {self.started_at.isoformat()}"
            )
        expected = receipt_fingerprint(self)
        if self.fingerprint != expected:
            raise ContractError(
                f"fingerprint {self.fingerprint!r} does not match the receipt's content "
                f"(expected {expected!r})"
            )
        return self


def receipt_fingerprint(receipt: Receipt | dict[str, object]) -> str:
    """sha256 of the receipt's canonical JSON without run id and wall-clock fields."""
    plain = receipt.to_plain() if isinstance(receipt, Receipt) else dict(receipt)
    content = {k: v for k, v in plain.items() if k not in FINGERPRINT_EXCLUDED}
    return hashlib.sha256(canonical_json(content)).hexdigest()


def receipt_path(directory: str | Path, stage: str) -> Path:
    """Where the receipt of ``stage`` lives in a receipts directory: ``<dir>/<stage>.json``."""
    return Path(directory) / f"{stage}.json"


def write_receipt(receipt: Receipt, directory: str | Path) -> Path:
    """Validate ``receipt`` again and write it atomically to ``<directory>/<stage>.json``.

    An invalid receipt (for instance one built with ``model_construct``) raises
    ``ContractError`` and nothing is written; a write goes to a temporary file in the
    same directory, is flushed to disk and renamed over the target.
    """
    source = f"receipt {getattr(receipt, 'stage', '?')!r}"
    checked = validate_plain(Receipt, receipt.model_dump(mode="json", by_alias=True), source)
    target = receipt_path(directory, checked.stage)
    _write_text_atomic(target, to_json_text(checked))
    return target


def _write_text_atomic(target: Path, text: str) -> None:
    """Write ``text`` to ``target`` through a temporary sibling file and a rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_name = target.parent / f".{target.name}.{secrets.token_hex(6)}.tmp"
    # O_EXCL with mode 0o666: a fresh file under the user's umask (mkstemp would make it 0600)
    fd = os.open(tmp_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp_name).replace(target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def load_receipt(path: str | Path) -> Receipt:
    """Read and validate one receipt file."""
    return load_json_file(Receipt, path)


def load_receipts(directory: str | Path) -> list[Receipt]:
    """Every receipt in a receipts directory, in pipeline order (start time, then stage)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ContractError(f"{directory}: not a receipts directory (no such directory)")
    receipts = [
        load_receipt(p)
        for p in sorted(directory.glob("*.json"))
        if p.stem not in RESERVED_FILE_STEMS
    ]
    return sorted(receipts, key=lambda r: (r.started_at, r.stage))
