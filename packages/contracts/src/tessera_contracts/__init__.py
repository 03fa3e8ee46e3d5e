"""Tessera's contract between the lab and serving.

Tiny and stable: pydantic is the only dependency. It holds the one implementation
of the feature-schema fingerprints, the dataset manifest (``ManifestV1``), the
run record (``RunRecord``), and the stage receipts (``Receipt``, ``ReceiptRecorder``)
with their run summary and drift report. See DESIGN.md sections 2, 3, 5 and 7.

Errors: every contract violation raises ``ContractError`` (a ``ValueError``); its
message is one line naming the offending value, and the file and field when a
file was loaded.
"""

from importlib.metadata import version as _version

from ._drift import (
    DRIFT_THRESHOLD_ENV,
    FAIL_ON_CHOICES,
    CountChange,
    DriftReport,
    StageDrift,
    compare_runs,
    drift_reaches,
    render_drift_markdown,
    resolve_drift_threshold,
)
from ._errors import ContractError
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
    load_receipts,
    receipt_fingerprint,
    receipt_path,
    write_receipt,
)
from ._recorder import (
    PIPELINE_ENV,
    RECEIPTS_DIR_ENV,
    RUN_ID_ENV,
    ReceiptRecorder,
    git_commit,
    resolve_pipeline,
    resolve_run_id,
    sha256_file,
)
from ._run_record import (
    CategoryMetrics,
    DatasetRef,
    EvaluationRef,
    Gate,
    Metrics,
    ModelEntry,
    RunRecord,
    SplitQueryCounts,
    TuningSummary,
    ValidationRef,
)
from ._run_report import RunReport, find_previous_run, write_run_report
from ._summary import (
    RunSummary,
    StageSummary,
    render_receipt_markdown,
    render_summary_markdown,
    summarize_run,
)
from ._values import FileEntry, License, Producer

__version__ = _version("tessera-contracts")

__all__ = [
    "DATASET_FILES",
    "DRIFT_THRESHOLD_ENV",
    "FAIL_ON_CHOICES",
    "FAMILY_NAME_PATTERN",
    "FEATURE_SCHEMA_METADATA_KEY",
    "KNOWN_STAGES",
    "PIPELINE_ENV",
    "RECEIPTS_DIR_ENV",
    "RUN_ID_ENV",
    "CategoryMetrics",
    "ContractError",
    "CountChange",
    "DatasetRef",
    "DriftReport",
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
    "ReceiptRecorder",
    "RecordStats",
    "RunRecord",
    "RunReport",
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
    "compare_runs",
    "compute_feature_schema_sha",
    "compute_schema_sha",
    "drift_reaches",
    "find_previous_run",
    "format_validation_error",
    "git_commit",
    "load_json_file",
    "load_manifest",
    "load_receipt",
    "load_receipts",
    "load_run_record",
    "parse_json",
    "receipt_fingerprint",
    "receipt_path",
    "render_drift_markdown",
    "render_receipt_markdown",
    "render_summary_markdown",
    "resolve_drift_threshold",
    "resolve_pipeline",
    "resolve_run_id",
    "sha256_file",
    "summarize_run",
    "to_json_text",
    "validate_plain",
    "write_receipt",
    "write_run_report",
]
