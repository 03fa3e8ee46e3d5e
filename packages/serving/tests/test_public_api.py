"""The serving facade: a sorted ``__all__`` of lazily loaded names, kept honest three ways.

``_EXPORTS`` (name -> defining module), the ``TYPE_CHECKING`` import block (what type
checkers see) and ``__all__`` must agree, every name must resolve to the object its module
defines, and importing the package must load none of the heavy libraries.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import tessera_serving
import tessera_serving.cli as cli
from tessera_serving import errors


def ruff_sort_key(name: str) -> tuple[int, str]:
    """RUF022's "isort-style" order: SCREAMING_CASE, then CamelCase, then everything else."""
    if name.isupper() and len(name) > 1:
        return 0, name
    return (1 if name[0].isupper() else 2), name


def _type_checking_imports() -> dict[str, str]:
    tree = ast.parse(Path(tessera_serving.__file__).read_text(encoding="utf-8"))
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom) and stmt.module is not None
                found.update({alias.name: stmt.module for alias in stmt.names})
    return found


def test_all_is_sorted_and_unique() -> None:
    names = list(tessera_serving.__all__)
    assert names == sorted(names, key=ruff_sort_key)
    assert len(names) == len(set(names))


def test_exports_type_checking_block_and_all_agree() -> None:
    lazy = dict(tessera_serving._EXPORTS)
    assert _type_checking_imports() == lazy
    error_names = {
        n
        for n, v in vars(errors).items()
        if isinstance(v, type) and v.__module__ == errors.__name__
    }
    assert set(tessera_serving.__all__) == set(lazy) | error_names | {"__version__"}


def test_every_name_resolves_to_what_its_module_defines() -> None:
    for name, module in tessera_serving._EXPORTS.items():
        assert getattr(tessera_serving, name) is getattr(importlib.import_module(module), name)
    for name in tessera_serving.__all__:
        assert not name.startswith("_") or name == "__version__"
        assert hasattr(tessera_serving, name), name


def test_unknown_names_are_attribute_errors() -> None:
    try:
        tessera_serving.no_such_name  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_every_error_is_under_the_root_and_a_builtin() -> None:
    for name in tessera_serving.__all__:
        value = getattr(tessera_serving, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, tessera_serving.ServingError), name
            builtin = [b for b in value.__mro__ if b.__module__ == "builtins"]
            assert builtin[0] is not Exception or value is tessera_serving.ServingError, name


def test_importing_the_facade_is_cheap_and_changes_nothing() -> None:
    probe = (
        "import os, sys; before = dict(os.environ); import tessera_serving; "
        "heavy = [m for m in ('sqlalchemy', 'alembic', 'pyarrow', 'lightgbm', 'numpy') "
        "if m in sys.modules]; print(heavy, dict(os.environ) == before)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[] True"


def test_importing_the_scoring_modules_starts_no_thread() -> None:
    # Executors are created when first needed, never at import.
    probe = (
        "import threading; import tessera_serving.scoring.score_job, "
        "tessera_serving.scoring.rescore; print(threading.active_count())"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "1"


def test_version_is_the_distribution_version() -> None:
    assert tessera_serving.__version__ == version("tessera-serving")


def test_building_the_cli_parser_loads_no_heavy_library() -> None:
    probe = (
        "import sys; import tessera_serving.cli as cli; cli.build_parser(); "
        "heavy = ('sqlalchemy', 'alembic', 'pyarrow', 'numpy', 'lightgbm', 'fastapi', "
        "'uvicorn', 'dask', 'pandas', 'yaml'); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"  # `tessera-serve --help` pays for argparse, not for the work


def test_the_cli_command_map_is_what_each_module_adds() -> None:
    for module_name, commands in cli.COMMANDS.items():
        subparsers = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(f"tessera_serving.cli.{module_name}").add_parser(subparsers)
        assert tuple(subparsers.choices) == commands, module_name


def test_a_command_builds_only_its_own_module_parser() -> None:
    probe = (
        "import sys; import tessera_serving.cli as cli\n"
        "args = cli.build_parser('events').parse_args(['events', '7'])\n"
        "loaded = [m for m in sys.modules if m.startswith('tessera_serving.cli.')]\n"
        "print(args.command, sorted(loaded))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "events ['tessera_serving.cli._common', 'tessera_serving.cli.jobs']"
    every = subprocess.run(
        [str(Path(sys.executable).with_name("tessera-serve")), "--help"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    for commands in cli.COMMANDS.values():  # without a command, --help lists every one
        assert all(f"    {name}" in every for name in commands), commands
