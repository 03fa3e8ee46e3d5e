"""``tessera-serve``: a thin argparse layer over the serving facade (``tessera_serving``).

Each command group lives in its own module under ``tessera_serving.cli`` and exposes
``add_parser(subparsers)``; the parser's ``func(args) -> int`` does the work.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

import tessera_serving as api
from tessera_serving import __version__
from tessera_serving.errors import ServingError

# Command modules, in the order their commands appear in --help.
COMMAND_MODULES: tuple[str, ...] = (
    "db",
    "schemas",
    "register",
    "models",
    "lifecycle",
    "score",
    "compile",
    "rescore",
    "jobs",
    "scores",
    "receipts",
    "http",
)


def build_parser() -> argparse.ArgumentParser:
    """The full ``tessera-serve`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="tessera-serve",
        description="Register LightGBM re-rankers; score behind a strict feature-schema guard.",
    )
    parser.add_argument("--version", action="version", version=f"tessera-serve {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"tessera_serving.cli.{name}").add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the process exit code (0 ok, 1 error, 2 usage)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    api.configure()  # after parsing: --help and usage errors load nothing they do not need
    try:
        return int(args.func(args))
    except Exception as exc:
        if not _is_user_error(exc):
            raise
        print(f"tessera-serve: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("tessera-serve: interrupted", file=sys.stderr)
        return 130


def _is_user_error(exc: Exception) -> bool:
    """Serving's errors, and the contracts' (a ContractError exists only once they loaded)."""
    if isinstance(exc, ServingError):
        return True
    contracts = sys.modules.get("tessera_contracts")
    return contracts is not None and isinstance(exc, contracts.ContractError)


def entrypoint() -> None:
    """Console-script entry point."""
    sys.exit(main())
