"""The public surface: a sorted ``__all__`` that is exactly what the package re-exports."""

from __future__ import annotations
import __future__

import importlib
import inspect
import pkgutil
import types
from importlib.metadata import version
from pathlib import Path

from pydantic import BaseModel

import tessera_contracts

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
}


def ruff_sort_key(name: str) -> tuple[int, str]:
    """RUF022's "isort-style" order: SCREAMING_CASE, then CamelCase, then everything else."""
    if name.isupper() and len(name) > 1:
        group = 0
    elif name[0].isupper():
        group = 1
    else:
        group = 2
    return group, name


def private_modules() -> list[types.ModuleType]:
    return [
        importlib.import_module(f"tessera_contracts.{info.name}")
        for info in pkgutil.iter_modules(tessera_contracts.__path__)
        if info.name.startswith("_") and not info.name.startswith("__")
    ]


def test_all_is_sorted() -> None:
    names = list(tessera_contracts.__all__)
    assert names == sorted(names, key=ruff_sort_key)
    assert len(names) == len(set(names))


def test_every_name_in_all_exists() -> None:
    missing = [n for n in tessera_contracts.__all__ if not hasattr(tessera_contracts, n)]
    assert missing == []


def test_all_is_exactly_the_public_names_of_the_package() -> None:
    public = {
        name
        for name, value in vars(tessera_contracts).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType | __future__._Feature)
    }
    exported = set(tessera_contracts.__all__) - {"__version__"}
    assert public - exported == set(), "public names missing from __all__"
    assert exported - public == set(), "names in __all__ that the package does not define"


def test_every_public_class_and_function_of_the_private_modules_is_exported() -> None:
    unexported: list[str] = []
    for module in private_modules():
        internal = INTERNAL.get(module.__name__, set())
        for name, value in vars(module).items():
            defined_here = getattr(value, "__module__", None) == module.__name__
            is_api = inspect.isclass(value) or inspect.isfunction(value)
            if name.startswith("_") or not (defined_here and is_api) or name in internal:
                continue
            if getattr(tessera_contracts, name, None) is not value:
                unexported.append(f"{module.__name__}.{name}")
    assert unexported == [], (
        f"{unexported}: re-export from tessera_contracts/__init__.py and add to __all__, or, if "
        "deliberately private, add to INTERNAL in this test"
    )


def test_internal_names_still_exist() -> None:
    # Keeps INTERNAL honest: a rename must not leave a stale allowance behind.
    for module_name, names in INTERNAL.items():
        module = importlib.import_module(module_name)
        assert all(hasattr(module, n) for n in names), module_name


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
