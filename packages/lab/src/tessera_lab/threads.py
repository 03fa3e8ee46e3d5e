"""OpenMP threading defaults for LightGBM on small shared machines.

LightGBM's OpenMP threads busy-wait between parallel regions by default; on a 2-vCPU
VM shared with other work an explicit ``num_threads=2`` ran a job ~100x slower (73 s vs
0.6 s) than with ``OMP_WAIT_POLICY=passive`` (PERF-NOTES). The wait policy is read
once, when the OpenMP runtime starts (LightGBM's import), so the CLI calls
:func:`prefer_passive_wait` before importing anything that loads LightGBM.
"""

from __future__ import annotations

import os
import sys

WAIT_POLICY = "OMP_WAIT_POLICY"


def prefer_passive_wait() -> bool:
    """Default ``OMP_WAIT_POLICY`` to ``passive`` unless set; True if it will take effect."""
    os.environ.setdefault(WAIT_POLICY, "passive")
    return "lightgbm" not in sys.modules
