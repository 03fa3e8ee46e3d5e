"""The lab's one YAML reader (spec, family mapping): safe, strict about keys, one-line errors.

PyYAML's ``safe_load`` keeps the last of two equal keys in a mapping; a spec that says
``seed: 7`` and later ``seed: 8`` would silently train with 8. Here a duplicated key is
an error naming the key and both lines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tessera_lab.errors import LabError


class _DuplicateKeyError(yaml.MarkedYAMLError):
    """A mapping holds the same key twice (reported through ``load_yaml_file``)."""


class _StrictLoader(yaml.SafeLoader):
    """``SafeLoader`` that refuses duplicated mapping keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: SafeLoader reports it itself
                continue
            if first is not None:
                raise _DuplicateKeyError(
                    problem=f"duplicated key {key!r} (first on line {first}, again on line {line})",
                    problem_mark=key_node.start_mark,
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def parse_yaml(text: str) -> object:
    """Parse YAML text safely, refusing duplicated keys (``yaml.YAMLError`` on any problem)."""
    return yaml.load(text, Loader=_StrictLoader)


def load_yaml_file(path: Path, *, what: str, error: type[LabError]) -> object:
    """Read and parse ``path``; unreadable, malformed or ambiguous files raise ``error``.

    The message names the file and, for malformed YAML, the line and column.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read {what}: {exc}") from exc
    try:
        return parse_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise error(f"{path}: malformed YAML: {where}{problem}") from None
