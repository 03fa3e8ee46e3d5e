"""The package boundary at install time (DESIGN.md section 1), proven on built wheels.

Each test installs wheels built from this checkout into a fresh virtual environment and asks
that environment what came with them and what it can import.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement

pytestmark = pytest.mark.slow

# Distributions (and their import names) only the lab may bring in.
LAB_ONLY = {
    "tessera-lab": "tessera_lab",
    "optuna": "optuna",
    "optuna-integration": "optuna_integration",
    "scikit-learn": "sklearn",
    "matplotlib": "matplotlib",
}
# Distributions only serving may bring in (lab may get sqlalchemy/alembic through optuna).
SERVING_ONLY = {
    "tessera-serving": "tessera_serving",
    "sqlalchemy": "sqlalchemy",
    "alembic": "alembic",
    "psycopg": "psycopg",
    "fsspec": "fsspec",
    "lleaves": "lleaves",
}


def assert_local_build(env: Any, wheels: Any, *distributions: str) -> None:
    """The tessera distributions are this checkout's wheels, not same-named ones from PyPI."""
    dists = env.distributions()
    for name in distributions:
        assert dists[name].version == wheels.version(name)
        assert dists[name].direct_url is not None
        url = json.loads(dists[name].direct_url)["url"]
        assert url == wheels.path(name).as_uri(), f"{name} installed from {url}"


def assert_absent(env: Any, forbidden: dict[str, str], why: str) -> None:
    dists = env.distributions()
    installed = sorted(name for name in forbidden if name in dists)
    assert installed == [], f"{why}: installed {installed}"
    importable = env.importable(*sorted(forbidden.values()))
    assert importable == [], f"{why}: importable {importable}"


def test_contracts_brings_only_pydantic_and_its_own_dependencies(
    wheels: Any, tmp_path: Path
) -> None:
    env = wheels.install(tmp_path / "venv", "tessera-contracts")
    dists = env.distributions()
    assert_local_build(env, wheels, "tessera-contracts")
    declared = [Requirement(r).name for r in dists["tessera-contracts"].requires]
    assert declared == ["pydantic"], f"the tessera-contracts wheel requires {declared}"
    pydantic_closure = env.closure({"pydantic": ()})
    assert {"pydantic", "pydantic-core"} <= pydantic_closure
    extra = sorted(set(dists) - {"tessera-contracts"} - pydantic_closure)
    assert extra == [], f"tessera-contracts brought in more than pydantic's own closure: {extra}"
    assert set(dists) == {"tessera-contracts"} | pydantic_closure


def test_contracts_imports_nothing_but_pydantic_at_run_time(wheels: Any, tmp_path: Path) -> None:
    env = wheels.install(tmp_path / "venv", "tessera-contracts")
    code = (
        "import importlib.metadata as md, json, sys\n"
        "import tessera_contracts, tessera_contracts._schemas as s\n"
        "import tessera_contracts.receipts  # the runtime ships in the wheel, stdlib only\n"
        "owners = md.packages_distributions()\n"
        "tops = {m.split('.')[0] for m in sys.modules} - set(sys.stdlib_module_names)\n"
        "print(json.dumps({'dists': sorted({d for t in tops for d in owners.get(t, [])}),\n"
        "  'stale': s.stale_schema_files(),\n"
        "  'v1': tessera_contracts.compute_feature_schema_sha(['knn'])}))"
    )
    out = json.loads(env.run(env.python, "-c", code).stdout)
    allowed = {"tessera-contracts"} | env.closure({"pydantic": ()})
    assert {d.lower().replace("_", "-") for d in out["dists"]} <= allowed, out["dists"]
    assert out["v1"] == "cbf083022a88"  # the golden vector holds in the installed wheel
    assert out["stale"] == []  # and the wheel carries the committed JSON Schema files


def test_serving_installs_without_the_lab_and_its_tools(wheels: Any, tmp_path: Path) -> None:
    env = wheels.install(tmp_path / "venv", "tessera-contracts", "tessera-serving")
    assert_local_build(env, wheels, "tessera-contracts", "tessera-serving")
    assert_absent(env, LAB_ONLY, "installing tessera-serving")
    assert "lleaves" not in env.distributions()  # only with the [compiled] extra

    help_text = env.run("tessera-serve", "--help").stdout
    assert help_text.startswith("usage: tessera-serve")
    version = env.run("tessera-serve", "--version").stdout
    assert version.strip() == f"tessera-serve {wheels.version('tessera-serving')}"
    # Every serving module imports here (alembic's env.py and the [http] extra's modules aside).
    assert "tessera_serving.cli" in env.import_all("tessera_serving", (".migrations", ".http."))
    assert "fastapi" not in env.distributions()  # only with the [http] extra
    refused = env.run("tessera-serve", "http", check=False)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        "tessera-serve: error: the HTTP service needs the http extra: install tessera-serving[http]"
    ]


def test_serving_compiled_extra_adds_lleaves_and_still_no_lab(wheels: Any, tmp_path: Path) -> None:
    env = wheels.install(tmp_path / "venv", "tessera-contracts", "tessera-serving[compiled]")
    assert_local_build(env, wheels, "tessera-contracts", "tessera-serving")
    dists = env.distributions()
    assert {"lleaves", "llvmlite"} <= set(dists)
    assert env.importable("lleaves") == ["lleaves"]
    assert_absent(env, LAB_ONLY, "installing tessera-serving[compiled]")
    env.run("tessera-serve", "--help")


@pytest.mark.parametrize(
    ("extra", "brings", "module"),
    [
        ("s3", {"s3fs", "aiobotocore", "botocore"}, "s3fs"),
        ("dask", {"dask", "distributed"}, "distributed"),
    ],
)
def test_serving_scale_out_extras_add_their_engine_and_still_no_lab(
    wheels: Any, tmp_path: Path, extra: str, brings: set[str], module: str
) -> None:
    env = wheels.install(tmp_path / "venv", "tessera-contracts", f"tessera-serving[{extra}]")
    assert_local_build(env, wheels, "tessera-contracts", "tessera-serving")
    assert brings <= set(env.distributions())
    assert env.importable(module) == [module]
    assert_absent(env, LAB_ONLY, f"installing tessera-serving[{extra}]")
    assert "lleaves" not in env.distributions()  # each extra brings only its own engine
    # Every serving module (the scale-out ones included) imports with this extra.
    assert "tessera_serving.store.s3" in env.import_all(
        "tessera_serving", (".migrations", ".http.")
    )
    env.run("tessera-serve", "--help")


def test_serving_http_extra_adds_the_web_stack_and_still_no_lab(
    wheels: Any, tmp_path: Path
) -> None:
    env = wheels.install(tmp_path / "venv", "tessera-contracts", "tessera-serving[http]")
    assert_local_build(env, wheels, "tessera-contracts", "tessera-serving")
    assert {"fastapi", "uvicorn", "prometheus-client"} <= set(env.distributions())
    assert_absent(env, LAB_ONLY, "installing tessera-serving[http]")
    assert "tessera_serving.http.app" in env.import_all("tessera_serving")
    assert env.run("tessera-serve", "http", "--help").stdout.startswith("usage: tessera-serve http")


def test_lab_installs_without_serving(wheels: Any, tmp_path: Path) -> None:
    env = wheels.install(tmp_path / "venv", "tessera-contracts", "tessera-lab")
    assert_local_build(env, wheels, "tessera-contracts", "tessera-lab")
    dists = env.distributions()
    assert "tessera-serving" not in dists
    assert env.importable("tessera_serving") == []
    # optuna needs sqlalchemy + alembic for its RDB storage; nothing else of the lab may.
    own = env.closure({"tessera-lab": ()}, skip=["optuna", "optuna-integration"])
    leaked = sorted(set(SERVING_ONLY) & own)
    assert leaked == [], f"tessera-lab brings serving-only distributions: {leaked}"
    via_optuna = env.closure({"optuna": ()})
    unexplained = sorted((set(SERVING_ONLY) & set(dists)) - via_optuna)
    assert unexplained == [], f"installed with the lab, not through optuna: {unexplained}"

    help_text = env.run("tessera-lab", "--help").stdout
    assert help_text.startswith("usage: tessera-lab")
    version = env.run("tessera-lab", "--version").stdout
    assert version.strip() == f"tessera-lab {wheels.version('tessera-lab')}"
    assert "tessera_lab.cli" in env.import_all("tessera_lab")
    assert env.importable("dask", "distributed") == []  # only with the [dask] extra
    assert_dask_engine_needs_the_extra(env, tmp_path)


def assert_dask_engine_needs_the_extra(env: Any, tmp_path: Path) -> None:
    """Without the [dask] extra, a dask spec fails with one line naming the extra."""
    data = tmp_path / "data"
    env.run("tessera-lab", "dataset", "synth", data, "--rows", "600", "--label-kind", "graded")
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"dataset: {data}\nfeature_families: [knn]\nearly_stopping: null\n"
        "num_boost_round: 3\nengine: {kind: dask, workers: 2}\n"
        "license: {id: Apache-2.0, url: 'https://www.apache.org/licenses/LICENSE-2.0'}\n",
        encoding="utf-8",
    )
    result = env.run("tessera-lab", "train", spec, "--runs-dir", tmp_path / "runs", check=False)
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith(f"tessera-lab: error: {spec}: engine: the dask engine needs")
    assert "tessera-lab[dask]" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_lab_dask_extra_brings_dask_and_still_no_serving(wheels: Any, tmp_path: Path) -> None:
    env = wheels.install(tmp_path / "venv", "tessera-contracts", "tessera-lab[dask]")
    assert_local_build(env, wheels, "tessera-contracts", "tessera-lab")
    dists = env.distributions()
    assert {"dask", "distributed", "pandas"} <= set(dists)
    assert "tessera-serving" not in dists
    assert env.importable("tessera_serving") == []
    # dask itself needs fsspec; optuna needs sqlalchemy + alembic; nothing else may leak.
    explained = env.closure({"optuna": ()}) | env.closure({"lightgbm": ("dask",)})
    unexplained = sorted((set(SERVING_ONLY) & set(dists)) - explained)
    assert unexplained == [], f"with tessera-lab[dask], not via optuna or dask: {unexplained}"
    code = "import lightgbm.dask as d, distributed; print(d.DaskLGBMRanker.__name__)"
    assert env.run(env.python, "-c", code).stdout.strip() == "DaskLGBMRanker"
    assert "tessera_lab.distributed" in env.import_all("tessera_lab")
