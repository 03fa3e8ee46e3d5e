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
``tessera_serving/__init__.py`` sets it (``setdefault``: an explicit choice wins) before
anything in the package can import LightGBM. :func:`omp_wait_policy` reports what is in
effect so benchmarks and logs can state it.
"""

from __future__ import annotations

import os
import sys

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

    Raises ``ValueError`` (one line, naming the source) for a value below 1 or not an integer.
    """
    if explicit is not None:
        if explicit < 1:
            raise ValueError(f"--threads must be >= 1, got {explicit}")
        return explicit
    raw = os.environ.get(THREADS_ENV, "").strip()
    if raw:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(
                f"environment variable {THREADS_ENV} must be an integer >= 1, got {raw!r}"
            ) from None
        if value < 1:
            raise ValueError(f"environment variable {THREADS_ENV} must be >= 1, got {value}")
        return value
    return available_cpus()


def ensure_passive_omp_wait() -> None:
    """Default ``OMP_WAIT_POLICY`` to ``passive`` (no effect once OpenMP has loaded)."""
    os.environ.setdefault(OMP_WAIT_POLICY_ENV, DEFAULT_OMP_WAIT_POLICY)


def omp_wait_policy() -> str:
    """The wait policy requested for this process, for logs and benchmark output."""
    return os.environ.get(OMP_WAIT_POLICY_ENV, "unset (OpenMP default: active)")


def lightgbm_loaded() -> bool:
    """Whether LightGBM (and so OpenMP) is already loaded in this process."""
    return "lightgbm" in sys.modules
