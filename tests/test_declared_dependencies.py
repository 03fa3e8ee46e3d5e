"""Each distribution's declared dependencies, pinned here so a new one is a deliberate diff.

If this fails because you added or changed a dependency on purpose, update the pinned list
below in the same commit (and check DESIGN.md section 1: serving never depends on the lab,
optuna or scikit-learn; contracts depends on pydantic only).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]

EXPECTED: dict[str, list[str]] = {
    "contracts": ["pydantic>=2.7,<3"],
    "lab": [
        "tessera-contracts==0.1.0",
        "lightgbm>=4.5,<5",
        "numpy>=1.26",
        "pyarrow>=16",
        "pyyaml>=6",
        "optuna>=4",
        "optuna-integration[lightgbm]>=4",
        "scikit-learn>=1.4",
        "matplotlib>=3.8",
    ],
    "serving": [
        "tessera-contracts==0.1.0",
        "lightgbm>=4.5,<5",
        "numpy>=1.26",
        "pyarrow>=16",
        "pyyaml>=6",
        "sqlalchemy>=2.0.30,<3",
        "alembic>=1.13",
        "psycopg[binary]>=3.1",
        "fsspec>=2024.2",
    ],
}
EXPECTED_SERVING_EXTRAS: dict[str, list[str]] = {
    "compiled": ["lleaves>=1.2", "llvmlite>=0.42,<0.45"],
    "dask": ["dask[distributed]>=2024.4"],
    "http": ["fastapi>=0.110", "uvicorn>=0.29", "prometheus-client>=0.20"],
    "s3": ["s3fs>=2024.2"],
}
EXPECTED_LAB_EXTRAS: dict[str, list[str]] = {
    # LightGBM's own requirement set for lightgbm.dask (dask, distributed, pandas).
    "dask": ["lightgbm[dask]>=4.5,<5"],
}
NEVER = {
    "contracts": {"tessera-lab", "tessera-serving"},
    "lab": {"tessera-serving"},
    "serving": {"tessera-lab", "optuna", "optuna-integration", "scikit-learn", "matplotlib"},
}
ON_PURPOSE = "if the change is deliberate, update the pinned list in {file} in the same commit"


def project(package: str) -> dict[str, Any]:
    path = REPO / "packages" / package / "pyproject.toml"
    data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))["project"]
    return data


@pytest.mark.parametrize("package", sorted(EXPECTED))
def test_declared_dependencies_are_the_pinned_list(package: str) -> None:
    declared = project(package).get("dependencies", [])
    assert declared == EXPECTED[package], (
        f"packages/{package}/pyproject.toml [project.dependencies] changed: "
        f"added {sorted(set(declared) - set(EXPECTED[package]))}, "
        f"removed {sorted(set(EXPECTED[package]) - set(declared))}; "
        + ON_PURPOSE.format(file=Path(__file__).name)
    )


def test_serving_extras_are_the_pinned_list() -> None:
    extras = project("serving").get("optional-dependencies", {})
    assert extras == EXPECTED_SERVING_EXTRAS, (
        f"packages/serving/pyproject.toml [project.optional-dependencies] is {extras}; "
        + ON_PURPOSE.format(file=Path(__file__).name)
    )


def test_lab_extras_are_the_pinned_list() -> None:
    extras = project("lab").get("optional-dependencies", {})
    assert extras == EXPECTED_LAB_EXTRAS, (
        f"packages/lab/pyproject.toml [project.optional-dependencies] is {extras}; "
        + ON_PURPOSE.format(file=Path(__file__).name)
    )


def test_contracts_has_no_extras() -> None:
    assert project("contracts").get("optional-dependencies", {}) == {}, ON_PURPOSE.format(
        file=Path(__file__).name
    )


@pytest.mark.parametrize("package", sorted(EXPECTED))
def test_the_pinned_lists_respect_the_boundary(package: str) -> None:
    # Guards the pins themselves: updating a list "on purpose" cannot cross the boundary.
    pinned = [*EXPECTED[package]]
    if package == "serving":
        pinned += [r for reqs in EXPECTED_SERVING_EXTRAS.values() for r in reqs]
    if package == "lab":
        pinned += [r for reqs in EXPECTED_LAB_EXTRAS.values() for r in reqs]
    names = {Requirement(r).name for r in pinned}
    assert names & NEVER[package] == set()
    if package == "contracts":
        assert names == {"pydantic"}


def test_the_three_distributions_share_one_version_in_lockstep() -> None:
    versions = {package: project(package)["version"] for package in EXPECTED}
    assert len(set(versions.values())) == 1, versions
    version = versions["contracts"]
    for package in ("lab", "serving"):
        pins = [r for r in EXPECTED[package] if Requirement(r).name == "tessera-contracts"]
        assert pins == [f"tessera-contracts=={version}"], (
            f"{package} must pin tessera-contracts=={version} (lockstep versions)"
        )


def test_every_workspace_member_is_pinned_here() -> None:
    members = sorted(p.parent.name for p in (REPO / "packages").glob("*/pyproject.toml"))
    assert members == sorted(EXPECTED), "a new workspace member needs its pinned list here"
