"""report.json: valid against its shipped schema, deterministic, no NaN."""

from __future__ import annotations

import json

import jsonschema
import pytest

from gcverify.mutation import mutate_function, notebook_target, run_campaign
from gcverify.report import SCHEMA_VERSION, load_schema, render_json, report_document
from tests.mutation.campaigns import default_campaign, mixed_campaign


@pytest.fixture(scope="module")
def validator():
    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("campaign", [default_campaign, mixed_campaign])
def test_the_report_validates_against_its_schema(validator, campaign):
    document = json.loads(render_json(campaign()))
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    assert not errors, errors[0]


def test_the_schema_rejects_what_it_should(validator):
    document = json.loads(render_json(mixed_campaign()))
    broken = json.loads(json.dumps(document))
    broken["mutants"][0]["outcome"] = "killed-ish"
    assert not validator.is_valid(broken)
    del document["summary"]["score"]
    assert not validator.is_valid(document)


def test_the_issue_fields_are_there():
    document = report_document(default_campaign())
    assert document["schema_version"] == SCHEMA_VERSION
    assert document["tool"]["name"] == "gcverify" and document["seed"] == 0
    assert document["target"]["function"] == "backward_propagation_n"
    assert document["settings"]["check"]["threshold"] == 2e-7
    assert set(document["summary"]) == {"total", "killed", "killed_by_error", "timeout",
                                        "survived", "not_reached", "equivalent", "score",
                                        "check_score"}
    for mutant in document["mutants"]:
        assert {"id", "operator", "line", "diff", "outcome", "difference", "detection_rate",
                "killing_example"} <= set(mutant)
        assert (mutant["killing_example"] is None) == (mutant["outcome"] != "killed")


def test_the_killing_example_can_be_replayed_from_the_json():
    import numpy as np

    from gcverify import check_backprop
    from gcverify.models import notebook as nb

    result = default_campaign()
    document = report_document(result)
    entry = next(m for m in document["mutants"] if m["description"] == "db1 × 4")
    example = entry["killing_example"]
    mutant = next(r.mutant for r in result.results if r.mutant.id == entry["id"])
    replay = check_backprop(nb.forward_propagation_n, mutant.compile(vars(nb)),
                            np.array(example["X"]), np.array(example["Y"]),
                            {k: np.array(v) for k, v in example["parameters"].items()})
    assert replay.verdict.value == "fail"
    assert replay.difference == pytest.approx(example["difference"])


def test_timing_is_apart_and_everything_else_is_free_of_wall_times():
    document = report_document(mixed_campaign())
    assert set(document["timing"]) == {"total_seconds", "baseline_seconds",
                                       "time_limit_seconds", "jobs", "memory_limit_bytes",
                                       "mutants"}
    assert document["timing"]["time_limit_seconds"] == 2.0
    assert document["timing"]["memory_limit_bytes"] >= 2**30  # the default: a share
    assert document["settings"]["time_limit"] == 2.0
    assert "seconds" not in json.dumps({k: v for k, v in document.items() if k != "timing"})


def test_the_text_is_strict_json_in_utf8():
    text = render_json(mixed_campaign())
    json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in report.json"))
    assert "≈" in render_json(default_campaign())  # diagnoses are kept readable


def without_timing(text: str) -> dict:
    document = json.loads(text)
    del document["timing"]
    return document


def test_same_seed_same_report_json_whatever_the_jobs():
    target = notebook_target(seed=3)
    mutants = mutate_function(target.backward)[::7]
    first = run_campaign(target, examples=4, mutants=mutants, jobs=1)
    second = run_campaign(notebook_target(seed=3), examples=4, mutants=mutants, jobs=2)
    assert without_timing(render_json(first)) == without_timing(render_json(second))
    other_seed = run_campaign(notebook_target(seed=4), examples=4, mutants=mutants, jobs=2)
    assert without_timing(render_json(other_seed)) != without_timing(render_json(first))


# The whole default target, run twice with the same seed, gives the same report.json:
# tests/mutation/test_command.py::test_the_default_target_is_the_librarys_default_campaign
# compares the CLI's full run with the library's (one full campaign fewer here).


def test_non_finite_numbers_are_written_as_null():
    # JSON has no NaN: a non-finite difference or example value is written as null.
    import dataclasses
    import math

    campaign = default_campaign()
    k, killed = next((k, r) for k, r in enumerate(campaign.results) if r.killing_example)
    example = killed.killing_example
    X = example.X.copy()
    X.flat[0] = math.nan
    changed = dataclasses.replace(killed, killing_example=dataclasses.replace(
        example, X=X, difference=math.inf))
    results = [*campaign.results[:k], changed, *campaign.results[k + 1:]]
    text = render_json(dataclasses.replace(campaign, results=results))
    document = json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} written"))
    mutant = document["mutants"][k]
    assert mutant["difference"] is None and mutant["killing_example"]["difference"] is None
    assert mutant["killing_example"]["X"][0][0] is None
