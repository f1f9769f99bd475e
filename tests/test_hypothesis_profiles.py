"""Hypothesis profiles, picked by GCVERIFY_HYPOTHESIS_PROFILE."""

from __future__ import annotations

import pytest
from hypothesis import Phase, settings

from gcverify import InvalidArgument
from gcverify.hypothesis_profiles import ENVIRONMENT_VARIABLE, PROFILES, load_profile


@pytest.fixture(autouse=True)
def restore_profile():
    current = settings._current_profile
    yield
    settings.load_profile(current)


def test_ci_is_derandomized_without_a_database(monkeypatch):
    monkeypatch.delenv(ENVIRONMENT_VARIABLE, raising=False)
    assert load_profile() == "ci"
    assert settings.default.derandomize and settings.default.database is None


def test_mutmut_never_shrinks(monkeypatch):
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, "mutmut")
    assert load_profile() == "mutmut"
    assert Phase.shrink not in settings.default.phases and settings.default.derandomize


def test_thorough_runs_ten_thousand_examples(monkeypatch):
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, "thorough")
    load_profile()
    assert settings.default.max_examples >= 10_000


def test_unknown_profile_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, "fast")
    with pytest.raises(InvalidArgument) as info:
        load_profile()
    assert str(info.value) == (f"{ENVIRONMENT_VARIABLE}='fast' is not a gcverify profile; "
                               f"use one of {', '.join(PROFILES)}")
