"""Tessera serving: the model registry, the artifact store and schema-guarded scoring.

This module is the facade: the CLI, the HTTP service and library users call only the names
in ``__all__``. They load on first use (PEP 562), so ``import tessera_serving`` stays cheap
and changes nothing process-wide; programs call :func:`configure` once at start.
Errors are documented in ``tessera_serving.errors``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tessera_serving.errors import (
    ArtifactError,
    ConfigurationError,
    NotFoundError,
    PromotionError,
    RegistrationError,
    RegistryError,
    SchemaMismatchError,
    SchemaRevisionError,
    ScoringError,
    ServingError,
)

if TYPE_CHECKING:
    from tessera_serving._process import configure
    from tessera_serving.backends.threads import resolve_num_threads
    from tessera_serving.config import ServingConfig
    from tessera_serving.registry.backfill import BackfillChange, backfill_schema_sha_v2
    from tessera_serving.registry.engine import (
        Registry,
        open_registry,
        registry_revisions,
        upgrade_registry,
    )
    from tessera_serving.registry.live_schemas import (
        LiveSchemaInfo,
        add_live_schema,
        list_live_schemas,
        schema_from_manifest,
        schema_from_yaml,
    )
    from tessera_serving.registry.models import (
        ModelRow,
        ResolvedModel,
        VersionSummary,
        describe_version,
        list_versions,
        resolve_model,
    )
    from tessera_serving.registry.promotion import (
        Promoted,
        promote,
        promotion_history,
    )
    from tessera_serving.registry.readiness import registry_problems
    from tessera_serving.registry.receipt_store import (
        export_receipts,
        latest_runs,
        receipts_for_job,
        receipts_for_run,
    )
    from tessera_serving.registry.reference_import import import_run_record
    from tessera_serving.registry.register import (
        Registered,
        import_by_reference,
        register_runs,
    )
    from tessera_serving.registry.verify import VerifyReport, verify_registry
    from tessera_serving.scoring.input_spec import is_partitioned_input
    from tessera_serving.scoring.job_claims import Claim, JobClaims
    from tessera_serving.scoring.jobs import get_job, job_events
    from tessera_serving.scoring.parquet_io import read_feature_schema_file
    from tessera_serving.scoring.partitioned import PartitionedResult, run_partitioned_job
    from tessera_serving.scoring.payload_jobs import prediction_set, run_payload_job
    from tessera_serving.scoring.precompile import Precompiled, precompile
    from tessera_serving.scoring.readback import audit_trail, list_jobs, stored_scores
    from tessera_serving.scoring.request_records import (
        RequestRecord,
        RequestRecorder,
        score_and_record,
    )
    from tessera_serving.scoring.request_rescore import rescore_and_record
    from tessera_serving.scoring.rescore import RescoreResult, run_rescore
    from tessera_serving.scoring.score_job import (
        ScoreJobResult,
        ScoreOptions,
        run_score_job,
    )
    from tessera_serving.scoring.served import (
        ServedModel,
        TableScore,
        describe_loaded,
        event_reasons,
        load_served_model,
        resolve_shas,
        score_table,
    )
    from tessera_serving.scoring.sweep_pages import Pace

__version__: str  # read from the installed distribution on first access (``__getattr__``)

# Facade name -> the module that defines it (imported on first access).
_EXPORTS: dict[str, str] = {
    "configure": "tessera_serving._process",
    "ServingConfig": "tessera_serving.config",
    "Registry": "tessera_serving.registry.engine",
    "open_registry": "tessera_serving.registry.engine",
    "registry_revisions": "tessera_serving.registry.engine",
    "upgrade_registry": "tessera_serving.registry.engine",
    "LiveSchemaInfo": "tessera_serving.registry.live_schemas",
    "add_live_schema": "tessera_serving.registry.live_schemas",
    "list_live_schemas": "tessera_serving.registry.live_schemas",
    "schema_from_manifest": "tessera_serving.registry.live_schemas",
    "schema_from_yaml": "tessera_serving.registry.live_schemas",
    "Registered": "tessera_serving.registry.register",
    "import_by_reference": "tessera_serving.registry.register",
    "register_runs": "tessera_serving.registry.register",
    "ModelRow": "tessera_serving.registry.models",
    "ResolvedModel": "tessera_serving.registry.models",
    "VersionSummary": "tessera_serving.registry.models",
    "describe_version": "tessera_serving.registry.models",
    "list_versions": "tessera_serving.registry.models",
    "resolve_model": "tessera_serving.registry.models",
    "Promoted": "tessera_serving.registry.promotion",
    "promote": "tessera_serving.registry.promotion",
    "promotion_history": "tessera_serving.registry.promotion",
    "VerifyReport": "tessera_serving.registry.verify",
    "verify_registry": "tessera_serving.registry.verify",
    "BackfillChange": "tessera_serving.registry.backfill",
    "backfill_schema_sha_v2": "tessera_serving.registry.backfill",
    "export_receipts": "tessera_serving.registry.receipt_store",
    "latest_runs": "tessera_serving.registry.receipt_store",
    "receipts_for_job": "tessera_serving.registry.receipt_store",
    "receipts_for_run": "tessera_serving.registry.receipt_store",
    "ScoreJobResult": "tessera_serving.scoring.score_job",
    "ScoreOptions": "tessera_serving.scoring.score_job",
    "run_score_job": "tessera_serving.scoring.score_job",
    "PartitionedResult": "tessera_serving.scoring.partitioned",
    "is_partitioned_input": "tessera_serving.scoring.input_spec",
    "run_partitioned_job": "tessera_serving.scoring.partitioned",
    "RescoreResult": "tessera_serving.scoring.rescore",
    "run_rescore": "tessera_serving.scoring.rescore",
    "Pace": "tessera_serving.scoring.sweep_pages",
    "read_feature_schema_file": "tessera_serving.scoring.parquet_io",
    "get_job": "tessera_serving.scoring.jobs",
    "job_events": "tessera_serving.scoring.jobs",
    "list_jobs": "tessera_serving.scoring.readback",
    "stored_scores": "tessera_serving.scoring.readback",
    "audit_trail": "tessera_serving.scoring.readback",
    "resolve_num_threads": "tessera_serving.backends.threads",
    "Precompiled": "tessera_serving.scoring.precompile",
    "precompile": "tessera_serving.scoring.precompile",
    "registry_problems": "tessera_serving.registry.readiness",
    "import_run_record": "tessera_serving.registry.reference_import",
    "RequestRecord": "tessera_serving.scoring.request_records",
    "RequestRecorder": "tessera_serving.scoring.request_records",
    "score_and_record": "tessera_serving.scoring.request_records",
    "ServedModel": "tessera_serving.scoring.served",
    "TableScore": "tessera_serving.scoring.served",
    "describe_loaded": "tessera_serving.scoring.served",
    "event_reasons": "tessera_serving.scoring.served",
    "load_served_model": "tessera_serving.scoring.served",
    "resolve_shas": "tessera_serving.scoring.served",
    "score_table": "tessera_serving.scoring.served",
    "rescore_and_record": "tessera_serving.scoring.request_rescore",
    "Claim": "tessera_serving.scoring.job_claims",
    "JobClaims": "tessera_serving.scoring.job_claims",
    "prediction_set": "tessera_serving.scoring.payload_jobs",
    "run_payload_job": "tessera_serving.scoring.payload_jobs",
}

__all__ = [
    "ArtifactError",
    "BackfillChange",
    "Claim",
    "ConfigurationError",
    "JobClaims",
    "LiveSchemaInfo",
    "ModelRow",
    "NotFoundError",
    "Pace",
    "PartitionedResult",
    "Precompiled",
    "Promoted",
    "PromotionError",
    "Registered",
    "RegistrationError",
    "Registry",
    "RegistryError",
    "RequestRecord",
    "RequestRecorder",
    "RescoreResult",
    "ResolvedModel",
    "SchemaMismatchError",
    "SchemaRevisionError",
    "ScoreJobResult",
    "ScoreOptions",
    "ScoringError",
    "ServedModel",
    "ServingConfig",
    "ServingError",
    "TableScore",
    "VerifyReport",
    "VersionSummary",
    "__version__",
    "add_live_schema",
    "audit_trail",
    "backfill_schema_sha_v2",
    "configure",
    "describe_loaded",
    "describe_version",
    "event_reasons",
    "export_receipts",
    "get_job",
    "import_by_reference",
    "import_run_record",
    "is_partitioned_input",
    "job_events",
    "latest_runs",
    "list_jobs",
    "list_live_schemas",
    "list_versions",
    "load_served_model",
    "open_registry",
    "precompile",
    "prediction_set",
    "promote",
    "promotion_history",
    "read_feature_schema_file",
    "receipts_for_job",
    "receipts_for_run",
    "register_runs",
    "registry_problems",
    "registry_revisions",
    "rescore_and_record",
    "resolve_model",
    "resolve_num_threads",
    "resolve_shas",
    "run_partitioned_job",
    "run_payload_job",
    "run_rescore",
    "run_score_job",
    "schema_from_manifest",
    "schema_from_yaml",
    "score_and_record",
    "score_table",
    "stored_scores",
    "upgrade_registry",
    "verify_registry",
]


def __getattr__(name: str) -> Any:
    if name == "__version__":  # importlib.metadata is ~0.02 CPU-s that --help does not need
        from importlib.metadata import version

        value: Any = version("tessera-serving")
        globals()[name] = value
        return value
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tessera_serving' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
