"""Tessera lab: datasets, training specs, LightGBM re-rankers, evaluation, tuning, run directories.

Errors are documented in ``tessera_lab.errors``.
"""

from importlib.metadata import version as _version

__version__ = _version("tessera-lab")

__all__ = ["__version__"]
