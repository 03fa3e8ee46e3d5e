"""Rules both importers share: the label kind, the default dataset name, the family
mapping argument and how errors name ``train.parquet``'s input."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tessera_lab.errors import DatasetError

from .columns import LABEL_KINDS
from .families import load_family_mapping
from .validfile import ValidInput

INPUT_ORDER_SUFFIX = "base-input-order"
"""Appended to default dataset names when the base score is the input order."""


def resolve_label_kind(requested: str, labels: set[int] | frozenset[int]) -> str:
    """``binary``/``graded`` as requested, or by the labels found when ``auto``."""
    if requested == "auto":
        return "binary" if set(labels) <= {0, 1} else "graded"
    if requested not in LABEL_KINDS:
        raise DatasetError(f"label_kind must be auto, binary or graded, found {requested!r}")
    return requested


def default_name(train: Path, input_order: bool) -> str:
    """A dataset name from the train file's stem, marked when the baseline is input order."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", train.stem).strip("-._") or "imported"
    name = f"{stem}-{INPUT_ORDER_SUFFIX}" if input_order else stem
    return name[:128]


def family_mapping(value: Mapping[str, Sequence[str]] | str | Path | None) -> Any:
    """The family mapping given inline, read from a YAML file, or None (one family)."""
    if value is None or isinstance(value, Mapping):
        return value
    return load_family_mapping(value)


def train_source(train: Path, valid: ValidInput | None) -> str:
    """How errors name train.parquet's input: the train file, then the validation file."""
    return str(train) if valid is None else f"{train} followed by {valid.path}"
