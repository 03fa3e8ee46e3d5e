"""Serving's error tree.

    ServingError (Exception)                 base of everything serving raises on purpose
    ├── ConfigurationError (ValueError)      a setting (threads, backend, URL, reference) is invalid
    ├── RegistrationError (ValueError)       a run directory or artifact cannot be registered
    ├── PromotionError (ValueError)          a model version may not reach production
    ├── NotFoundError (LookupError)          a model, job, schema or artifact does not exist
    ├── ArtifactError (RuntimeError)         the artifact store is missing or corrupt content
    ├── RegistryError (RuntimeError)         the database failed (translated in one place)
    │   └── SchemaRevisionError              the database is not at the code's revision
    └── ScoringError (RuntimeError)          a scoring job's input cannot be read or written

Messages are one line: what was expected, what was found, where, and which
command fixes it. A schema mismatch at scoring time is *not* an error: the guard
records an event and falls back to the base ordering.
"""

from __future__ import annotations


class ServingError(Exception):
    """Base of serving's errors."""


class ConfigurationError(ServingError, ValueError):
    """A setting is invalid: a thread count, a backend, a database URL, a model reference."""


class RegistrationError(ServingError, ValueError):
    """A run directory or artifact cannot be registered (tampered, incomplete, unknown schema)."""


class PromotionError(ServingError, ValueError):
    """A model version cannot be promoted (gate verdict, smoke run, missing fingerprint)."""


class NotFoundError(ServingError, LookupError):
    """A model, job, live schema or artifact that was asked for does not exist."""


class ArtifactError(ServingError, RuntimeError):
    """The artifact store is missing content or holds content that does not hash to its key."""


class RegistryError(ServingError, RuntimeError):
    """The registry database failed; raised only by the one translation point."""


class SchemaRevisionError(RegistryError):
    """The registry database is not at the revision this code expects."""


class ScoringError(ServingError, RuntimeError):
    """A scoring job's input or output cannot be read or written."""
