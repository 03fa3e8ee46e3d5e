"""Tessera serving: the model registry, the artifact store and schema-guarded scoring.

Errors are documented in ``tessera_serving.errors``.
"""

from importlib.metadata import version as _version

__version__ = _version("tessera-serving")

__all__ = ["__version__"]
