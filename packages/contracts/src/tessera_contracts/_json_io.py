"""Stable JSON in and out for the contract models, with one-line errors naming file and field."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from ._errors import ContractError

if TYPE_CHECKING:  # loaded by the loaders that need them: receipts need neither
    from ._manifest import ManifestV1
    from ._run_record import RunRecord

M = TypeVar("M", bound=BaseModel)

# Error types whose message already names the value (ours) or where there is none to show.
_SELF_DESCRIBING = frozenset({"value_error", "assertion_error", "missing", "extra_forbidden"})
_SCALARS = (str, int, float, bool, type(None))


def to_json_text(model: BaseModel) -> str:
    """The canonical file form: sorted keys, two-space indent, ASCII, trailing newline.

    ``parse_json(type(m), to_json_text(m))`` re-serialises to the same bytes.
    """
    return json.dumps(model.model_dump(mode="json"), sort_keys=True, indent=2) + "\n"


def format_validation_error(error: ValidationError, source: str) -> str:
    """One line: ``source: field 'a.b': message`` (and how many more problems there were)."""
    problems = error.errors(include_url=False)
    first = problems[0]
    loc = ".".join(str(part) for part in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown field"
    elif first["type"] not in _SELF_DESCRIBING and isinstance(first["input"], _SCALARS):
        found = repr(first["input"])
        message += f", found {found if len(found) <= 80 else found[:77] + '...'}"
    more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
    where = f"field {loc!r}: " if loc else ""
    return f"{source}: {where}{message}{more}"


def _unique_keys(source: str) -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    """A JSON object hook that refuses a repeated key (readers disagree on which one wins)."""

    def build(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for key, value in pairs:
            if key in data:
                raise ContractError(f"{source}: duplicate key {key!r} in a JSON object")
            data[key] = value
        return data

    return build


def parse_json(cls: type[M], text: str | bytes, source: str = "<json>") -> M:
    """Parse and validate ``text`` as ``cls``; raise ``ContractError`` naming ``source``."""
    try:
        data = json.loads(text, object_pairs_hook=_unique_keys(source))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ContractError(f"{source}: not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ContractError(f"{source}: expected a JSON object, found {type(data).__name__}")
    # Files are validated strictly: "yes" is not a bool, true is not 1, 0 is not a datetime.
    try:
        return cls.model_validate_json(text, strict=True)
    except ValidationError as exc:
        raise ContractError(format_validation_error(exc, source)) from exc


def validate_plain(cls: type[M], data: object, source: str = "<data>") -> M:
    """Validate already-parsed JSON data as ``cls``; raise ``ContractError`` naming ``source``."""
    if not isinstance(data, dict):
        raise ContractError(f"{source}: expected a JSON object, found {type(data).__name__}")
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        raise ContractError(format_validation_error(exc, source)) from exc


def load_json_file(cls: type[M], path: str | Path) -> M:
    """Read ``path`` and validate it as ``cls``."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ContractError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    return parse_json(cls, raw, str(path))


def load_manifest(path: str | Path) -> ManifestV1:
    """Load and validate a dataset ``manifest.json``."""
    from ._manifest import ManifestV1

    return load_json_file(ManifestV1, path)


def load_run_record(path: str | Path) -> RunRecord:
    """Load and validate a run's ``run.json``."""
    from ._run_record import RunRecord

    return load_json_file(RunRecord, path)
