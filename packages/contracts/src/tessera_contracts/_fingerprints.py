"""The one implementation of the feature-schema fingerprints (DESIGN.md section 2).

The golden vectors in DESIGN.md must hold forever: a change here is a new
function, never an edit of these.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ._errors import ContractError

FAMILY_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
_FAMILY_RE = re.compile(FAMILY_NAME_PATTERN)
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
MAX_COLUMN_NAME_LENGTH = 256


def canonical_json(obj: Any) -> bytes:
    """Serialise ``obj`` the way both fingerprints hash it (sorted keys, no spaces, ASCII)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def _short_sha(obj: Any) -> str:
    return hashlib.sha256(canonical_json(obj)).hexdigest()[:12]


def check_family_name(name: object) -> str:
    """Return ``name`` if it is a valid family name, else raise ``ContractError`` naming it."""
    if not isinstance(name, str) or _FAMILY_RE.fullmatch(name) is None:
        raise ContractError(
            f"invalid feature family name {name!r}: "
            f"expected a string matching {FAMILY_NAME_PATTERN}"
        )
    return name


def check_column_name(name: object, family: str) -> str:
    """Return ``name`` if it is a valid column name, else raise ``ContractError`` naming it."""
    if not isinstance(name, str) or not name:
        raise ContractError(
            f"invalid column name {name!r} in family {family!r}: expected a non-empty string"
        )
    if len(name) > MAX_COLUMN_NAME_LENGTH:
        raise ContractError(
            f"invalid column name {name[:40]!r}... in family {family!r}: "
            f"{len(name)} characters, at most {MAX_COLUMN_NAME_LENGTH} allowed"
        )
    if _CONTROL_RE.search(name):
        raise ContractError(
            f"invalid column name {name!r} in family {family!r}: contains a control character"
        )
    return name


def _checked_families(feature_families: Iterable[str]) -> list[str]:
    if isinstance(feature_families, str | bytes):
        raise ContractError(
            "feature families must be an iterable of names, "
            f"not a single string {feature_families!r}"
        )
    seen: set[str] = set()
    for name in feature_families:
        check_family_name(name)
        if name in seen:
            raise ContractError(f"duplicate feature family {name!r}")
        seen.add(name)
    if not seen:
        raise ContractError("feature families must not be empty")
    return sorted(seen)


def compute_feature_schema_sha(feature_families: Iterable[str]) -> str:
    """Fingerprint "v1": the 12-hex sha256 of the sorted family names."""
    return _short_sha({"feature_families": _checked_families(feature_families)})


def compute_schema_sha(feature_schema: Mapping[str, Sequence[str]]) -> str:
    """Fingerprint "v2": the 12-hex sha256 of family -> sorted column names."""
    if not isinstance(feature_schema, Mapping):
        raise ContractError(
            "feature schema must be a mapping family -> columns, "
            f"not {type(feature_schema).__name__}"
        )
    _checked_families(feature_schema.keys())
    seen: dict[str, str] = {}
    canonical: dict[str, list[str]] = {}
    for family, columns in feature_schema.items():
        if isinstance(columns, str | bytes) or not isinstance(columns, Sequence):
            raise ContractError(
                f"columns of family {family!r} must be a list of names, not {columns!r}"
            )
        if len(columns) == 0:
            raise ContractError(f"family {family!r} has no columns")
        for column in columns:
            check_column_name(column, family)
            if column in seen:
                raise ContractError(
                    f"duplicate column {column!r} (in families {seen[column]!r} and {family!r})"
                )
            seen[column] = family
        canonical[family] = sorted(columns)
    return _short_sha({"feature_schema": canonical})
