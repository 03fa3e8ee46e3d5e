"""The code stays in readable pieces: no module over 300 lines, no function over 60.

Walks the three packages' source trees (registry migrations excepted: each one is a
frozen record of a schema change) and names every offender with its size.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE_TREES = [
    ROOT / "packages" / "contracts" / "src",
    ROOT / "packages" / "lab" / "src",
    ROOT / "packages" / "serving" / "src",
]
EXCLUDED = ROOT / "packages" / "serving" / "src" / "tessera_serving" / "registry" / "migrations"
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 60


def _modules() -> list[Path]:
    found = [path for tree in SOURCE_TREES for path in sorted(tree.rglob("*.py"))]
    return [path for path in found if not path.is_relative_to(EXCLUDED)]


def _long_functions(path: Path, text: str) -> list[str]:
    offenders = []
    for node in ast.walk(ast.parse(text, filename=str(path))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            assert node.end_lineno is not None
            length = node.end_lineno - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                offenders.append(f"{where} {node.name}: {length} lines")
    return offenders


def test_the_walk_sees_every_package() -> None:
    modules = _modules()
    for tree in SOURCE_TREES:
        assert any(path.is_relative_to(tree) for path in modules), tree
    assert not any(path.is_relative_to(EXCLUDED) for path in modules)


def test_no_module_over_300_lines() -> None:
    offenders = []
    for path in _modules():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES:
            offenders.append(f"{path.relative_to(ROOT)}: {lines} lines")
    assert not offenders, f"modules over {MAX_MODULE_LINES} lines: " + "; ".join(offenders)


def test_no_function_over_60_lines() -> None:
    offenders = []
    for path in _modules():
        offenders.extend(_long_functions(path, path.read_text(encoding="utf-8")))
    assert not offenders, f"functions over {MAX_FUNCTION_LINES} lines: " + "; ".join(offenders)
