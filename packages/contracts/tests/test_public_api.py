"""The public surface: a sorted ``__all__`` that is exactly what the package re-exports."""

from __future__ import annotations
import __future__

import ast
import importlib
import inspect
import pkgutil
import subprocess
import sys
import tomllib
import types
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import pytest
from pydantic import BaseModel

import tessera_contracts
import tessera_contracts.receipts

# Classes and functions defined in the private modules that are deliberately not exported:
# validation helpers the models use, the schema-file tooling and the model base class.
INTERNAL = {
    "tessera_contracts._fingerprints": {"check_column_name", "check_family_name"},
    "tessera_contracts._manifest": {
        "check_feature_schema",
        "check_fingerprints",
        "check_snapshot_pairs",
    },
    "tessera_contracts._schemas": {"render_schema", "stale_schema_files", "write_schema_files"},
    "tessera_contracts._values": {"StrictModel"},
    # the directory helpers the runtime's own modules share
    "tessera_contracts.receipts.files": {"has_receipts", "write_text_atomic"},
}
ROOT = Path(__file__).resolve().parents[3]
CORE_NOT_RUNTIME = "the contracts core never imports the receipts runtime"


def ruff_sort_key(name: str) -> tuple[int, str]:
    """RUF022's "isort-style" order: SCREAMING_CASE, then CamelCase, then everything else."""
    if name.isupper() and len(name) > 1:
        group = 0
    elif name[0].isupper():
        group = 1
    else:
        group = 2
    return group, name


def core_modules() -> list[types.ModuleType]:
    """The contract: the package's private modules (``_x.py``)."""
    return [
        importlib.import_module(f"tessera_contracts.{info.name}")
        for info in pkgutil.iter_modules(tessera_contracts.__path__)
        if info.name.startswith("_") and not info.name.startswith("__")
    ]


def runtime_modules() -> list[types.ModuleType]:
    """The receipts runtime: the modules of ``tessera_contracts.receipts``."""
    return [
        importlib.import_module(f"tessera_contracts.receipts.{info.name}")
        for info in pkgutil.iter_modules(tessera_contracts.receipts.__path__)
    ]


# Each public package with the modules whose public classes and functions it re-exports.
PACKAGES = [
    pytest.param(tessera_contracts, core_modules, id="core"),
    pytest.param(tessera_contracts.receipts, runtime_modules, id="receipts"),
]
BOTH = pytest.mark.parametrize("package", [tessera_contracts, tessera_contracts.receipts])


@BOTH
def test_all_is_sorted(package: types.ModuleType) -> None:
    names = list(package.__all__)
    assert names == sorted(names, key=ruff_sort_key)
    assert len(names) == len(set(names))


@BOTH
def test_every_name_in_all_exists(package: types.ModuleType) -> None:
    missing = [n for n in package.__all__ if not hasattr(package, n)]
    assert missing == []


@BOTH
def test_all_is_exactly_the_public_names_of_the_package(package: types.ModuleType) -> None:
    public = {
        name
        for name, value in ((n, getattr(package, n)) for n in dir(package))
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType | __future__._Feature)
    }
    exported = set(package.__all__) - {"__version__"}
    assert set(package._EXPORTS) <= exported, "lazily loaded names missing from __all__"
    assert public - exported == set(), "public names missing from __all__"
    assert exported - public == set(), "names in __all__ that the package does not define"


@pytest.mark.parametrize(("package", "modules"), PACKAGES)
def test_every_public_class_and_function_of_the_modules_is_exported(
    package: types.ModuleType, modules: Callable[[], list[types.ModuleType]]
) -> None:
    unexported: list[str] = []
    for module in modules():
        internal = INTERNAL.get(module.__name__, set())
        for name, value in vars(module).items():
            defined_here = getattr(value, "__module__", None) == module.__name__
            is_api = inspect.isclass(value) or inspect.isfunction(value)
            if name.startswith("_") or not (defined_here and is_api) or name in internal:
                continue
            if getattr(package, name, None) is not value:
                unexported.append(f"{module.__name__}.{name}")
    assert unexported == [], (
        f"{unexported}: re-export from {package.__name__}/__init__.py and add to __all__, or, "
        "if deliberately private, add to INTERNAL in this test"
    )


@BOTH
def test_the_lazy_map_and_the_type_checking_imports_agree(package: types.ModuleType) -> None:
    # What type checkers see (the TYPE_CHECKING block) is what loads on first use.
    tree = ast.parse(Path(package.__file__).read_text(encoding="utf-8"))
    (block,) = [
        n
        for n in tree.body
        if isinstance(n, ast.If) and ast.unparse(n.test) == "_typing.TYPE_CHECKING"
    ]
    seen = {
        alias.name: f"{package.__name__}{'.' * (stmt.level > 0)}{stmt.module}"
        for stmt in block.body
        if isinstance(stmt, ast.ImportFrom)
        for alias in stmt.names
    }
    assert seen == package._EXPORTS


def test_importing_the_core_builds_no_model() -> None:
    # Hashing and fingerprints (what most processes need) load no pydantic model.
    code = (
        "import sys, tessera_contracts\n"
        "tessera_contracts.sha256_file, tessera_contracts.canonical_json\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pydantic'))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_packages_export_disjoint_names() -> None:
    # A name has one home: the contract or the runtime, never both.
    shared = set(tessera_contracts.__all__) & set(tessera_contracts.receipts.__all__)
    assert shared == set()


def test_importing_the_core_loads_no_receipts_runtime() -> None:
    code = (
        "import sys, tessera_contracts, tessera_contracts._schemas\n"
        "print(sorted(m for m in sys.modules if m.startswith('tessera_contracts.receipts')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_import_linter_contract_lists_every_core_module() -> None:
    # lint-imports takes no wildcard here: a new core module must be added to the contract.
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    (contract,) = [c for c in contracts if c["name"] == CORE_NOT_RUNTIME]
    expected = {"tessera_contracts"} | {m.__name__ for m in core_modules()}
    assert set(contract["source_modules"]) == expected
    assert "tessera_contracts.receipts" in contract["forbidden_modules"]


def test_internal_names_still_exist() -> None:
    # Keeps INTERNAL honest: a rename must not leave a stale allowance behind.
    for module_name, names in INTERNAL.items():
        module = importlib.import_module(module_name)
        assert all(hasattr(module, n) for n in names), module_name


def test_the_runtime_defines_no_model() -> None:
    # Both sides validate the models, so they are the contract and live in the core.
    models = [
        f"{module.__name__}.{name}"
        for module in runtime_modules()
        for name, value in vars(module).items()
        if inspect.isclass(value)
        and issubclass(value, BaseModel)
        and value.__module__ == module.__name__
    ]
    assert models == []


def test_every_exported_model_is_strict_and_frozen() -> None:
    for name in tessera_contracts.__all__:
        value = getattr(tessera_contracts, name)
        if inspect.isclass(value) and issubclass(value, BaseModel):
            assert value.model_config.get("extra") == "forbid", name
            assert value.model_config.get("frozen") is True, name
            assert value.model_config.get("allow_inf_nan") is False, name


def test_version_is_the_distribution_version() -> None:
    assert tessera_contracts.__version__ == version("tessera-contracts")


def test_the_package_is_typed() -> None:
    assert (Path(tessera_contracts.__file__).parent / "py.typed").is_file()
