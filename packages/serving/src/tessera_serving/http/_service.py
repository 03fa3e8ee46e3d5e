"""The one place the HTTP layer imports serving's Python API from: the package facade.

Every route calls these names and nothing deeper.
"""

from __future__ import annotations

from tessera_serving import (
    Claim,
    JobClaims,
    Registry,
    RequestRecord,
    RequestRecorder,
    SchemaMismatchError,
    ServedModel,
    TableScore,
    configure,
    describe_loaded,
    describe_version,
    event_reasons,
    get_job,
    import_run_record,
    job_events,
    list_jobs,
    list_versions,
    load_served_model,
    open_registry,
    prediction_set,
    promote,
    registry_problems,
    resolve_shas,
    run_payload_job,
    score_and_record,
    score_table,
)

__all__ = [
    "Claim",
    "JobClaims",
    "Registry",
    "RequestRecord",
    "RequestRecorder",
    "SchemaMismatchError",
    "ServedModel",
    "TableScore",
    "configure",
    "describe_loaded",
    "describe_version",
    "event_reasons",
    "get_job",
    "import_run_record",
    "job_events",
    "list_jobs",
    "list_versions",
    "load_served_model",
    "open_registry",
    "prediction_set",
    "promote",
    "registry_problems",
    "resolve_shas",
    "run_payload_job",
    "score_and_record",
    "score_table",
]
