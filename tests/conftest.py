"""Shared test configuration: the Hypothesis profile named by GCVERIFY_HYPOTHESIS_PROFILE."""

from __future__ import annotations

from gcverify.hypothesis_profiles import load_profile

PROFILE = load_profile(default="ci")

pytest_plugins = ["pytester"]


def pytest_report_header(config):
    return f"gcverify: Hypothesis profile {PROFILE!r} (set GCVERIFY_HYPOTHESIS_PROFILE)"
