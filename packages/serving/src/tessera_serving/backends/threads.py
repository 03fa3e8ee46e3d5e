"""The one place that decides how many threads scoring uses, and OpenMP's wait policy.

Policy, in order: an explicit value (the ``--threads`` flag or ``num_threads=``), then the
``TESSERA_NUM_THREADS`` environment variable, then every CPU this process may run on
(``os.sched_getaffinity``). Scoring is CPU-bound and splits cleanly by rows, so using all
the cores the process is allowed is the fastest choice; containers and ``taskset`` narrow
the affinity mask, so the default follows them.

The trap (PERF-NOTES.md): LightGBM uses OpenMP, whose default *active* wait policy makes
idle worker threads spin. On a small shared VM an explicit ``num_threads=2`` under active
waiting ran ~100x slower (73 s vs 0.4 s on 1 thread) because the spinning threads fight
other processes for the cores. ``OMP_WAIT_POLICY=passive`` removes the stall. OpenMP reads
the variable once, when its runtime is loaded (i.e. on ``import lightgbm``), so
:func:`configure` (called by the CLI and the HTTP server) and :func:`load_lightgbm` (the
one place serving imports LightGBM) set it (``setdefault``: an explicit choice wins)
before LightGBM loads. Importing the package changes nothing. :func:`omp_wait_policy`
reports what is in effect so benchmarks and logs can state it.

Thread counts above the CPUs the process may use are capped to them: more threads than
cores only adds contention, and very large values crash OpenMP.
"""

from __future__ import annotations

import os
import sys
from types import ModuleType

from tessera_serving.errors import ConfigurationError

THREADS_ENV = "TESSERA_NUM_THREADS"
OMP_WAIT_POLICY_ENV = "OMP_WAIT_POLICY"
DEFAULT_OMP_WAIT_POLICY = "passive"


def available_cpus() -> int:
    """CPUs this process may run on (affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def resolve_num_threads(explicit: int | None = None) -> int:
    """The thread count for scoring: ``explicit``, else ``$TESSERA_NUM_THREADS``, else all CPUs.

    Capped at :func:`available_cpus`. Raises ``ConfigurationError`` (one line, naming the
    source) for a value below 1 or not an integer.
    """
    cpus = available_cpus()
    if explicit is not None:
        if isinstance(explicit, bool) or not isinstance(explicit, int) or explicit < 1:
            raise ConfigurationError(f"threads must be an integer >= 1, got {explicit!r}")
        return min(explicit, cpus)
    raw = os.environ.get(THREADS_ENV, "").strip()
    if raw:
        try:
            value = int(raw)
        except ValueError:
            raise ConfigurationError(
                f"environment variable {THREADS_ENV} must be an integer >= 1, got {raw!r}"
            ) from None
        if value < 1:
            raise ConfigurationError(
                f"environment variable {THREADS_ENV} must be an integer >= 1, got {value}"
            )
        return min(value, cpus)
    return cpus


def ensure_passive_omp_wait() -> None:
    """Default ``OMP_WAIT_POLICY`` to ``passive`` (no effect once OpenMP has loaded)."""
    os.environ.setdefault(OMP_WAIT_POLICY_ENV, DEFAULT_OMP_WAIT_POLICY)


def load_lightgbm() -> ModuleType:
    """Import LightGBM with the passive wait policy defaulted first (the one import site).

    Where scikit-learn is installed, ``import lightgbm`` imports it (and ``scipy.stats``)
    for its estimator API, which serving never uses: ~2 CPU-s per scoring process, more
    than the rest of start-up. scikit-learn is hidden for that one import, when neither is
    loaded yet, and importable again afterwards.
    """
    ensure_passive_omp_wait()
    if "lightgbm" in sys.modules or "sklearn" in sys.modules:
        import lightgbm

        return lightgbm
    sys.modules["sklearn"] = None  # type: ignore[assignment]  # makes `import sklearn` fail
    try:
        import lightgbm
    finally:
        if sys.modules.get("sklearn", 0) is None:
            del sys.modules["sklearn"]
    return lightgbm


def omp_wait_policy() -> str:
    """The wait policy requested for this process, for logs and benchmark output."""
    return os.environ.get(OMP_WAIT_POLICY_ENV, "unset (OpenMP default: active)")
