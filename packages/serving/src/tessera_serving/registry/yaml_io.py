"""The files serving is given as YAML or JSON: one loader, one family -> columns reader.

YAML goes through the safe loader (libyaml's when installed). Every problem is one line of
the caller's error class naming the file; which class depends on the operation the file
was given to (registering, scoring), so callers pass it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tessera_serving.errors import ServingError

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def read_text(path: Path, error: type[ServingError]) -> str:
    """The file's UTF-8 text, or ``error`` naming the file."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else _first_line(exc)
        raise error(f"{path}: cannot read: {reason}") from exc


def load_yaml(text: str, source: str, error: type[ServingError]) -> Any:
    """Parse YAML ``text`` with the safe loader; ``error`` naming ``source`` if it is not YAML."""
    try:
        return yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        raise error(f"{source}: not valid YAML: {_first_line(exc)}") from exc


def read_schema_file(path: Path, error: type[ServingError]) -> dict[str, list[str]]:
    """A JSON (``.json``) or YAML file mapping family -> list of column names.

    Checks the shape only; the fingerprints check the names (``compute_schema_sha``).
    """
    text = read_text(path, error)
    if path.suffix != ".json":
        data: Any = load_yaml(text, str(path), error)
    else:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise error(f"{path}: not valid JSON/YAML: {_first_line(exc)}") from exc
    ok = (
        isinstance(data, dict)
        and bool(data)
        and all(
            isinstance(k, str) and isinstance(v, list) and all(isinstance(c, str) for c in v)
            for k, v in data.items()
        )
    )
    if not ok:
        found = "an empty mapping" if data == {} else type(data).__name__
        raise error(f"{path}: expected a mapping family -> list of column names, found {found}")
    return {k: list(v) for k, v in data.items()}
