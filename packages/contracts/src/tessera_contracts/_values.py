"""Small value types shared by the manifest, the run record and receipts."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from ._errors import ContractError
from ._fingerprints import canonical_json

SHA256_PATTERN = r"^[0-9a-f]{64}$"
SHORT_SHA_PATTERN = r"^[0-9a-f]{12}$"
GIT_SHA_PATTERN = r"^[0-9a-f]{7,40}$"
SPDX_ID_PATTERN = r"^(LicenseRef-[A-Za-z0-9.-]+|[A-Za-z0-9][A-Za-z0-9.+-]*)$"
NAME_MAX_LENGTH = 128
"""The longest name of a run, dataset, model or live schema (every registry backend stores it)."""
NAME_PATTERN = rf"^[A-Za-z0-9][A-Za-z0-9._-]{{0,{NAME_MAX_LENGTH - 1}}}$"
"""Names: a letter or digit, then letters, digits, '.', '_' or '-' (file- and URL-safe)."""
_NAME_RE = re.compile(NAME_PATTERN[1:-1])


def check_name(value: object, what: str = "name") -> str:
    """``value`` if it is a valid name, else ContractError saying what a name may hold."""
    if isinstance(value, str) and _NAME_RE.fullmatch(value):
        return value
    if not isinstance(value, str):
        problem = f"expected a string, found {type(value).__name__}"
    elif not value:
        problem = "is empty"
    elif len(value) > NAME_MAX_LENGTH:
        problem = f"is {len(value)} characters long"
    else:
        bad = next((c for c in value if not re.fullmatch(r"[A-Za-z0-9._-]", c)), None)
        problem = f"contains {bad!r}" if bad is not None else f"starts with {value[0]!r}"
    shown = repr(value[:40] + "...") if isinstance(value, str) and len(value) > 40 else repr(value)
    raise ContractError(
        f"{what} {shown} {problem}: expected a letter or digit, then letters, digits, "
        f"'.', '_' or '-', at most {NAME_MAX_LENGTH} characters"
    )


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timezone-aware datetime, normalised to UTC; naive datetimes are rejected."""

Sha256 = Annotated[str, Field(pattern=SHA256_PATTERN)]
ShortSha = Annotated[str, Field(pattern=SHORT_SHA_PATTERN)]
Name = Annotated[str, Field(pattern=NAME_PATTERN)]


class StrictModel(BaseModel):
    """Base for every contract model: unknown fields rejected, instances immutable."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=False, allow_inf_nan=False, validate_default=True
    )

    def __hash__(self) -> int:  # frozen models with dict fields are not hashable by default
        # Sorted keys: equal models (dict equality ignores key order) must hash equal.
        return hash(canonical_json(self.model_dump(mode="json")))

    def to_plain(self) -> dict[str, Any]:
        """A JSON-ready dict of this model."""
        return self.model_dump(mode="json")


class Producer(StrictModel):
    """What produced a file: the distribution name, its version and the git commit."""

    name: Annotated[str, Field(min_length=1, max_length=128)]
    version: Annotated[str, Field(min_length=1, max_length=64)]
    git_sha: Annotated[str | None, Field(pattern=GIT_SHA_PATTERN)] = None


class FileEntry(StrictModel):
    """One file of a dataset: content hash, row count and size."""

    sha256: Sha256
    rows: Annotated[int, Field(ge=0)]
    bytes: Annotated[int, Field(ge=0)]


class License(StrictModel):
    """The licence a model is released under: SPDX id and a URL to its text."""

    id: Annotated[str, Field(pattern=SPDX_ID_PATTERN, max_length=128)]
    url: Annotated[str, Field(pattern=r"^https?://\S+$", max_length=2048)]
