"""One thread policy; OpenMP's passive wait set before LightGBM can load."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tessera_serving.backends.threads import THREADS_ENV, available_cpus, resolve_num_threads


def test_explicit_then_environment_then_all_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(THREADS_ENV, raising=False)
    assert resolve_num_threads(None) == available_cpus() == len(os.sched_getaffinity(0))
    monkeypatch.setenv(THREADS_ENV, "3")
    assert resolve_num_threads(None) == min(3, available_cpus())
    assert resolve_num_threads(1) == 1


@pytest.mark.parametrize("raw", ["0", "-2", "two", "1.5"])
def test_bad_environment_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv(THREADS_ENV, raw)
    with pytest.raises(ValueError, match=THREADS_ENV):
        resolve_num_threads(None)


def test_bad_flag_value() -> None:
    with pytest.raises(ValueError, match="threads must be an integer >= 1, got 0"):
        resolve_num_threads(0)


def test_thread_counts_above_the_cpus_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_num_threads(100_000) == available_cpus()
    monkeypatch.setenv(THREADS_ENV, "100000")
    assert resolve_num_threads(None) == available_cpus()


_PROBE = (
    "import sys, os; import tessera_serving; "
    "print(os.environ.get('OMP_WAIT_POLICY'), 'lightgbm' in sys.modules); "
    "tessera_serving.configure(); "
    "print(os.environ.get('OMP_WAIT_POLICY'), 'lightgbm' in sys.modules)"
)


@pytest.mark.parametrize(("given", "expected"), [(None, "passive"), ("active", "active")])
def test_configure_defaults_omp_wait_policy_to_passive_and_import_changes_nothing(
    given: str | None, expected: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if given is not None:
        env["OMP_WAIT_POLICY"] = given
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True
    )
    imported, configured = proc.stdout.splitlines()
    assert imported.split() == [given or "None", "False"]  # importing changed nothing
    assert configured.split() == [expected, "False"]  # set before lightgbm was loaded


def test_load_lightgbm_defaults_the_wait_policy_before_loading() -> None:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    probe = (
        "import os; from tessera_serving.backends.threads import load_lightgbm; "
        "load_lightgbm(); print(os.environ.get('OMP_WAIT_POLICY'))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert proc.stdout.strip() == "passive"


_SKLEARN_PROBE = """
import sys
import numpy as np
from tessera_serving.backends.threads import load_lightgbm
lgb = load_lightgbm()
print("sklearn" in sys.modules)
x, y = np.array([[0.0], [1.0]] * 20), np.array([0.0, 1.0] * 20)
params = {"verbose": -1, "num_threads": 1, "min_data_in_leaf": 1, "min_data_in_bin": 1}
text = lgb.train(params, lgb.Dataset(x, y), 2).model_to_string()
print(lgb.Booster(model_str=text).predict(np.array([[1.0]]), num_threads=1)[0] > 0.5)
import sklearn
print("sklearn" in sys.modules)
"""


def test_load_lightgbm_leaves_scikit_learn_unloaded_but_importable() -> None:
    # scikit-learn is in the development environment (the lab needs it); serving's
    # LightGBM import must not pay for it, and must not break it for later imports.
    proc = subprocess.run(
        [sys.executable, "-c", _SKLEARN_PROBE], capture_output=True, text=True, check=True
    )
    assert proc.stdout.split() == ["False", "True", "True"]
