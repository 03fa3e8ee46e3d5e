"""Reading stored JSON columns as text, so a row whose JSON does not parse is a finding.

SQLAlchemy's JSON type decodes while fetching; one unparseable row would abort a whole
read with ``JSONDecodeError``. Integrity commands select the raw text and parse it here.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Text, cast
from sqlalchemy.sql.elements import ColumnElement


def as_text(column: Any) -> ColumnElement[str]:
    """``column`` (a JSON column) selected as its stored text."""
    return cast(column, Text)


def parse_stored(text: str | None, where: str, column: str) -> tuple[Any, str | None]:
    """(the decoded value, None) or (None, a one-line violation naming row and column)."""
    if text is None:
        return None, f"{where}: stored {column} is NULL"
    try:
        return json.loads(text), None
    except ValueError as exc:
        return None, f"{where}: stored {column} is not valid JSON ({exc}): {text[:60]!r}"
