"""``tessera-lab``: a thin argparse layer over the lab's facade (``tessera_lab``'s ``__all__``).

Each command group lives in its own module under ``tessera_lab.cli`` and exposes
``add_parser(subparsers)``; the parser's ``func(args) -> int`` does the work by calling the
facade only (import-linter checks it). Facade names are looked up when a command runs, so
``--help`` loads neither numpy, pyarrow nor LightGBM.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from collections.abc import Sequence

import tessera_lab as lab
from tessera_contracts import ContractError
from tessera_lab.errors import LabError

# Command modules, in the order their commands appear in --help.
COMMAND_MODULES: tuple[str, ...] = ("dataset", "train", "tune", "report", "receipts")


def build_parser() -> argparse.ArgumentParser:
    """The full ``tessera-lab`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="tessera-lab",
        description="Train and evaluate LightGBM re-rankers and write run directories.",
    )
    parser.add_argument("--version", action="version", version=f"tessera-lab {lab.__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"tessera_lab.cli.{name}").add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the process exit code (0 ok, 1 error, 2 usage)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    lab.configure()
    try:
        return int(args.func(args))
    except LabError as exc:
        flags = ", ".join("--" + name.replace("_", "-") for name in exc.options)
        print(f"tessera-lab: error: {exc}" + (f" (see {flags})" if flags else ""), file=sys.stderr)
        return 1
    except ContractError as exc:
        print(f"tessera-lab: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("tessera-lab: interrupted", file=sys.stderr)
        return 130


def entrypoint() -> None:
    """Console-script entry point; a reader that goes away (``| head``) ends it quietly."""
    try:
        try:
            code: int | str | None = main()
        except SystemExit as exc:  # argparse's --help, --version and usage errors
            code = exc.code
        sys.stdout.flush()
    except BrokenPipeError:
        # Nobody reads stdout any more: discard what is still buffered and stop as SIGPIPE would.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 128 + signal.SIGPIPE
    sys.exit(code)
