"""Shared test configuration: Hypothesis profiles, chosen by an environment variable."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

# ci: fast and derandomized, so a CI run is reproducible and bounded in time.
settings.register_profile(
    "ci", derandomize=True, database=None, max_examples=60, deadline=None,
    print_blob=True, suppress_health_check=[HealthCheck.too_slow])
# mutmut: deterministic, no shrinking, few examples: each mutant runs the suite again.
settings.register_profile(
    "mutmut", derandomize=True, database=None, max_examples=20, deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=list(HealthCheck))
# thorough: for nightly runs and research, random and long.
settings.register_profile(
    "thorough", max_examples=10_000, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
# dev: Hypothesis's defaults with its example database, for exploring locally.
settings.register_profile("dev", deadline=None)

settings.load_profile(os.environ.get("GCVERIFY_HYPOTHESIS_PROFILE", "ci"))

pytest_plugins = ["pytester"]
