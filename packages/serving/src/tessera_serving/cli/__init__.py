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
from tessera_serving.errors import ServingError

# Command modules, in the order their commands appear in --help, and the commands each adds
# (a test checks them against the modules).
COMMANDS: dict[str, tuple[str, ...]] = {
    "db": ("db",),
    "schemas": ("schemas",),
    "register": ("register", "import-by-reference"),
    "models": ("models",),
    "lifecycle": ("promote", "verify", "backfill-schema-sha-v2"),
    "score": ("score",),
    "compile": ("compile",),
    "rescore": ("rescore",),
    "jobs": ("jobs", "events"),
    "scores": ("scores",),
    "receipts": ("receipts", "drift"),
    "http": ("http",),
}
COMMAND_MODULES: tuple[str, ...] = tuple(COMMANDS)


class _VersionAction(argparse.Action):
    """``--version``: the installed distribution's version, read only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(
            option_strings, dest, nargs=0, default=argparse.SUPPRESS,
            help="show program's version number and exit",
        )  # fmt: skip

    def __call__(self, parser: argparse.ArgumentParser, *_args: object) -> None:
        print(f"tessera-serve {api.__version__}")
        parser.exit()


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``tessera-serve`` argument parser: every command, or only the module of ``command``.

    A run needs only its own command's parser; importing and building the others (the
    receipts commands load the contract's models) would cost every run ~0.05 CPU-s.
    """
    parser = argparse.ArgumentParser(
        prog="tessera-serve",
        description="Register LightGBM re-rankers; score behind a strict feature-schema guard.",
    )
    parser.add_argument("--version", action=_VersionAction)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = [name for name, commands in COMMANDS.items() if command in commands]
    for name in chosen or COMMAND_MODULES:
        importlib.import_module(f"tessera_serving.cli.{name}").add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the process exit code (0 ok, 1 error, 2 usage)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv[0] if argv else None)
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
