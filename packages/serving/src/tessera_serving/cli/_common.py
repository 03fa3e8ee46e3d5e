"""What every ``tessera-serve`` command shares: the location flags and their configuration."""

from __future__ import annotations

import argparse

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
