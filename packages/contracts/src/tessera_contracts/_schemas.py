"""The committed JSON Schema files of the contract models.

Regenerate after changing a model: ``uv run python -m tessera_contracts._schemas --write``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel

from ._drift import DriftReport
from ._manifest import ManifestV1
from ._receipts import Receipt
from ._run_record import RunRecord
from ._summary import RunSummary

SCHEMA_DIR = Path(__file__).parent / "schemas"
SCHEMA_MODELS: dict[str, type[BaseModel]] = {
    "drift_report.schema.json": DriftReport,
    "manifest_v1.schema.json": ManifestV1,
    "receipt.schema.json": Receipt,
    "run_record.schema.json": RunRecord,
    "run_summary.schema.json": RunSummary,
}


def render_schema(model: type[BaseModel]) -> str:
    """The JSON Schema of ``model`` as committed: sorted keys, two-space indent."""
    return json.dumps(model.model_json_schema(), sort_keys=True, indent=2) + "\n"


def stale_schema_files() -> list[str]:
    """File names whose committed text differs from the current models."""
    return [
        name
        for name, model in SCHEMA_MODELS.items()
        if not (SCHEMA_DIR / name).is_file()
        or (SCHEMA_DIR / name).read_text(encoding="utf-8") != render_schema(model)
    ]


def write_schema_files() -> list[str]:
    """Rewrite every schema file; return the names that changed."""
    SCHEMA_DIR.mkdir(exist_ok=True)
    changed = stale_schema_files()
    for name in changed:
        (SCHEMA_DIR / name).write_text(render_schema(SCHEMA_MODELS[name]), encoding="utf-8")
    return changed


if __name__ == "__main__":
    if "--write" in sys.argv[1:]:
        print("\n".join(write_schema_files()) or "schemas up to date")
    else:
        stale = stale_schema_files()
        print("\n".join(stale) or "schemas up to date")
        sys.exit(1 if stale else 0)
