"""What every ``tessera-serve`` command shares: the location flags and their configuration."""

from __future__ import annotations

import argparse
import logging
import sys

from tessera_serving.config import (
    ARTIFACTS_URL_ENV,
    DATABASE_URL_ENV,
    DEFAULT_HOME,
    HOME_ENV,
    ServingConfig,
)


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--home``, ``--database-url`` and ``--artifacts-url`` to a (sub)command parser."""
    group = parser.add_argument_group("locations")
    group.add_argument(
        "--home",
        metavar="DIR",
        default=None,
        help=f"state directory (env {HOME_ENV}; default ./{DEFAULT_HOME})",
    )
    group.add_argument(
        "--database-url",
        metavar="URL",
        default=None,
        help=f"registry database URL (env {DATABASE_URL_ENV}; default sqlite:///<home>/registry.db)",
    )
    group.add_argument(
        "--artifacts-url",
        metavar="URL",
        default=None,
        help=f"store path or fsspec URL (env {ARTIFACTS_URL_ENV}; default <home>/artifacts)",
    )


def config_from_args(args: argparse.Namespace) -> ServingConfig:
    """The configuration for parsed CLI arguments (flags win over the environment)."""
    return ServingConfig.from_env(
        state_dir=getattr(args, "home", None),
        database_url=getattr(args, "database_url", None),
        artifacts_url=getattr(args, "artifacts_url", None),
    )


LOG_LEVELS = ("info", "warning", "error")
# Literals so parsing needs no registry import; a test checks them against the registry.
STAGE_CHOICES = ("none", "staging", "production", "archived")


def add_event_arguments(parser: argparse.ArgumentParser) -> None:
    """``--log-level`` and ``--quiet``: which per-batch JSON event lines reach stderr."""
    group = parser.add_argument_group("event log (JSON lines on stderr)")
    group.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default="info",
        help="lowest event level printed (default info); events are recorded regardless",
    )
    group.add_argument("--quiet", action="store_true", help="print no event lines")


def event_level(args: argparse.Namespace) -> int:
    """The ``logging`` level for the event lines the flags ask for."""
    if getattr(args, "quiet", False):
        return logging.CRITICAL + 1
    return int(getattr(logging, str(getattr(args, "log_level", "info")).upper()))


def positive_int_error(args: argparse.Namespace, *names: str) -> str | None:
    """A one-line usage error for the first of ``names`` (attr names) set below 1, else None."""
    for name in names:
        value = getattr(args, name, None)
        if value is not None and value < 1:
            flag = "--" + name.replace("_", "-")
            return f"{flag} must be an integer >= 1, got {value}"
    return None


def usage_error(message: str) -> int:
    """Print ``message`` as the one-line usage error and return exit code 2."""
    print(f"tessera-serve: error: {message}", file=sys.stderr)
    return 2
