"""Import by reference from a run record held in memory (the HTTP body), not a file.

The record is written to a private temporary ``run.json`` and handed to
``import_by_reference``, so both paths share every check and the registration receipt.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tessera_serving.errors import RegistrationError
from tessera_serving.registry.engine import Registry
from tessera_serving.registry.register import Registered, import_by_reference


def import_run_record(
    registry: Registry,
    *,
    artifact_uri: str,
    run: Mapping[str, Any],
    name: str | None = None,
    spec_yaml: str | None = None,
    allow_unknown_schema: bool = False,
) -> Registered:
    """Register the booster at ``artifact_uri`` (inside the configured store) with ``run``."""
    model = run.get("model")
    sha256 = model.get("sha256") if isinstance(model, Mapping) else None
    if not isinstance(sha256, str):
        raise RegistrationError("run record: field 'model.sha256' is missing or not a string")
    with tempfile.TemporaryDirectory(prefix="tessera-import-") as tmp:
        run_json = Path(tmp) / "run.json"
        run_json.write_text(json.dumps(dict(run), sort_keys=True), encoding="utf-8")
        spec = None
        if spec_yaml is not None:
            spec = Path(tmp) / "spec.yaml"
            spec.write_text(spec_yaml, encoding="utf-8")
        registered: Registered = import_by_reference(
            registry,
            uri=artifact_uri,
            sha256=sha256,
            run_json=run_json,
            spec_yaml=spec,
            name=name,
            allow_unknown_schema=allow_unknown_schema,
        )
    return registered
