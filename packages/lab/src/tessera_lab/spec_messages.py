"""Spec validation errors as one line: the file, then each problem as ``key.path: message``."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError


def _key_path(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item in (
            "float", "int", "categorical", "list[str]", "literal['all']", "local", "dask"
        ):  # fmt: skip
            continue  # discriminator / union branch tags say nothing about where the error is
        elif re.fullmatch(r"(function-)?(after|before|wrap|plain)\[.*\]", str(item)):
            continue
        else:
            parts.append(f".{item}" if parts else str(item))
    return "".join(parts) or "(top level)"


def _describe(error: Any) -> str:
    """One pydantic error as ``key.path: message``."""
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = f"unknown key {str(error['loc'][-1])!r}"
    elif error["type"] == "missing":
        message = "required key is missing"
    elif "input" in error and error["type"] not in ("model_type", "value_error"):
        found = error["input"]
        if not isinstance(found, dict | list) or len(repr(found)) < 80:
            message = f"{message} (found {found!r})"
    return f"{_key_path(tuple(error['loc']))}: {message}"


def format_spec_error(source: str, exc: ValidationError) -> str:
    """One line: the file, then every problem (``key.path: message``), separated by ``; ``.

    Unknown and missing keys come first: they are the likeliest cause of the rest.
    """
    rank = {"extra_forbidden": 0, "missing": 1}
    errors = sorted(exc.errors(), key=lambda e: rank.get(e["type"], 2))
    problems = list(dict.fromkeys(_describe(error) for error in errors))
    return f"{source}: " + "; ".join(problems)
