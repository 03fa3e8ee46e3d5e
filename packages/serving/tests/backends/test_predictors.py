"""Both backends score like ``Booster.predict`` and rank every query identically."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from tessera_serving.backends import Predictor, load_predictor
from tessera_serving.backends.equivalence import ABS_TOLERANCE, compare_scores
from tessera_serving.store import LocalArtifactStore

from .conftest import BACKENDS_UNDER_TEST, Model


@pytest.fixture(params=BACKENDS_UNDER_TEST)
def predictor(
    request: pytest.FixtureRequest, model: Model, shared_cache: tuple[LocalArtifactStore, Path]
) -> Predictor:
    backend: str = request.param
    store, cache_dir = shared_cache
    loaded = load_predictor(
        model.text, backend=backend, num_threads=1, store=store, cache_dir=cache_dir
    )
    assert loaded.backend == backend
    return loaded


def _ranks(scores: np.ndarray, groups: np.ndarray) -> list[list[int]]:
    bounds = np.concatenate([[0], np.cumsum(groups)])
    return [list(np.argsort(-scores[a:b], kind="stable")) for a, b in itertools.pairwise(bounds)]


def test_scores_match_lightgbm_within_tolerance(predictor: Predictor, model: Model) -> None:
    assert np.isnan(model.x_test).any()
    expected = model.reference(model.x_test)
    got = predictor.predict(model.x_test)
    report = compare_scores(expected, got)
    assert report.equivalent, report
    assert report.max_abs_diff <= ABS_TOLERANCE
    if predictor.backend == "lightgbm":
        assert np.array_equal(got, expected)  # the reference backend is bit-identical


def test_same_ranking_per_query(predictor: Predictor, model: Model) -> None:
    got = predictor.predict(model.x_test)
    assert _ranks(got, model.groups) == _ranks(model.reference(model.x_test), model.groups)


def test_feature_names_are_the_boosters(predictor: Predictor, model: Model) -> None:
    header = next(line for line in model.text.splitlines() if line.startswith("feature_names="))
    assert predictor.feature_names == tuple(header.partition("=")[2].split(" "))


def test_layouts_and_threads_do_not_change_scores(
    model: Model, shared_cache: tuple[LocalArtifactStore, Path]
) -> None:
    store, cache_dir = shared_cache
    expected = model.reference(model.x_test)
    for threads in (1, 2):
        compiled = load_predictor(
            model.text, backend="compiled", num_threads=threads, store=store, cache_dir=cache_dir
        )
        fortran = np.asfortranarray(model.x_test)
        assert compare_scores(expected, compiled.predict(fortran)).equivalent
        assert compare_scores(expected[:1], compiled.predict(model.x_test[:1])).equivalent
        assert compiled.predict(model.x_test[:0]).shape == (0,)


def test_wrong_width_is_a_clear_error(
    model: Model, shared_cache: tuple[LocalArtifactStore, Path]
) -> None:
    store, cache_dir = shared_cache
    compiled = load_predictor(
        model.text, backend="compiled", num_threads=1, store=store, cache_dir=cache_dir
    )
    with pytest.raises(ValueError, match=r"expected a matrix of shape \(rows, \d+\)"):
        compiled.predict(model.x_test[:, :-1])
