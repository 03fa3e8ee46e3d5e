"""The one place the HTTP layer imports serving's Python API from.

Every route calls these names and nothing deeper; repointing them (to the package facade)
is a change to this file only.
"""

from __future__ import annotations

from tessera_serving.errors import SchemaMismatchError
from tessera_serving.job_listing import list_jobs
from tessera_serving.jobs import get_job, job_events
from tessera_serving.model_docs import list_model_documents, model_document
from tessera_serving.models_api import list_versions
from tessera_serving.promotion import promote
from tessera_serving.reference_import import import_run_record
from tessera_serving.registry import Registry, check_revision, open_registry
from tessera_serving.request_records import RequestRecord, RequestRecorder, score_and_record
from tessera_serving.served import (
    ServedModel,
    TableScore,
    describe_loaded,
    event_reasons,
    load_served_model,
    resolve_shas,
    score_table,
)

__all__ = [
    "Registry",
    "RequestRecord",
    "RequestRecorder",
    "SchemaMismatchError",
    "ServedModel",
    "TableScore",
    "check_revision",
    "describe_loaded",
    "event_reasons",
    "get_job",
    "import_run_record",
    "job_events",
    "list_jobs",
    "list_model_documents",
    "list_versions",
    "load_served_model",
    "model_document",
    "open_registry",
    "promote",
    "resolve_shas",
    "score_and_record",
    "score_table",
]
