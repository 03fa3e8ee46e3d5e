"""The guard's events (DESIGN.md section 6): names, levels, and one JSON log line each.

``reranker.applied`` (info): ``reranker_model_id``, ``schema_sha``, ``rows``.
``reranker.schema_mismatch`` (error): ``expected_sha``, ``live_sha``, ``reranker_model_id``,
and, when the model's feature schema is known, ``missing_columns``/``extra_columns`` per family.
``reranker.skipped`` (warning): ``reason`` (one of ``SKIP_REASONS``) and what explains it.

Every event is logged through stdlib ``logging`` (logger ``tessera.events``) as one JSON line
at its level, and handed to a sink (a job records it as a registry row). Fields beyond the
required ones (``model``, ``cell``, ``model_sha256``, ``detail``, ...) add context only.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

APPLIED = "reranker.applied"
SCHEMA_MISMATCH = "reranker.schema_mismatch"
SKIPPED = "reranker.skipped"

EXPLICIT_VERSION = "model.explicit_version"
SPLIT_QUERIES = "query.split_across_partitions"

LEVELS = {
    APPLIED: "info",
    SCHEMA_MISMATCH: "error",
    SKIPPED: "warning",
    EXPLICIT_VERSION: "warning",
    SPLIT_QUERIES: "warning",
}

# reranker.skipped reasons.
NO_FEATURE_SCHEMA = "no_feature_schema"
INVALID_FEATURE_SCHEMA = "invalid_feature_schema"
SCHEMA_SHA_V2_MISSING = "schema_sha_v2_missing"
NO_BOOSTER_FOR_CELL = "no_booster_for_cell"
MODEL_NOT_PRODUCTION = "model_not_production"
FEATURE_COLUMNS_MISSING = "feature_columns_missing"
FEATURE_COLUMN_NOT_NUMERIC = "feature_column_not_numeric"
SKIP_REASONS = (
    NO_FEATURE_SCHEMA,
    INVALID_FEATURE_SCHEMA,
    SCHEMA_SHA_V2_MISSING,
    NO_BOOSTER_FOR_CELL,
    MODEL_NOT_PRODUCTION,
    FEATURE_COLUMNS_MISSING,
    FEATURE_COLUMN_NOT_NUMERIC,
)

LOGGER_NAME = "tessera.events"
_LOG_LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def model_not_in_stage_reason(stage: str) -> str:
    """``model_not_production`` for the production stage, ``model_not_<stage>`` otherwise."""
    return f"model_not_{stage}"


@dataclass(frozen=True)
class Event:
    """One event: dotted name, level (``info``/``warning``/``error``) and JSON-ready fields."""

    name: str
    level: str
    fields: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """``{"event": name, "level": level, **fields}``: the log line's and the API's shape."""
        return {"event": self.name, "level": self.level, **self.fields}

    def to_json(self) -> str:
        """The event as one JSON line (keys sorted so equal events log equal lines)."""
        return json.dumps(self.as_dict(), sort_keys=True, default=str)


def applied(model_id: int, schema_sha: str, rows: int, **extra: Any) -> Event:
    """``reranker.applied``: the booster ``model_id`` scored ``rows`` rows."""
    fields = {"reranker_model_id": model_id, "schema_sha": schema_sha, "rows": rows, **extra}
    return Event(APPLIED, LEVELS[APPLIED], fields)


def schema_mismatch(model_id: int, expected_sha: str, live_sha: str, **extra: Any) -> Event:
    """``reranker.schema_mismatch``: the live fingerprint differs from the model's."""
    fields = {
        "expected_sha": expected_sha,
        "live_sha": live_sha,
        "reranker_model_id": model_id,
        **extra,
    }
    return Event(SCHEMA_MISMATCH, LEVELS[SCHEMA_MISMATCH], fields)


def skipped(reason: str, **extra: Any) -> Event:
    """``reranker.skipped`` with ``reason`` and whatever explains it."""
    return Event(SKIPPED, LEVELS[SKIPPED], {"reason": reason, **extra})


def explicit_version(model: str, stage: str) -> Event:
    """``model.explicit_version``: the job scores with ``model`` (named), in ``stage``."""
    return Event(EXPLICIT_VERSION, LEVELS[EXPLICIT_VERSION], {"model": model, "stage": stage})


def split_queries(count: int, **extra: Any) -> Event:
    """``query.split_across_partitions``: ``count`` queries were ranked within each partition
    they have rows in, because the job allowed it."""
    return Event(SPLIT_QUERIES, LEVELS[SPLIT_QUERIES], {"queries": count, **extra})


EventSink = Callable[[Event], None]


def log_event(event: Event) -> None:
    """Log ``event`` as one JSON line at its level on the ``tessera.events`` logger."""
    logging.getLogger(LOGGER_NAME).log(_LOG_LEVELS.get(event.level, logging.INFO), event.to_json())


class EventLog:
    """Collects events in order, logs each as it arrives, and forwards it to ``sink``."""

    def __init__(self, sink: EventSink | None = None) -> None:
        self.events: list[Event] = []
        self._sink = sink

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        log_event(event)
        if self._sink is not None:
            self._sink(event)

    def names(self) -> list[str]:
        """The event names so far, in order."""
        return [e.name for e in self.events]


def configure_event_logging(stream: Any = None) -> None:
    """Send ``tessera.events`` lines (bare JSON, level info and up) to stderr; idempotent."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    if not any(getattr(h, "_tessera_events", False) for h in logger.handlers):
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler._tessera_events = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
