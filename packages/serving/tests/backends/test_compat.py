"""The threshold rewrite that makes lleaves read near-zero values as LightGBM does."""

from __future__ import annotations

import math
from pathlib import Path

import lleaves
import numpy as np

from tessera_serving.backends.compat import K_ZERO_THRESHOLD, lightgbm_compatible_text
from tessera_serving.backends.equivalence import compare_scores
from tessera_serving.backends.model_info import parse_model_info
from tessera_serving.backends.sample import synthesise_sample

from .conftest import Model

BELOW = math.nextafter(-K_ZERO_THRESHOLD, -math.inf)


def _compiled_scores(text: str, x: np.ndarray, tmp_path: Path, tag: str) -> np.ndarray:
    model_file = tmp_path / f"{tag}.txt"
    model_file.write_text(text)
    model = lleaves.Model(model_file=str(model_file))
    model.compile(cache=str(tmp_path / f"{tag}.o"))
    return np.asarray(model.predict(x, n_jobs=1))


def test_rewrite_moves_only_near_zero_numerical_thresholds(sign_model: Model) -> None:
    before = parse_model_info(sign_model.text).thresholds
    after = parse_model_info(lightgbm_compatible_text(sign_model.text)).thresholds
    assert before.keys() == after.keys()
    near_zero = 0
    for feature, values in before.items():
        for old in values:
            if -K_ZERO_THRESHOLD <= old < 0:
                near_zero += 1
                assert BELOW in after[feature]
            elif 0 <= old <= K_ZERO_THRESHOLD:
                near_zero += 1
                assert K_ZERO_THRESHOLD in after[feature]
            else:
                assert old in after[feature]
        assert not any(-K_ZERO_THRESHOLD <= v < 0 for v in after[feature])
    assert near_zero > 0, "data spanning zero should produce zero-bin thresholds"


def test_raw_lleaves_disagrees_with_lightgbm_near_zero_and_the_rewrite_fixes_it(
    sign_model: Model, tmp_path: Path
) -> None:
    info = parse_model_info(sign_model.text)
    sample = synthesise_sample(info)
    reference = sign_model.reference(sample)
    raw = compare_scores(reference, _compiled_scores(sign_model.text, sample, tmp_path, "raw"))
    fixed_text = lightgbm_compatible_text(sign_model.text)
    fixed = compare_scores(reference, _compiled_scores(fixed_text, sample, tmp_path, "fixed"))
    assert not raw.equivalent and raw.max_abs_diff > 1e-6
    assert fixed.equivalent, fixed
    # and on a row built to hit it: every feature exactly at -kZeroThreshold
    row = np.full((1, sample.shape[1]), -K_ZERO_THRESHOLD)
    exact = _compiled_scores(fixed_text, row, tmp_path, "row")
    assert compare_scores(sign_model.reference(row), exact).equivalent
