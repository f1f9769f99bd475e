"""Hypothesis profiles for gradient-checking properties, chosen by an environment variable.

``GCVERIFY_HYPOTHESIS_PROFILE`` picks one (default ``ci``):

* ``ci``: derandomized and without a database, so that a CI run is reproducible and
  its time bounded (the whole gcverify suite: about a minute on 2 cores);
* ``mutmut``: deterministic, no shrinking, few examples: mutmut re-runs the tests once
  per mutant, and only needs to know whether something fails;
* ``thorough``: 10,000 examples per property, random, for nightly or research runs;
* ``dev``: Hypothesis's defaults (random, with its example database) for exploring.

Use them in your own ``conftest.py``::

    from gcverify.hypothesis_profiles import load_profile
    load_profile()

>>> sorted(PROFILES)
['ci', 'dev', 'mutmut', 'thorough']
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, Phase, settings

from gcverify.errors import invalid_argument

__all__ = ["ENVIRONMENT_VARIABLE", "PROFILES", "load_profile", "register_profiles"]

#: The environment variable that names the profile to load.
ENVIRONMENT_VARIABLE = "GCVERIFY_HYPOTHESIS_PROFILE"

#: The profiles' settings.
PROFILES: dict[str, dict[str, Any]] = {
    "ci": {"derandomize": True, "database": None, "max_examples": 60, "deadline": None,
           "print_blob": True, "suppress_health_check": [HealthCheck.too_slow]},
    "mutmut": {"derandomize": True, "database": None, "max_examples": 12, "deadline": None,
               "phases": [Phase.explicit, Phase.generate],
               "suppress_health_check": list(HealthCheck)},
    "thorough": {"max_examples": 10_000, "deadline": None,
                 "suppress_health_check": [HealthCheck.too_slow]},
    "dev": {"deadline": None},
}


def register_profiles() -> None:
    """Register every profile of :data:`PROFILES` with Hypothesis."""
    for name, options in PROFILES.items():
        settings.register_profile(name, **options)


def load_profile(default: str = "ci") -> str:
    """Register the profiles and load the one named by :data:`ENVIRONMENT_VARIABLE`."""
    register_profiles()
    name = os.environ.get(ENVIRONMENT_VARIABLE, default)
    if name not in PROFILES:
        raise invalid_argument(ENVIRONMENT_VARIABLE, name, "is not a gcverify profile",
                               f"use one of {', '.join(PROFILES)}")
    settings.load_profile(name)
    return name
