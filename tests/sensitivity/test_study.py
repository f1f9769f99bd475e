"""The study: its four parts, its determinism, its files (JSON against its schema, CSV,
Markdown, HTML) and what it found on the tiny preset."""

from __future__ import annotations

import csv
import json

import jsonschema
import numpy as np
import pytest

from gcverify.sensitivity import (
    PRESETS,
    STUDY_FILES,
    load_schema,
    render_csv,
    render_json,
    run_study,
    write_study,
)
from gcverify.sensitivity.measure import network_sample, plant, step_errors
from gcverify.sensitivity.study import Preset


@pytest.fixture(scope="module")
def tiny():
    return run_study(PRESETS["tiny"], seed=3, jobs=2)


def without_timing(text: str) -> dict:
    document = json.loads(text)
    del document["timing"]
    return document


def test_same_seed_same_json_whatever_the_jobs(tiny):
    again = run_study(PRESETS["tiny"], seed=3, jobs=1)
    assert without_timing(render_json(again)) == without_timing(render_json(tiny))
    other = run_study(PRESETS["tiny"], seed=4, jobs=2)
    assert without_timing(render_json(other)) != without_timing(render_json(tiny))


def test_the_json_follows_its_schema(tiny):
    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(json.loads(render_json(tiny)), schema)


def test_all_four_files_are_written(tiny, tmp_path):
    written = write_study(tiny, tmp_path / "study")
    assert sorted(p.name for p in (tmp_path / "study").iterdir()) == sorted(STUDY_FILES)
    rows = list(csv.DictReader(written["sensitivity.csv"].open()))
    assert {row["part"] for row in rows} == {"steps", "detection", "mutants"}
    assert list(rows[0]) == ["part", "case", "group", "kind", "size", "value",
                             "notebook", "torch", "jax", "scipy", "gcverify"]
    # One row per network × planted error (or step, or mutant × example); every rule's
    # score on the detection rows.
    detection = [row for row in rows if row["part"] == "detection"]
    assert len(detection) == tiny.detection["networks"] * (
        2 + 3 * len(tiny.preset.deltas))
    assert all(float(row["gcverify"]) >= 0 for row in detection)
    assert render_csv(tiny) == written["sensitivity.csv"].read_text()
    markdown = written["sensitivity.md"].read_text()
    assert "| gcverify.check_gradients |" in markdown and "Step sweep" in markdown
    html = written["sensitivity.html"].read_text()
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html


def test_the_step_sweep_finds_the_optimum_near_theory(tiny):
    steps = tiny.steps
    assert steps["networks"] == PRESETS["tiny"].step_networks
    # Truncation against rounding: the optimum lies between 1e-6 and 1e-4, theory agrees
    # within a decade, and the notebook's 1e-7 is worse than the optimum.
    assert 1e-6 <= steps["measured_optimum"] <= 1e-4
    assert 0.1 < steps["theory_optimum"] / steps["measured_optimum"] < 10
    assert steps["error_at_notebook_step"] > steps["error_at_optimum"]


def test_the_central_difference_error_is_v_shaped_on_one_network():
    sample = network_sample(0, 0, PRESETS["tiny"].space, PRESETS["tiny"].domain)
    errors = step_errors(sample, (1e-12, 1e-5, 1e-1)).errors
    assert errors[1] < errors[0] and errors[1] < errors[2]


def test_gcverify_catches_what_its_rule_promises_and_raises_no_false_alarm(tiny):
    row = tiny.table["gcverify"]
    assert row.false_alarms == 0 and sum(row.missed_by_family.values()) == 0
    assert row.smallest_scaling is not None and row.smallest_scaling <= 1e-6
    boundary = tiny.detection["kinds"]["scaling"]["gcverify"]
    deltas = tiny.detection["deltas"]
    assert all(p == 0 for d, p in zip(deltas, boundary) if d < 1e-7)    # below the threshold
    assert all(p >= 0.9 for d, p in zip(deltas, boundary) if d >= 1e-6)


def test_sign_errors_are_caught_by_every_rule_that_looks_at_every_coordinate(tiny):
    sign = tiny.detection["kinds"]["sign"]
    assert all(sign[name] == [1.0] for name in ("notebook", "torch", "scipy", "gcverify"))
    # jax's one random direction can be nearly orthogonal to the flipped block's gradient.
    assert 0.5 <= sign["jax"][0] <= 1.0


@pytest.mark.parametrize(("kind", "delta", "expected"), [
    ("scaling", 0.5, [1.0, 3.0, 4.5]),
    ("sign", 1.0, [1.0, -2.0, -3.0]),
])
def test_planted_errors_change_only_their_block(kind, delta, expected):
    found = plant(np.array([1.0, 2.0, 3.0]), slice(1, 3), kind, delta, np.random.default_rng(0))
    assert found.tolist() == expected


@pytest.mark.parametrize("kind", ["entry", "direction"])
def test_entry_and_direction_errors_have_the_relative_size_asked(kind):
    g = np.array([1.0, 3.0, 4.0])                               # block norm 5
    found = plant(g, slice(1, 3), kind, 1e-3, np.random.default_rng(1))
    assert np.linalg.norm(found - g) == pytest.approx(5e-3) and found[0] == 1.0


def test_ctrl_c_returns_what_finished():
    seen = []

    def stop_after_two(done, total):
        seen.append(done)
        if done >= 2:
            raise KeyboardInterrupt

    result = run_study(Preset("x", 4, 4, 0), seed=0, jobs=1, progress=stop_after_two)
    assert result.interrupted
    assert result.steps["networks"] < 4 or result.detection["networks"] < 4
