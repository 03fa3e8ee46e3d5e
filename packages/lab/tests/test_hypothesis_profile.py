"""The workspace's Hypothesis profile is loaded for every test run (see the root conftest.py)."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st


def test_the_shared_profile_is_the_default() -> None:
    expected = os.environ.get("HYPOTHESIS_PROFILE", "tessera")
    assert settings.default == settings.get_profile(expected)
    assert settings.default.deadline is None


@given(st.integers())
def test_property_tests_run_without_a_deadline(value: int) -> None:
    assert settings().deadline is None
    assert isinstance(value, int)
