"""Tessera's contract between the lab and serving.

Tiny and stable: pydantic is the only dependency. It holds the one implementation
of the feature-schema fingerprints, the dataset manifest (``ManifestV1``) and the
run record (``RunRecord``). See DESIGN.md sections 2, 3 and 5.

Errors: every contract violation raises ``ContractError`` (a ``ValueError``); its
message is one line naming the offending value, and the file and field when a
file was loaded.
"""

from importlib.metadata import version as _version

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
from ._run_record import (
    CategoryMetrics,
    DatasetRef,
    Gate,
    Metrics,
    ModelEntry,
    RunRecord,
    TuningSummary,
)
from ._values import FileEntry, License, Producer

__version__ = _version("tessera-contracts")

__all__ = [
    "DATASET_FILES",
    "FAMILY_NAME_PATTERN",
    "FEATURE_SCHEMA_METADATA_KEY",
    "CategoryMetrics",
    "ContractError",
    "DatasetRef",
    "FileEntry",
    "Gate",
    "License",
    "ManifestV1",
    "Metrics",
    "ModelEntry",
    "Producer",
    "RunRecord",
    "TuningSummary",
    "__version__",
    "canonical_json",
    "compute_feature_schema_sha",
    "compute_schema_sha",
    "format_validation_error",
    "load_json_file",
    "load_manifest",
    "load_run_record",
    "parse_json",
    "to_json_text",
    "validate_plain",
]
