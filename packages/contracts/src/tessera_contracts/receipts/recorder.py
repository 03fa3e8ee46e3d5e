"""``ReceiptRecorder``: the one context manager every stage, lab or serving, records through.

    with ReceiptRecorder(stage="training", producer=("tessera-lab", "0.1.0")) as rec:
        rec.add_input(dataset / "train.parquet", name="dataset/train.parquet", records=n)
        ...
        rec.count(records_in=n, accepted=n)
    rec.receipt  # the validated Receipt, also written to every destination

An exception inside the block records a failed validation (its class and message), the
receipt is still written, and the exception propagates. The run id comes from
``TESSERA_RUN_ID`` when set so that every process of one pipeline run shares it;
``TESSERA_RECEIPTS_DIR`` adds ``$TESSERA_RECEIPTS_DIR/<pipeline>/<run_id>/`` as a destination.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from pydantic import ValidationError

from tessera_contracts._errors import ContractError
from tessera_contracts._file_hash import sha256_file
from tessera_contracts._fingerprints import canonical_json
from tessera_contracts._json_io import format_validation_error
from tessera_contracts._receipts import (
    ErrorEntry,
    FileRef,
    FileSet,
    ParamValue,
    Receipt,
    ReceiptProducer,
    RecordStats,
    Validation,
    receipt_fingerprint,
)

from .context import RECEIPTS_DIR_ENV, git_commit, resolve_pipeline, resolve_run_id
from .files import receipt_path, write_receipt

ReceiptSink = Callable[[Receipt], object]


class ReceiptRecorder:
    """Collects one stage's inputs, outputs, counts and errors; builds and writes its receipt."""

    def __init__(
        self,
        *,
        stage: str,
        producer: ReceiptProducer | tuple[str, str],
        pipeline: str | None = None,
        run_id: str | None = None,
        code_dir: str | Path | None = None,
        root: str | Path | None = None,
        unit: str = "records",
        receipts_dir: str | Path | None = None,
        sinks: list[ReceiptSink] | None = None,
    ) -> None:
        self.stage = stage
        self.producer = (
            producer
            if isinstance(producer, ReceiptProducer)
            else ReceiptProducer(name=producer[0], version=producer[1])
        )
        self.pipeline = resolve_pipeline(pipeline)
        self.run_id = resolve_run_id(run_id)
        self.git_commit = git_commit(str(Path(code_dir).resolve())) if code_dir else None
        self.root = Path(root).resolve() if root is not None else Path.cwd().resolve()
        self.unit = unit
        self.receipts_dirs: list[Path] = [Path(receipts_dir)] if receipts_dir else []
        env_dir = os.environ.get(RECEIPTS_DIR_ENV, "").strip()
        if env_dir:
            self.receipts_dirs.append(Path(env_dir) / self.pipeline / self.run_id)
        self.sinks: list[ReceiptSink] = list(sinks or [])
        self.parameters: dict[str, ParamValue] = {}
        self._inputs: dict[str, FileRef] = {}
        self._outputs: dict[str, FileRef] = {}
        self._counts = dict.fromkeys(("accepted", "rejected", "quarantined", "skipped"), 0)
        self._records_in: int | None = None
        self._errors: list[ErrorEntry] = []
        self._warnings: list[str] = []
        self._started: datetime | None = None
        self._t0 = 0.0
        self.receipt: Receipt | None = None
        self.written: list[Path] = []

    # -- collecting ---------------------------------------------------------------------------

    def _logical_path(self, path: Path, name: str | None) -> str:
        if name is not None:
            return name
        resolved = path.resolve()
        if resolved.is_relative_to(self.root):
            return resolved.relative_to(self.root).as_posix()
        return resolved.as_posix()

    def _file_ref(self, path: str | Path, name: str | None, records: int | None) -> FileRef:
        path = Path(path)
        sha, size = sha256_file(path)
        logical = self._logical_path(path, name)
        return FileRef(path=logical, kind="file", sha256=sha, bytes=size, records=records)

    @staticmethod
    def _data_ref(name: str, data: Any, records: int | None) -> FileRef:
        try:
            payload = canonical_json(data)
        except (TypeError, ValueError) as exc:
            raise ContractError(f"data item {name!r} is not JSON-serialisable: {exc}") from exc
        sha = hashlib.sha256(payload).hexdigest()
        return FileRef(path=name, kind="data", sha256=sha, bytes=len(payload), records=records)

    def add_input(
        self, path: str | Path, *, name: str | None = None, records: int | None = None
    ) -> FileRef:
        """Hash a file the stage read; ``name`` (default: path under ``root``) is recorded."""
        ref = self._file_ref(path, name, records)
        self._inputs[ref.path] = ref
        return ref

    def add_output(
        self, path: str | Path, *, name: str | None = None, records: int | None = None
    ) -> FileRef:
        """Hash a file the stage wrote."""
        ref = self._file_ref(path, name, records)
        self._outputs[ref.path] = ref
        return ref

    def add_input_data(self, name: str, data: Any, *, records: int | None = None) -> FileRef:
        """Record a non-file input (e.g. rows read from a database) by its canonical JSON."""
        ref = self._data_ref(name, data, records)
        self._inputs[ref.path] = ref
        return ref

    def add_output_data(self, name: str, data: Any, *, records: int | None = None) -> FileRef:
        """Record a non-file output (e.g. a file's content without its wall-clock fields)."""
        ref = self._data_ref(name, data, records)
        self._outputs[ref.path] = ref
        return ref

    def add_input_ref(self, ref: FileRef) -> None:
        """Record an input whose hash is already known (e.g. a content-addressed artifact)."""
        self._inputs[ref.path] = ref

    def add_output_ref(self, ref: FileRef) -> None:
        """Record an output whose hash is already known."""
        self._outputs[ref.path] = ref

    def param(self, name: str, value: ParamValue) -> None:
        """Record a parameter that shapes the output (seed, page size, model stage, ...)."""
        self.parameters[name] = value

    def count(
        self,
        *,
        records_in: int | None = None,
        accepted: int = 0,
        rejected: int = 0,
        quarantined: int = 0,
        skipped: int = 0,
    ) -> None:
        """Add to the outcome counts; ``records_in`` (when given) adds to the records read.

        Without any ``records_in``, the receipt's ``records_in`` is the sum of the outcomes.
        """
        if records_in is not None:
            self._records_in = (self._records_in or 0) + records_in
        for key, value in (
            ("accepted", accepted),
            ("rejected", rejected),
            ("quarantined", quarantined),
            ("skipped", skipped),
        ):
            self._counts[key] += value

    def error(self, class_: str, message: str) -> None:
        """Record a validation error; the stage fails."""
        self._errors.append(ErrorEntry(class_=class_, message=_one_line(message)))

    def warn(self, message: str) -> None:
        """Record a warning; the stage still passes."""
        self._warnings.append(_one_line(message))

    # -- building -----------------------------------------------------------------------------

    def __enter__(self) -> Self:
        self._started = datetime.now(UTC)
        self._t0 = time.monotonic()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None:
            self.error(type(exc).__name__, str(exc) or type(exc).__name__)
        try:
            self.receipt = self.build()
            self.written = self.emit(self.receipt)
        except Exception as receipt_error:
            if exc is None:
                raise
            exc.add_note(f"(the {self.stage} receipt could not be written: {receipt_error})")

    def build(self) -> Receipt:
        """The validated receipt of what was recorded so far (``ContractError`` if invalid)."""
        if self._started is None:
            raise ContractError(f"receipt {self.stage!r}: the recorder was never entered")
        duration = max(0.0, time.monotonic() - self._t0)
        finished = max(datetime.now(UTC), self._started)
        counts = dict(self._counts)
        records_in = self._records_in if self._records_in is not None else sum(counts.values())
        errors = list(self._errors)
        warnings = list(self._warnings)
        if counts["rejected"] and not any(e.class_ == "RejectedRecords" for e in errors):
            errors.append(
                ErrorEntry(
                    class_="RejectedRecords",
                    message=f"{counts['rejected']} of {records_in} {self.unit} rejected",
                )
            )
        if counts["quarantined"]:
            warnings.append(f"{counts['quarantined']} of {records_in} {self.unit} quarantined")
        try:
            plain: dict[str, Any] = {
                "receipt_format": 1,
                "run_id": self.run_id,
                "pipeline": self.pipeline,
                "stage": self._free_stage_name(),
                "started_at": self._started.isoformat(),
                "finished_at": finished.isoformat(),
                "duration_s": round(duration, 6),
                "git_commit": self.git_commit,
                "producer": self.producer.to_plain(),
                "parameters": dict(self.parameters),
                "inputs": FileSet.of(list(self._inputs.values())).to_plain(),
                "outputs": FileSet.of(list(self._outputs.values())).to_plain(),
                "stats": RecordStats(unit=self.unit, records_in=records_in, **counts).to_plain(),
                "validation": Validation(
                    passed=not errors, errors=errors, warnings=warnings
                ).to_plain(),
            }
            plain["fingerprint"] = receipt_fingerprint(plain)
            return Receipt.model_validate(plain)
        except ValidationError as exc:
            raise ContractError(format_validation_error(exc, f"receipt {self.stage!r}")) from exc

    def _free_stage_name(self) -> str:
        """``stage``, or ``stage_2``, ``stage_3``... when the run already has that receipt.

        One pipeline run may run a stage twice (e.g. two scoring jobs); the second receipt
        then neither overwrites the first nor needs a name from the caller.
        """
        n = 1
        while True:
            name = self.stage if n == 1 else f"{self.stage}_{n}"
            if not any(receipt_path(d, name).exists() for d in self.receipts_dirs):
                return name
            n += 1

    def emit(self, receipt: Receipt) -> list[Path]:
        """Write ``receipt`` to every receipts directory and hand it to every sink."""
        written = [write_receipt(receipt, directory) for directory in self.receipts_dirs]
        for sink in self.sinks:
            sink(receipt)
        return written


def _one_line(message: str) -> str:
    text = " ".join(message.split())
    return text if len(text) <= 4000 else text[:3997] + "..."
