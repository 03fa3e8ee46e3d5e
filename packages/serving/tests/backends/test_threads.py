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
    assert resolve_num_threads(None) == 3
    assert resolve_num_threads(1) == 1


@pytest.mark.parametrize("raw", ["0", "-2", "two", "1.5"])
def test_bad_environment_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv(THREADS_ENV, raw)
    with pytest.raises(ValueError, match=THREADS_ENV):
        resolve_num_threads(None)


def test_bad_flag_value() -> None:
    with pytest.raises(ValueError, match="--threads must be >= 1, got 0"):
        resolve_num_threads(0)


_PROBE = (
    "import sys, os; import tessera_serving; "
    "print(os.environ.get('OMP_WAIT_POLICY'), 'lightgbm' in sys.modules)"
)


@pytest.mark.parametrize(("given", "expected"), [(None, "passive"), ("active", "active")])
def test_importing_serving_defaults_omp_wait_policy_to_passive(
    given: str | None, expected: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if given is not None:
        env["OMP_WAIT_POLICY"] = given
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True
    )
    assert proc.stdout.split() == [expected, "False"]  # set before lightgbm was loaded
