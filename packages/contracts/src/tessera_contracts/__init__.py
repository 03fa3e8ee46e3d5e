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

from importlib.metadata import version as _version

from ._drift import CountChange, DriftReport, StageDrift
from ._errors import ContractError
from ._file_hash import sha256_file, sha256_stream
from ._fingerprints import (
    FAMILY_NAME_PATTERN,
    canonical_json,
    compute_feature_schema_sha,
    compute_schema_sha,
)
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

__version__ = _version("tessera-contracts")

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
