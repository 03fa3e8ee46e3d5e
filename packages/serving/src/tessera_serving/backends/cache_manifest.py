"""The compiled-model cache's records: its key, its manifest, and a loaded entry.

The key is the sha256 of canonical JSON (the contracts' one definition) naming the model's
sha256, the compiler and CPU target, the compile options and the text-rewrite version; the
manifest records what was compiled, by what, and how it compared with LightGBM.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from tessera_contracts import canonical_json

from .base import FloatVector
from .compat import REWRITE_VERSION
from .compiled import COMPILE_OPTIONS, CompiledPredictor, CompilerIdentity
from .equivalence import ABS_TOLERANCE, EquivalenceReport
from .sample import DEFAULT_SAMPLE_SEED

MANIFEST_FORMAT = 1
CHECK_ROWS = 256
REF_PREFIX = "compiled-"


class CacheStore(Protocol):
    """The part of the artifact store (``tessera_serving.store``) the cache uses."""

    def put_bytes(self, data: bytes) -> str: ...
    def read_bytes(self, sha256: str) -> bytes: ...
    def fetch(self, sha256: str, dest_dir: Path) -> Path: ...
    def write_ref(self, name: str, sha256: str) -> None: ...
    def read_ref(self, name: str) -> str | None: ...


def cache_key(model_sha256: str, identity: CompilerIdentity) -> str:
    """The content address of a compiled model for this compiler and CPU."""
    fields = {
        "format": MANIFEST_FORMAT,
        "model_sha256": model_sha256,
        "compiler": identity.as_dict(),
        "options": COMPILE_OPTIONS,
        "rewrite": REWRITE_VERSION,
    }
    return hashlib.sha256(canonical_json(fields)).hexdigest()


@dataclass(frozen=True)
class CacheEntry:
    """A compiled model's verified manifest and, when equivalent, its loaded predictor."""

    key: str
    manifest: dict[str, Any]
    predictor: CompiledPredictor | None
    cache: str  # "hit" or "built"
    compile_seconds: float | None
    load_seconds: float
    rebuilt_because: str | None

    @property
    def report(self) -> EquivalenceReport:
        """The equivalence verdict recorded when the entry was built."""
        eq = self.manifest["equivalence"]
        return EquivalenceReport(
            rows=int(eq["sample_rows"]),
            max_abs_diff=float(eq["max_abs_diff"]),
            worst_row=int(eq["worst_row"]),
            tolerance=float(eq["tolerance"]),
            equivalent=bool(eq["equivalent"]),
        )


def build_manifest(
    key: str,
    model_sha256: str,
    identity: CompilerIdentity,
    object_sha256: str,
    object_bytes: int,
    report: EquivalenceReport,
    expected: FloatVector,
) -> dict[str, Any]:
    """The cache manifest of one build: what was compiled, by what, and how it compared."""
    return {
        "format": MANIFEST_FORMAT,
        "key": key,
        "model_sha256": model_sha256,
        "compiler": identity.as_dict(),
        "options": COMPILE_OPTIONS,
        "object_sha256": object_sha256 if report.equivalent else None,
        "object_bytes": object_bytes,
        "equivalence": {
            "sample_rows": report.rows,
            "sample_seed": DEFAULT_SAMPLE_SEED,
            "max_abs_diff": report.max_abs_diff,
            "worst_row": report.worst_row,
            "tolerance": report.tolerance,
            "equivalent": report.equivalent,
        },
        "check": {
            "seed": DEFAULT_SAMPLE_SEED,
            "tolerance": ABS_TOLERANCE,
            "expected_hex": [float(v).hex() for v in expected[:CHECK_ROWS]],
        },
    }
