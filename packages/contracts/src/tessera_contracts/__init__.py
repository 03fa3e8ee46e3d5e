"""Tessera's contract between the lab and serving.

Tiny and stable: pydantic is the only dependency. It holds the one implementation
of the feature-schema fingerprints, canonical JSON and the streaming file hash, the
dataset manifest (``ManifestV1``), the run record (``RunRecord``) and the models of stage
receipts (``Receipt``), run summaries (``RunSummary``) and drift reports (``DriftReport``).
See DESIGN.md sections 2, 3, 5 and 7. The code that records, summarizes and renders
receipts is ``tessera_contracts.receipts``; this package never imports it.

Errors: every contract violation raises ``ContractError`` (a ``ValueError``); its
message is one line naming the offending value, and the file and field when a
file was loaded.
"""

import importlib
import typing as _typing

from ._errors import ContractError
from ._file_hash import sha256_file, sha256_stream
from ._fingerprints import (
    FAMILY_NAME_PATTERN,
    canonical_json,
    compute_feature_schema_sha,
    compute_schema_sha,
)

if _typing.TYPE_CHECKING:
    from ._drift import CountChange, DriftReport, StageDrift
    from ._json_io import (
        format_validation_error,
        load_json_file,
        load_manifest,
        load_run_record,
        parse_json,
        to_json_text,
        validate_plain,
    )
    from ._manifest import DATASET_FILES, FEATURE_SCHEMA_METADATA_KEY, ManifestV1
    from ._receipts import (
        KNOWN_STAGES,
        ErrorEntry,
        FileRef,
        FileSet,
        Receipt,
        ReceiptProducer,
        RecordStats,
        Validation,
        aggregate_sha256,
        load_receipt,
        receipt_fingerprint,
    )
    from ._run_record import (
        RUN_RECORD_VOLATILE,
        CategoryMetrics,
        DatasetRef,
        EngineRef,
        EvaluationRef,
        Gate,
        Metrics,
        ModelEntry,
        RunRecord,
        SplitQueryCounts,
        TuningSummary,
        ValidationRef,
        decide_gate,
        gate_verdict,
        run_record_content,
    )
    from ._summary import RunSummary, StageSummary
    from ._values import NAME_MAX_LENGTH, NAME_PATTERN, FileEntry, License, Producer, check_name

    __version__: str

# The pydantic models load on first use (PEP 562): building their classes is most of the
# package's import time, and a process that only hashes or fingerprints needs none of them.
_EXPORTS: dict[str, str] = {
    "CategoryMetrics": "tessera_contracts._run_record",
    "CountChange": "tessera_contracts._drift",
    "DATASET_FILES": "tessera_contracts._manifest",
    "DatasetRef": "tessera_contracts._run_record",
    "DriftReport": "tessera_contracts._drift",
    "EngineRef": "tessera_contracts._run_record",
    "ErrorEntry": "tessera_contracts._receipts",
    "EvaluationRef": "tessera_contracts._run_record",
    "FEATURE_SCHEMA_METADATA_KEY": "tessera_contracts._manifest",
    "FileEntry": "tessera_contracts._values",
    "FileRef": "tessera_contracts._receipts",
    "FileSet": "tessera_contracts._receipts",
    "Gate": "tessera_contracts._run_record",
    "KNOWN_STAGES": "tessera_contracts._receipts",
    "License": "tessera_contracts._values",
    "ManifestV1": "tessera_contracts._manifest",
    "Metrics": "tessera_contracts._run_record",
    "ModelEntry": "tessera_contracts._run_record",
    "NAME_MAX_LENGTH": "tessera_contracts._values",
    "NAME_PATTERN": "tessera_contracts._values",
    "Producer": "tessera_contracts._values",
    "RUN_RECORD_VOLATILE": "tessera_contracts._run_record",
    "Receipt": "tessera_contracts._receipts",
    "ReceiptProducer": "tessera_contracts._receipts",
    "RecordStats": "tessera_contracts._receipts",
    "RunRecord": "tessera_contracts._run_record",
    "RunSummary": "tessera_contracts._summary",
    "SplitQueryCounts": "tessera_contracts._run_record",
    "StageDrift": "tessera_contracts._drift",
    "StageSummary": "tessera_contracts._summary",
    "TuningSummary": "tessera_contracts._run_record",
    "Validation": "tessera_contracts._receipts",
    "ValidationRef": "tessera_contracts._run_record",
    "aggregate_sha256": "tessera_contracts._receipts",
    "check_name": "tessera_contracts._values",
    "decide_gate": "tessera_contracts._run_record",
    "format_validation_error": "tessera_contracts._json_io",
    "gate_verdict": "tessera_contracts._run_record",
    "load_json_file": "tessera_contracts._json_io",
    "load_manifest": "tessera_contracts._json_io",
    "load_receipt": "tessera_contracts._receipts",
    "load_run_record": "tessera_contracts._json_io",
    "parse_json": "tessera_contracts._json_io",
    "receipt_fingerprint": "tessera_contracts._receipts",
    "run_record_content": "tessera_contracts._run_record",
    "to_json_text": "tessera_contracts._json_io",
    "validate_plain": "tessera_contracts._json_io",
}

__all__ = [
    "DATASET_FILES",
    "FAMILY_NAME_PATTERN",
    "FEATURE_SCHEMA_METADATA_KEY",
    "KNOWN_STAGES",
    "NAME_MAX_LENGTH",
    "NAME_PATTERN",
    "RUN_RECORD_VOLATILE",
    "CategoryMetrics",
    "ContractError",
    "CountChange",
    "DatasetRef",
    "DriftReport",
    "EngineRef",
    "ErrorEntry",
    "EvaluationRef",
    "FileEntry",
    "FileRef",
    "FileSet",
    "Gate",
    "License",
    "ManifestV1",
    "Metrics",
    "ModelEntry",
    "Producer",
    "Receipt",
    "ReceiptProducer",
    "RecordStats",
    "RunRecord",
    "RunSummary",
    "SplitQueryCounts",
    "StageDrift",
    "StageSummary",
    "TuningSummary",
    "Validation",
    "ValidationRef",
    "__version__",
    "aggregate_sha256",
    "canonical_json",
    "check_name",
    "compute_feature_schema_sha",
    "compute_schema_sha",
    "decide_gate",
    "format_validation_error",
    "gate_verdict",
    "load_json_file",
    "load_manifest",
    "load_receipt",
    "load_run_record",
    "parse_json",
    "receipt_fingerprint",
    "run_record_content",
    "sha256_file",
    "sha256_stream",
    "to_json_text",
    "validate_plain",
]


def __getattr__(name: str) -> _typing.Any:
    if name == "__version__":
        from importlib.metadata import version

        value: _typing.Any = version("tessera-contracts")
    elif (module := _EXPORTS.get(name)) is not None:
        value = getattr(importlib.import_module(module), name)
    else:
        raise AttributeError(f"module 'tessera_contracts' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
