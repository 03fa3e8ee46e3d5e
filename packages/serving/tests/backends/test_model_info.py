"""Reading model.txt without LightGBM, and the probe sample built from it."""

from __future__ import annotations

import numpy as np
import pytest

from tessera_serving.backends.equivalence import compare_scores
from tessera_serving.backends.model_info import parse_model_info, unsupported_reason
from tessera_serving.backends.sample import synthesise_sample

from .conftest import Model


def test_header_and_domains_match_lightgbm(binary_model: Model, rank_model: Model) -> None:
    import lightgbm as lgb

    for model in (binary_model, rank_model):
        info = parse_model_info(model.text)
        booster = lgb.Booster(model_str=model.text)
        assert info.feature_names == tuple(booster.feature_name())
        assert info.num_trees == booster.num_trees() == 20
        assert unsupported_reason(info) is None
        numeric = [f for f in info.features if f.kind == "numeric"]
        assert numeric and all(f.low <= f.high for f in numeric)
    assert parse_model_info(binary_model.text).objective == "binary"
    rank_info = parse_model_info(rank_model.text)
    assert len(rank_info.features) == 301 and rank_info.objective == "lambdarank"


def test_sample_covers_the_edges_deterministically(sign_model: Model) -> None:
    info = parse_model_info(sign_model.text)
    sample = synthesise_sample(info, rows=2000, seed=1)
    assert sample.flags.c_contiguous and sample.dtype == np.float64
    assert np.array_equal(sample, synthesise_sample(info, rows=2000, seed=1), equal_nan=True)
    for index, feature in enumerate(info.features):
        column = sample[:, index]
        assert np.isnan(column).any()
        assert (column < feature.low).any() and (column > feature.high).any()
        assert set(info.thresholds[index]) & set(column.tolist())  # exact split points
        assert (column == -1.0000000180025095e-35).any()


def test_compare_scores_is_strict_about_nan_and_shape() -> None:
    a = np.array([1.0, np.nan, 1000.0])
    assert compare_scores(a, a.copy()).equivalent
    assert compare_scores(a, a + np.array([0, 0, 5e-7])).equivalent  # relative for |s| > 1
    assert not compare_scores(a, a + np.array([2e-9, 0, 0])).equivalent
    assert not compare_scores(a, np.array([1.0, 0.0, 1000.0])).equivalent
    assert not compare_scores(a, a[:2]).equivalent


def test_malformed_model_text_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no feature_names= line"):
        parse_model_info("tree\nversion=v4\n")
