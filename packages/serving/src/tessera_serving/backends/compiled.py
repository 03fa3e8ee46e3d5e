"""The ``compiled`` backend: the forest compiled to native code by lleaves (LLVM).

lleaves is an optional extra (``tessera-serving[compiled]``) and is imported lazily, so the
base install never needs it. Loading an object file that is not exactly what LLVM emitted
aborts or crashes the whole process (LLVM reports a fatal error, no exception), so this
module only loads bytes whose sha256 the caller has checked (see ``compile_cache``).
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tessera_serving.errors import ConfigurationError

from .base import FloatMatrix, FloatVector

# Compile options are part of the cache key: a change here must invalidate cached objects.
# Blocks of 8 trees instead of lleaves' 34 predicted in 0.82x the CPU time on a 500 x 63
# and a 100 x 31 lambdarank forest, and compiled faster (bench/bench_lleaves_options.py).
# The small code model was faster still on the small forest, but lleaves documents that it
# crashes the process on very large forests, so the large one stays.
COMPILE_OPTIONS: dict[str, Any] = {
    "use_fp64": True,
    "raw_score": False,
    "fblocksize": 8,
    "fcodemodel": "large",
    "finline": True,
}


def compiler_available() -> bool:
    """Whether lleaves and llvmlite import (the ``compiled`` extra is installed and works)."""
    try:
        import lleaves  # noqa: F401
        import llvmlite.binding  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass(frozen=True)
class CompilerIdentity:
    """Everything besides the model that decides the compiled object's bytes."""

    lleaves: str
    llvmlite: str
    llvm: str
    triple: str
    cpu: str
    cpu_features: str

    def as_dict(self) -> dict[str, str]:
        """The identity as a JSON-ready mapping."""
        return {
            "lleaves": self.lleaves,
            "llvmlite": self.llvmlite,
            "llvm": self.llvm,
            "triple": self.triple,
            "cpu": self.cpu,
            "cpu_features": self.cpu_features,
        }


def compiler_identity() -> CompilerIdentity:
    """The installed compiler versions and the host CPU target LLVM will compile for."""
    import llvmlite.binding as llvm

    try:
        features = str(llvm.get_host_cpu_features().flatten())
    except RuntimeError:  # LLVM raises when it cannot detect features; lleaves then uses ""
        features = ""
    return CompilerIdentity(
        lleaves=importlib.metadata.version("lleaves"),
        llvmlite=importlib.metadata.version("llvmlite"),
        llvm=".".join(str(p) for p in llvm.llvm_version_info),
        triple=str(llvm.get_process_triple()),
        cpu=str(llvm.get_host_cpu_name()),
        cpu_features=features,
    )


def compile_object(model_path: Path, object_path: Path) -> bytes:
    """Compile the text model at ``model_path``; write the object to ``object_path`` (new)."""
    import lleaves

    if object_path.exists():
        raise FileExistsError(f"{object_path} exists; compile writes only to a new path")
    model = lleaves.Model(model_file=str(model_path))
    model.compile(cache=str(object_path), **COMPILE_OPTIONS)
    return object_path.read_bytes()


class CompiledPredictor:
    """Scores with a lleaves-compiled forest; ``n_jobs`` threads split the rows."""

    backend = "compiled"

    def __init__(
        self,
        model_path: Path,
        object_path: Path,
        *,
        feature_names: tuple[str, ...],
        num_threads: int = 1,
    ) -> None:
        """Load a verified object file (bytes checked by the caller) for the model text."""
        import lleaves

        if num_threads < 1:
            raise ConfigurationError(f"num_threads must be >= 1, got {num_threads}")
        if not object_path.is_file() or object_path.stat().st_size == 0:
            raise FileNotFoundError(f"compiled object {object_path} is missing or empty")
        self._model = lleaves.Model(model_file=str(model_path))
        self._model.compile(cache=str(object_path), **COMPILE_OPTIONS)
        self._num_threads = num_threads
        self._feature_names = feature_names
        if self._model.num_feature() != len(feature_names):
            raise ConfigurationError(
                f"compiled model has {self._model.num_feature()} features, "
                f"model text lists {len(feature_names)}"
            )

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The booster's own feature order."""
        return self._feature_names

    @property
    def num_threads(self) -> int:
        """Threads used per ``predict`` call."""
        return self._num_threads

    def predict(self, matrix: FloatMatrix) -> FloatVector:
        """Score ``matrix`` (C-contiguous float64 avoids a copy)."""
        data = np.ascontiguousarray(matrix, dtype=np.float64)
        if data.ndim != 2 or data.shape[1] != len(self._feature_names):
            raise ConfigurationError(
                f"expected a matrix of shape (rows, {len(self._feature_names)}), got {data.shape}"
            )
        if data.shape[0] == 0:
            return np.empty(0, dtype=np.float64)
        jobs = min(self._num_threads, data.shape[0])
        return np.asarray(self._model.predict(data, n_jobs=jobs), dtype=np.float64)
