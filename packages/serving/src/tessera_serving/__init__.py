"""Tessera serving: the model registry, the artifact store and schema-guarded scoring.

Errors are documented in ``tessera_serving.errors``.
"""

import os as _os
from importlib.metadata import version as _version

# OpenMP reads OMP_WAIT_POLICY once, when LightGBM's library loads; the default (active)
# spin-wait made LightGBM ~100x slower on 2-vCPU shared machines (PERF-NOTES.md). Set the
# default here, before any module of this package can import lightgbm; an explicit value
# wins. Owner: backends/threads.py (the thread policy).
_os.environ.setdefault("OMP_WAIT_POLICY", "passive")

__version__ = _version("tessera-serving")

__all__ = ["__version__"]
