"""The lab's one thread policy for LightGBM: OpenMP's wait policy.

LightGBM's OpenMP threads busy-wait between parallel regions by default; on a 2-vCPU
VM shared with other work an explicit ``num_threads=2`` ran a job ~100x slower (73 s vs
0.6 s) than with ``OMP_WAIT_POLICY=passive`` (PERF-NOTES). The wait policy is read
once, when the OpenMP runtime starts (LightGBM's import), so :func:`tessera_lab.configure`
calls :func:`prefer_passive_wait` before anything loads LightGBM. Nothing here runs at import.
"""

from __future__ import annotations

import os
import sys

WAIT_POLICY = "OMP_WAIT_POLICY"
PASSIVE = "passive"


def prefer_passive_wait() -> bool:
    """Default ``OMP_WAIT_POLICY`` to ``passive`` unless set; True if it will take effect."""
    os.environ.setdefault(WAIT_POLICY, PASSIVE)
    return "lightgbm" not in sys.modules
