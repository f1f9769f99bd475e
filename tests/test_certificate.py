"""Sensitivity certificates: the derivation checked by hand, then proved on planted errors.

:mod:`gcverify.certificate` derives, from the verdict rule, the smallest relative error
a check is sure to catch and the scale factors it lets through. Here: exact values on
hand-made sums, then the empirical proof the issue asks for. At several points (the
reference network, the notebook's functions) the check's evidence is computed once and
re-judged by the verdict's own functions with an analytic gradient carrying a planted
error in one block (random direction, single entry, scaling): of size 3× the certified
value they FAIL in ≥ 99 % of the cases, of size 0.1× they do not in ≥ 99 %.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from gcverify import MLP, check_backprop, check_gradients
from gcverify.certificate import Sensitivity, certificate
from gcverify.evaluate import LoopEvaluator
from gcverify.models import notebook as nb
from gcverify.options import CheckOptions
from gcverify.pipeline import _first_pass
from gcverify.result import Verdict
from gcverify.validate import validate_gradients, validate_parameters
from gcverify.verdict import Evidence, judge_blocks
from tests.test_verdict_rules import evidence as hand_made

# --- the formulas, on exact numbers ----------------------------------------------------


def test_a_perfect_match_is_certified_to_the_threshold_over_one_minus_it():
    # g = n, |g| = |n| = 1, no error bars, t = 0.01: M = 0.02, caught above M / 0.99;
    # k g passes iff |k - 1| <= 0.01 (k + 1): k in [0.99 / 1.01, 1.01 / 0.99].
    s = certificate(g2=1.0, n2=1.0, gn=1.0, gd=0.0, diff2=0.0, e2=0.0, threshold=0.01)
    assert s.relative_error == pytest.approx(0.02 / 0.99, rel=1e-14)
    assert s.tolerated == pytest.approx(0.02 / 1.01, rel=1e-14)
    assert s.scaling == pytest.approx((0.99 / 1.01, 1.01 / 0.99), rel=1e-14)


def test_the_measured_mismatch_and_the_error_bars_widen_the_certificate():
    # g = (1, 0), n = (0.99, 0), e = 0.005: |d| = 0.01, M = 0.01 * 1.99 + 0.005 = 0.0249.
    s = certificate(g2=1.0, n2=0.99**2, gn=0.99, gd=0.01, diff2=1e-4, e2=0.005**2,
                    threshold=0.01)
    assert s.relative_error == pytest.approx((0.01 + 0.0249) / 0.99, rel=1e-12)
    assert s.tolerated == pytest.approx((0.0249 - 0.01) / 1.01, rel=1e-12)
    # |k - 0.99| <= 0.01 (k + 0.99) + 0.005 on k >= 0.
    lo, hi = s.scaling
    assert lo == pytest.approx((0.99 - 0.0099 - 0.005) / 1.01, rel=1e-12)
    assert hi == pytest.approx((0.99 + 0.0099 + 0.005) / 0.99, rel=1e-12)


def test_a_failing_block_lets_through_only_the_factors_that_would_undo_its_bug():
    # g = 2 n (a x2 bug): k g passes only near k = 1/2; any error above (|d| + M) / (1 - t).
    s = certificate(g2=4.0, n2=1.0, gn=2.0, gd=2.0, diff2=1.0, e2=0.0, threshold=0.01)
    assert s.relative_error == pytest.approx((1 + 0.03) / (0.99 * 2), rel=1e-13)
    assert s.tolerated == 0.0
    lo, hi = s.scaling
    assert lo == pytest.approx(0.99 / 2.02, rel=1e-13) and hi == pytest.approx(1.01 / 1.98)


def test_a_sign_flip_lets_through_only_negative_factors():
    # g = -n: k g passes only near k = -1.
    s = certificate(g2=1.0, n2=1.0, gn=-1.0, gd=2.0, diff2=4.0, e2=0.0, threshold=0.01)
    assert s.scaling == pytest.approx((-1.01 / 0.99, -0.99 / 1.01), rel=1e-13)


def test_no_factor_passes_when_the_gradient_points_elsewhere():
    # g = (1, 0), n = (0, 1): |k g - n| >= 1 > 0.01 (|k| + 1) for every k.
    s = certificate(g2=1.0, n2=1.0, gn=0.0, gd=1.0, diff2=2.0, e2=0.0, threshold=0.01)
    assert s.scaling is None
    assert s.describe("dW") == ("dW: would catch any error ≥ 1.4 of ‖dW‖; any scaling")


def test_a_noise_level_block_lets_through_factors_of_both_signs():
    # n = 0, e = 1, g = 1: |k| <= 0.01 |k| + 1 for |k| <= 1 / 0.99.
    s = certificate(g2=1.0, n2=0.0, gn=0.0, gd=1.0, diff2=1.0, e2=1.0, threshold=0.01)
    assert s.scaling == pytest.approx((-1 / 0.99, 1 / 0.99), rel=1e-13)


@pytest.mark.parametrize("diff2, expected", [(0.0, (-math.inf, math.inf)), (4.0, None)],
                         ids=["numerical zero too", "numerical not zero"])
def test_a_zero_gradient_certifies_nothing_relative(diff2, expected):
    # g = 0: every k g is 0; it passes iff |n| <= t |n| + |e| (here |n|^2 = diff2, e = 1).
    s = certificate(g2=0.0, n2=diff2, gn=0.0, gd=0.0, diff2=diff2, e2=1.0, threshold=0.01)
    assert (s.relative_error, s.tolerated, s.scaling) == (math.inf, math.inf, expected)
    assert s.describe("db") == "db: certifies nothing (its gradient is zero here)"
    assert s.as_dict()["relative_error"] is None


def test_the_report_line_shows_enough_digits_to_see_the_interval():
    line = Sensitivity(4.3e-07, (0.999999578, 1.000000420)).describe("dW1")
    assert line == ("dW1: would catch any error ≥ 4.3e-07 of ‖dW1‖; a scaling outside "
                    "[0.99999958, 1.00000042]")
    assert Sensitivity(0.75, (0.5, 2.0)).describe("db").endswith("[0.500, 2.000]")
    assert Sensitivity(0.2, (-math.inf, math.inf)).describe("db").endswith("[-inf, inf]")


def test_findings_carry_the_certificate_of_their_own_sums():
    ev = hand_made({"W": [(1.0, 1.0, 0.0), (2.0, 1.9, 0.05)], "b": [(3.0, 3.0, 0.0)]},
                   threshold=0.01)
    findings = judge_blocks(ev)
    g, n = np.array([1.0, 2.0]), np.array([1.0, 1.9])
    assert findings["W"].sensitivity == certificate(
        g2=g @ g, n2=n @ n, gn=g @ n, gd=g @ (g - n), diff2=(g - n) @ (g - n), e2=0.05**2,
        threshold=0.01)
    assert findings["b"].sensitivity == certificate(g2=9.0, n2=9.0, gn=9.0, gd=0.0,
                                                    diff2=0.0, e2=0.0, threshold=0.01)


def test_nothing_judged_or_a_nan_gradient_has_no_certificate():
    ev = hand_made({"W": [(1.0, 1.0, 0.0, "kink")], "b": [(math.nan, 1.0, 0.0)],
                    "c": [(1.0, 1.0, 0.0)]})
    findings = judge_blocks(ev)
    assert findings["W"].sensitivity is None and findings["b"].sensitivity is None
    assert findings["c"].sensitivity is not None
    assert findings["W"].certificate_line() == (
        "dW: certifies nothing (nothing judged, or not finite)")


# --- the proof on planted errors ---------------------------------------------------------

CASES_PER_KIND = 240


def _mlp_point(layers, activation, cost, seed, m):
    net = MLP(layers, activation=activation, cost=cost)
    X, Y = net.make_batch(m, seed=seed)
    parameters = net.init_parameters(seed=seed + 1)
    gradients = net.backward(X, Y, net.forward(X, Y, parameters)[1])
    return net.cost_function(X, Y), gradients, parameters


def _notebook_point(seed, m):
    X, Y, parameters = nb.gradient_check_n_test_case()
    if seed:
        rng = np.random.default_rng(seed)
        X = rng.normal(size=(4, m))
        Y = (rng.random((1, m)) < 0.5).astype(float)
        parameters = {k: rng.normal(size=v.shape) for k, v in parameters.items()}
    cost, cache = nb.forward_propagation_n(X, Y, parameters)

    def cost_of(p):
        return nb.forward_propagation_n(X, Y, p)[0]

    return cost_of, nb.backward_propagation_n(X, Y, cache), parameters


POINTS = {
    "mlp relu 4-5-3-1": lambda: _mlp_point((4, 5, 3, 1), "relu", "stable", 1, 6),
    "mlp tanh 3-6-1 naive": lambda: _mlp_point((3, 6, 1), "tanh", "naive", 2, 8),
    "mlp sigmoid 5-4-4-1": lambda: _mlp_point((5, 4, 4, 1), "sigmoid", "stable", 3, 10),
    "notebook test case": lambda: _notebook_point(0, 3),
    "notebook random": lambda: _notebook_point(7, 12),
}


def _evidence(cost, gradients, parameters) -> Evidence:
    """The check's evidence (numerical derivatives with error bars) at the point, as the
    checker's first pass computes it."""
    layout, theta = validate_parameters(parameters)
    evaluator = LoopEvaluator(cost, layout)
    gradient = validate_gradients(gradients, layout)
    return _first_pass(evaluator, theta, evaluator.base(theta), gradient,
                       CheckOptions()).evidence


@pytest.fixture(scope="module")
def points():
    found = {}
    for name, make in POINTS.items():
        ev = _evidence(*make())
        findings = judge_blocks(ev)
        assert all(f.verdict is Verdict.PASS for f in findings.values()), name
        found[name] = (ev, findings)
    return found


def _planted(kind, points, rng, factor):
    """One planted error at a random point, in a random block that certifies something:
    the evidence with the planted analytic vector, and the block's name."""
    cases = [(ev, name, f) for ev, fs in points for name, f in fs.items() if f.certifies]
    evidence, name, finding = cases[rng.integers(len(cases))]
    k = evidence.layout.names.index(name)
    span = slice(evidence.layout.offsets[k], evidence.layout.offsets[k + 1])
    judged = np.flatnonzero(evidence.judged[span])
    g = evidence.analytic[span][judged]
    size = factor * finding.sensitivity.relative_error * float(np.sqrt(g @ g))
    delta = np.zeros_like(g)
    if kind == "random direction":
        direction = rng.normal(size=g.shape)
        delta = size * direction / np.sqrt(direction @ direction)
    elif kind == "single entry":
        delta[rng.integers(len(g))] = size * rng.choice([-1.0, 1.0])
    elif kind == "scaling by the relative error":
        delta = rng.choice([-1.0, 1.0]) * size / np.sqrt(g @ g) * g
    else:                  # scaling to factor x the interval's half-width beyond 1
        lo, hi = finding.sensitivity.scaling
        k_factor = 1 + factor * (hi - 1) if rng.random() < 0.5 else 1 - factor * (1 - lo)
        delta = (k_factor - 1) * g
    analytic = evidence.analytic.copy()
    analytic[span.start + judged] += delta
    return replace(evidence, analytic=analytic), name


KINDS = ["random direction", "single entry", "scaling by the relative error",
         "scaling by the interval"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("factor, should_fail", [(3.0, True), (0.1, False)],
                         ids=["3x certified: caught", "0.1x certified: let through"])
def test_planted_errors_around_the_certified_size(points, kind, factor, should_fail):
    rng = np.random.default_rng([KINDS.index(kind), int(factor * 10)])
    pairs = list(points.values())
    agree = 0
    for _ in range(CASES_PER_KIND):
        planted, name = _planted(kind, pairs, rng, factor)
        failed = judge_blocks(planted)[name].verdict is Verdict.FAIL
        agree += failed is should_fail
    assert agree / CASES_PER_KIND >= 0.99, (kind, factor, agree)


def test_the_full_check_also_fails_planted_errors_of_three_times_the_certificate():
    # End to end: check_gradients widens its error bars before believing a FAIL (it
    # probes the cost's noise); on a deterministic cost that must not hide these errors.
    cost, gradients, parameters = POINTS["mlp relu 4-5-3-1"]()
    result = check_gradients(cost, gradients, parameters)
    rng = np.random.default_rng(5)
    for name in ("W1", "b2", "W3"):
        block = result.blocks[name]
        key = block.gradient_key
        g = gradients[key]
        direction = rng.normal(size=g.shape)
        size = 3 * block.sensitivity.relative_error * np.linalg.norm(g)
        planted = {**gradients, key: g + size * direction / np.linalg.norm(direction)}
        assert check_gradients(cost, planted, parameters).blocks[name].verdict is Verdict.FAIL


def test_a_sampled_block_certifies_scalings_only_and_its_coverage_is_unknown():
    # A single unsampled entry of dW1 off by half: the sample cannot see it, so the
    # certificate must not claim "any error": only scalings, which move the sample too.
    X, Y, parameters = nb.gradient_check_n_test_case()

    def one_entry_off(X, Y, cache):
        gradients = dict(nb.backward_propagation_n(X, Y, cache))
        gradients["dW1"] = gradients["dW1"].copy()
        gradients["dW1"][3, 2] *= 1.5
        return gradients

    result = check_backprop(nb.forward_propagation_n, one_entry_off, X, Y, parameters,
                            sample=2)
    block = result.blocks["W1"]
    assert block.sensitivity.confidence == 0 and block.sensitivity.relative_error == math.inf
    lo, hi = block.sensitivity.scaling
    assert lo < 1 < hi and hi - lo < 1e-5
    assert block.certificate_line() == (
        f"dW1: would catch a scaling outside [{lo:.8f}, {hi:.8f}]; other errors only on "
        "the sampled coordinates")
    assert math.isnan(block.coverage)
    assert result.sensitivity.relative_error == math.inf        # the weakest block
    full = check_backprop(nb.forward_propagation_n, one_entry_off, X, Y, parameters)
    assert full.verdict is Verdict.FAIL and full.blocks["W1"].sensitivity.confidence == 1
