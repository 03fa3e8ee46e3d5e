"""Events the backend choice emits, in DESIGN.md's style (dotted name, level, fields).

``backend.compiled`` (info): the compiled backend serves the model. Fields:
``model_sha256``, ``cache`` (``hit``/``built``), ``cache_key``, ``object_sha256``,
``max_abs_diff``, ``tolerance``, ``sample_rows`` (the equivalence check made when the
entry was built), ``compile_seconds``, ``load_seconds``, ``rebuilt_because`` (why a
cached entry was rejected), ``num_threads``, ``omp_wait_policy``.

``backend.fallback`` (warning; info when ``auto`` simply finds no compiler installed):
LightGBM serves the model instead. Fields: ``model_sha256``, ``requested_backend``,
``backend`` (``lightgbm``), ``reason`` (``compiler_not_installed``, ``unsupported_model``,
``not_equivalent``, ``compile_failed``), ``detail``, ``max_abs_diff``/``tolerance``/
``sample_rows`` when measured, ``num_threads``, ``omp_wait_policy``.

A fallback never fails the job: the LightGBM backend scores the rows, which is correct by
construction. Scoring records these events on the job like the guard's events.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

BACKEND_COMPILED = "backend.compiled"
BACKEND_FALLBACK = "backend.fallback"

# Fallback reasons.
COMPILER_NOT_INSTALLED = "compiler_not_installed"
UNSUPPORTED_MODEL = "unsupported_model"
NOT_EQUIVALENT = "not_equivalent"
COMPILE_FAILED = "compile_failed"


@dataclass(frozen=True)
class BackendEvent:
    """One backend event: name, level (``info``/``warning``) and JSON-ready fields."""

    name: str
    level: str
    fields: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        """One JSON log line: ``{"event": name, "level": level, **fields}``."""
        return json.dumps({"event": self.name, "level": self.level, **self.fields}, default=str)
