"""Read a YAML file the lab is given (spec, family mapping) with one-line errors."""

from __future__ import annotations

from pathlib import Path

import yaml

from tessera_lab.errors import LabError


def load_yaml_file(path: Path, *, what: str, error: type[LabError]) -> object:
    """``yaml.safe_load`` of ``path``; unreadable or malformed files raise ``error``.

    The message names the file and, for malformed YAML, the line and column.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read {what}: {exc}") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise error(f"{path}: malformed YAML: {where}{problem}") from None
