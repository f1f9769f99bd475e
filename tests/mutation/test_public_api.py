"""gcverify.mutation's public names: all exist, documented with a runnable example."""

from __future__ import annotations

import gcverify.mutation as mutation
import gcverify.report as report


def test_all_names_exist_once():
    for module in (mutation, report):
        for name in module.__all__:
            assert hasattr(module, name), name
        assert len(set(module.__all__)) == len(module.__all__)


def test_public_callables_have_docstrings_with_an_example():
    for module in (mutation, report):
        for name in module.__all__:
            obj = getattr(module, name)
            ours = getattr(obj, "__module__", "").startswith("gcverify")
            if isinstance(obj, type) or (callable(obj) and ours):
                assert obj.__doc__ and ">>>" in obj.__doc__, name


def test_every_outcome_is_in_the_json_schema():
    from gcverify.report import load_schema

    outcomes = load_schema()["$defs"]["mutant"]["properties"]["outcome"]["enum"]
    assert outcomes == [outcome.value for outcome in mutation.Outcome]
