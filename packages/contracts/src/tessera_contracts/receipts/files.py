"""A receipts directory on disk: ``<dir>/<stage>.json``, written atomically, read in order."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from tessera_contracts._errors import ContractError
from tessera_contracts._json_io import to_json_text, validate_plain
from tessera_contracts._receipts import RESERVED_FILE_STEMS, Receipt, load_receipt


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
    write_text_atomic(target, to_json_text(checked))
    return target


def write_text_atomic(target: Path, text: str) -> None:
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


def has_receipts(directory: Path) -> bool:
    """True when ``directory`` holds at least one receipt file (not only run-level files)."""
    return any(p.stem not in RESERVED_FILE_STEMS for p in directory.glob("*.json"))


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
