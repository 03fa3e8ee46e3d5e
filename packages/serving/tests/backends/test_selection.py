"""Backend choice: auto/compiled/lightgbm, and every fallback with its event."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from tessera_serving.backends import BackendEvent, load_predictor, select_predictor
from tessera_serving.backends import compile_cache as compile_cache_module
from tessera_serving.backends.equivalence import compare_scores
from tessera_serving.store import LocalArtifactStore

from .conftest import Model


def _trained(params: dict[str, object], x: np.ndarray, y: np.ndarray, **kw: object) -> Model:
    base = {"verbose": -1, "num_threads": 1, "seed": 1, "deterministic": True}
    booster = lgb.train({**base, **params}, lgb.Dataset(x, y, **kw), num_boost_round=5)
    return Model("x", str(booster.model_to_string()), x[:200], np.array([200]))


@pytest.fixture(scope="module")
def features() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    x = rng.normal(size=(1000, 3))
    x[:, 2] = rng.integers(0, 4, size=1000)
    x[rng.random(x.shape) < 0.3] = 0.0
    return x, x[:, 0] + rng.normal(scale=0.1, size=1000)


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"objective": "regression", "linear_tree": True}, "linear_tree"),
        ({"objective": "regression", "zero_as_missing": True}, "zero_as_missing"),
        ({"objective": "multiclass", "num_class": 3}, "multiclass"),
    ],
)
def test_unsupported_models_fall_back_to_lightgbm_with_an_event(
    features: tuple[np.ndarray, np.ndarray],
    params: dict[str, object],
    detail: str,
    store: LocalArtifactStore,
    cache_dir: Path,
) -> None:
    x, y = features
    label = np.digitize(y, [-0.5, 0.5]) if params["objective"] == "multiclass" else y
    model = _trained(params, x, label, categorical_feature=[2])
    selection = select_predictor(
        model.text, backend="compiled", num_threads=1, store=store, cache_dir=cache_dir
    )
    (event,) = selection.events
    assert (event.name, event.level) == ("backend.fallback", "warning")
    assert event.fields["reason"] == "unsupported_model" and event.fields["detail"] == detail
    assert event.fields["backend"] == "lightgbm" and event.fields["requested_backend"] == "compiled"
    assert selection.predictor.backend == "lightgbm"
    assert not cache_dir.exists()  # never compiled
    if detail != "multiclass":
        assert np.array_equal(
            selection.predictor.predict(model.x_test), model.reference(model.x_test)
        )


def test_categorical_splits_compile_and_match(
    features: tuple[np.ndarray, np.ndarray], store: LocalArtifactStore, cache_dir: Path
) -> None:
    x, y = features
    y = y + 2.0 * (x[:, 2] == 1) - 1.5 * (x[:, 2] == 3)  # the category matters
    params = {"objective": "regression", "min_data_per_group": 5, "cat_smooth": 1}
    model = _trained(params, x, y, categorical_feature=[2])
    assert re.search(r"^num_cat=[1-9]", model.text, re.MULTILINE), "no categorical split"
    selection = select_predictor(
        model.text, backend="compiled", num_threads=1, store=store, cache_dir=cache_dir
    )
    assert selection.predictor.backend == "compiled", selection.events
    unseen = model.x_test.copy()
    unseen[::3, 2] = 7.0  # a category never seen in training
    unseen[1::3, 2] = np.nan
    got = selection.predictor.predict(unseen)
    assert compare_scores(model.reference(unseen), got).equivalent


def test_a_compiled_model_that_differs_falls_back_and_the_verdict_is_cached(
    sign_model: Model,
    store: LocalArtifactStore,
    cache_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Without compat's threshold rewrite, lleaves really does score this model differently.
    monkeypatch.setattr(compile_cache_module, "lightgbm_compatible_text", lambda text: text)
    first = select_predictor(
        sign_model.text, backend="compiled", num_threads=1, store=store, cache_dir=cache_dir
    )
    (event,) = first.events
    assert event.name == "backend.fallback" and event.fields["reason"] == "not_equivalent"
    assert event.fields["max_abs_diff"] > event.fields["tolerance"] == 1e-9
    assert event.fields["detail"] == "cache built" and event.fields["sample_rows"] == 4096
    assert first.predictor.backend == "lightgbm"
    expected = sign_model.reference(sign_model.x_test)
    assert np.array_equal(first.predictor.predict(sign_model.x_test), expected)
    second = select_predictor(
        sign_model.text, backend="auto", num_threads=1, store=store, cache_dir=cache_dir
    )
    assert second.events[0].fields["detail"] == "cache hit"  # not compiled again
    assert second.predictor.backend == "lightgbm"


def test_lightgbm_backend_emits_nothing_and_auto_picks_compiled(
    sign_model: Model, store: LocalArtifactStore, cache_dir: Path
) -> None:
    plain = select_predictor(sign_model.text, backend="lightgbm", num_threads=1)
    assert plain.predictor.backend == "lightgbm" and plain.events == ()
    auto = select_predictor(sign_model.text, num_threads=1, store=store, cache_dir=cache_dir)
    assert auto.predictor.backend == "compiled" and auto.events[0].name == "backend.compiled"


def test_load_predictor_hands_events_to_the_callback_or_logs_them(
    sign_model: Model, store: LocalArtifactStore, cache_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[BackendEvent] = []
    load_predictor(
        sign_model.text, num_threads=1, store=store, cache_dir=cache_dir, on_event=seen.append
    )
    assert [e.name for e in seen] == ["backend.compiled"]
    with caplog.at_level(logging.INFO, logger="tessera_serving.backends"):
        load_predictor(sign_model.text, num_threads=1, store=store, cache_dir=cache_dir)
    line = json.loads(caplog.records[-1].getMessage())
    assert line["event"] == "backend.compiled" and line["cache"] == "hit"


def test_bad_arguments_are_clear_errors(sign_model: Model) -> None:
    with pytest.raises(ValueError, match="unknown scoring backend 'fast'"):
        select_predictor(sign_model.text, backend="fast")
    with pytest.raises(ValueError, match=r"expected model_sha256 0+"):
        select_predictor(sign_model.text, backend="compiled", model_sha256="0" * 64)


_WITHOUT_LLEAVES = textwrap.dedent(
    """
    import json, sys
    sys.modules["lleaves"] = None  # as in the base install, without the [compiled] extra
    from pathlib import Path
    from tessera_serving.backends import select_predictor
    sel = select_predictor(Path(sys.argv[1]).read_text(), backend=sys.argv[2], num_threads=1)
    print(json.dumps([sel.predictor.backend, sel.events[0].level, sel.events[0].fields]))
    """
)


@pytest.mark.parametrize(("backend", "level"), [("auto", "info"), ("compiled", "warning")])
def test_without_the_compiler_lightgbm_serves(
    sign_model: Model, tmp_path: Path, backend: str, level: str
) -> None:
    model_file = tmp_path / "model.txt"
    model_file.write_text(sign_model.text)
    proc = subprocess.run(
        [sys.executable, "-c", _WITHOUT_LLEAVES, str(model_file), backend],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    used, got_level, fields = json.loads(proc.stdout)
    assert (used, got_level, fields["reason"]) == ("lightgbm", level, "compiler_not_installed")
