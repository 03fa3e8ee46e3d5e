"""Real LightGBM models on LightGBM's own example data, for the backend tests.

Tiny on purpose (a few thousand rows, 20 trees, one thread): a lleaves compile of these
takes well under a second. NaNs are injected (seeded) so missing-value routing is tested.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest

from tessera_serving.store import LocalArtifactStore

DATA = Path(__file__).resolve().parents[4] / ".." / "shared" / "data" / "lightgbm-examples"
BACKENDS_UNDER_TEST = ("lightgbm", "compiled")


@dataclass(frozen=True)
class Model:
    """A trained booster's text, its sha256, test rows and their query boundaries."""

    name: str
    text: str
    x_test: np.ndarray
    groups: np.ndarray  # query sizes of x_test (one group for binary)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    def reference(self, x: np.ndarray) -> np.ndarray:
        """LightGBM's own ``Booster.predict`` (the ground truth)."""
        return np.asarray(lgb.Booster(model_str=self.text).predict(x, num_threads=1))


def _with_nans(x: np.ndarray, seed: int, rate: float = 0.08) -> np.ndarray:
    out = np.array(x, dtype=np.float64, copy=True)
    out[np.random.default_rng(seed).random(out.shape) < rate] = np.nan
    return np.ascontiguousarray(out)


def _libsvm(path: Path, n_features: int) -> tuple[np.ndarray, np.ndarray]:
    rows = path.read_text().splitlines()
    x = np.zeros((len(rows), n_features))
    y = np.zeros(len(rows))
    for i, line in enumerate(rows):
        label, *pairs = line.split()
        y[i] = float(label)
        for pair in pairs:
            index, value = pair.split(":")
            if int(index) < n_features:
                x[i, int(index)] = float(value)
    return x, y


def _train(params: dict[str, Any], x: np.ndarray, y: np.ndarray, **kw: Any) -> str:
    base = {"verbose": -1, "num_threads": 1, "seed": 3, "deterministic": True}
    booster = lgb.train({**base, **params}, lgb.Dataset(x, y, **kw), num_boost_round=20)
    return str(booster.model_to_string())


def _binary_table(name: str) -> tuple[np.ndarray, np.ndarray]:
    raw = np.loadtxt(DATA / "binary_classification" / name)
    return raw[:, 1:], raw[:, 0]


@pytest.fixture(scope="session")
def binary_model() -> Model:
    x, y = _binary_table("binary.train")
    text = _train({"objective": "binary", "num_leaves": 15}, _with_nans(x, 1), y)
    x_test, _ = _binary_table("binary.test")
    return Model("binary", text, _with_nans(x_test, 2), np.array([len(x_test)]))


@pytest.fixture(scope="session")
def rank_model() -> Model:
    # rank.* is sparse LibSVM: absent features are zeros, so LightGBM also learns splits at
    # its zero thresholds (+-1e-35), the case compat.py exists for.
    x, y = _libsvm(DATA / "lambdarank" / "rank.train", 301)
    groups = np.loadtxt(DATA / "lambdarank" / "rank.train.query", dtype=int)
    params = {"objective": "lambdarank", "num_leaves": 31, "min_data_in_leaf": 10}
    text = _train(params, _with_nans(x, 3, 0.03), y, group=groups)
    x_test, _ = _libsvm(DATA / "lambdarank" / "rank.test", 301)
    test_groups = np.loadtxt(DATA / "lambdarank" / "rank.test.query", dtype=int)
    return Model("lambdarank", text, _with_nans(x_test, 4, 0.03), test_groups)


@pytest.fixture(scope="session")
def sign_model() -> Model:
    """Labels decided by the sign of features on both sides of zero: LightGBM then splits
    at its zero-bin edges (+-1e-35), where raw lleaves and LightGBM disagree (compat.py)."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3000, 4))
    y = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).astype(float) + 0.5 * (x[:, 2] > 0)
    # NaNs in training give the splits a NaN missing type; then -1e-35 thresholds appear.
    text = _train({"objective": "regression", "num_leaves": 7}, _with_nans(x, 7, 0.05), y)
    x_test = _with_nans(rng.normal(size=(500, 4)), 6)
    return Model("sign", text, x_test, np.array([len(x_test)]))


@pytest.fixture(params=["binary", "rank"])
def model(request: pytest.FixtureRequest) -> Model:
    fixture: Model = request.getfixturevalue(f"{request.param}_model")
    return fixture


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> tuple[LocalArtifactStore, Path]:
    """One store + cache dir for tests that only need *a* compiled model (compile once)."""
    root = tmp_path_factory.mktemp("shared-cache")
    return LocalArtifactStore(root / "artifacts"), root / "compiled"


@pytest.fixture
def store(tmp_path: Path) -> LocalArtifactStore:
    return LocalArtifactStore(tmp_path / "artifacts")


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "compiled"
