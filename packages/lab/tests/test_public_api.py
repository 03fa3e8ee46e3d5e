"""The lab's facade: a sorted ``__all__``, loaded lazily, matching its type-checking imports.

``tessera_lab.__all__``, the PEP 562 name -> module map and the ``TYPE_CHECKING`` import
block must agree; importing the package must load none of the heavy libraries; the CLI may
import the facade and the errors only (the import-linter contract lists every other module).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

import tessera_lab
import tessera_lab.errors

REPO = Path(__file__).resolve().parents[3]
INIT = Path(tessera_lab.__file__)
HEAVY = ("numpy", "pyarrow", "lightgbm", "optuna", "matplotlib", "yaml", "sklearn")


def ruff_sort_key(name: str) -> tuple[int, str]:
    """RUF022's "isort-style" order: SCREAMING_CASE, then CamelCase, then everything else."""
    if name.isupper() and len(name) > 1:
        return 0, name
    return (1 if name[0].isupper() else 2), name


def type_checking_imports() -> dict[str, str]:
    """Name -> module of the ``if TYPE_CHECKING:`` block of ``tessera_lab/__init__.py``."""
    tree = ast.parse(INIT.read_text("utf-8"))
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom) and stmt.module, ast.unparse(stmt)
                for alias in stmt.names:
                    assert alias.asname is None, ast.unparse(stmt)
                    found[alias.name] = stmt.module
    return found


def test_all_is_sorted_and_unique() -> None:
    names = list(tessera_lab.__all__)
    assert names == sorted(names, key=ruff_sort_key)
    assert len(names) == len(set(names))


def test_all_the_lazy_map_and_the_type_checking_block_agree() -> None:
    lazy = dict(tessera_lab._EXPORTS)
    assert set(tessera_lab.__all__) - {"__version__"} == set(lazy)
    assert type_checking_imports() == lazy


def test_every_name_resolves_to_the_object_its_module_defines() -> None:
    for name, module in tessera_lab._EXPORTS.items():
        value = getattr(tessera_lab, name)
        assert value is getattr(importlib.import_module(module), name), name
        assert not name.startswith("_"), name
        # Defined where the map says (not re-exported from somewhere else).
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__module__ == module, (name, value.__module__)


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'train'"):
        _ = tessera_lab.train  # type: ignore[attr-defined]


def test_every_error_is_exported_and_rooted_in_lab_error_and_a_builtin() -> None:
    errors = [
        value
        for value in vars(tessera_lab.errors).values()
        if inspect.isclass(value) and issubclass(value, BaseException)
        and value.__module__ == "tessera_lab.errors"
    ]  # fmt: skip
    assert tessera_lab.LabError in errors
    for error in errors:
        assert getattr(tessera_lab, error.__name__) is error
        if error is not tessera_lab.LabError:
            assert issubclass(error, tessera_lab.LabError)
            builtins = [b for b in error.__mro__ if b.__module__ == "builtins"]
            assert builtins[0] is not Exception, f"{error.__name__} needs a matching builtin"


def test_importing_the_package_and_the_cli_parser_loads_no_heavy_library() -> None:
    probe = (
        "import sys, tessera_lab\n"
        "from tessera_lab.cli import build_parser\n"
        "build_parser()\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_importing_the_package_changes_no_process_setting() -> None:
    probe = (
        "import os\n"
        "before = dict(os.environ)\n"
        "import tessera_lab, tessera_lab.cli, tessera_lab.training, tessera_lab.report\n"
        "print(dict(os.environ) == before)\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("OMP_WAIT_POLICY",)}
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env
    ).stdout
    assert out.strip() == "True"


def test_the_import_linter_contract_forbids_every_module_but_the_facade_and_errors() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    [cli] = [c for c in contracts if c.get("source_modules") == ["tessera_lab.cli"]]
    modules = {
        info.name
        for info in pkgutil.walk_packages(tessera_lab.__path__, "tessera_lab.")
        if not info.name.startswith("tessera_lab.cli")
    }
    top = {".".join(name.split(".")[:2]) for name in modules}
    assert set(cli["forbidden_modules"]) == top - {"tessera_lab.errors"}


def test_version_is_the_distribution_version() -> None:
    assert tessera_lab.__version__ == version("tessera-lab")
