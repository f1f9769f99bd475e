"""The evaluators' contract, pinned: what they return, and whom their messages name.

These tests were written to kill mutmut's survivors in ``gcverify/evaluate.py``
(``.ci/mutmut``); each states a rule of the module's docstrings: a user's batched cost
may return costs and kink flags in any numeric form and the checker still gets float64
costs and boolean flags (or None: "cannot tell"); every returned cost that is not a
number is an error naming the function that returned it; the complex step silences
only numpy's ComplexWarning, and takes a cost in any one-element wrapping.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest

from gcverify import MLP, InvalidArgument, check_backprop
from gcverify.evaluate import (
    BatchedEvaluator,
    ForwardEvaluator,
    LoopEvaluator,
    cache_moves_non_smoothly,
    cache_scale,
    cache_term_scale,
    cache_vector,
)
from gcverify.numdiff import STENCIL
from gcverify.params import ParamLayout

LAYOUT = ParamLayout(("w",), ((1, 2),))
THETA = np.array([0.5, -1.0])
INDEX = np.array([0, 1])
H = np.array([2.0**-10, 2.0**-10])


def quadratic(theta):
    """J = (w0^2 + 3 w1^2) / 2: dyadic values on dyadic points."""
    return (theta[0] ** 2 + 3 * theta[1] ** 2) / 2


class ScriptedBatchedCost:
    """A user's BatchedCost whose batched answers come in a chosen form."""

    layout = LAYOUT

    def __init__(self, costs_as=np.asarray, kinks=None, at_vector_as=float):
        self.costs_as, self.kinks, self.at_vector_as = costs_as, kinks, at_vector_as

    def __call__(self, parameters):
        return quadratic(LAYOUT.flatten(parameters))

    def at_vector(self, theta):
        return self.at_vector_as(quadratic(theta))

    def coordinate_costs(self, theta, index, offsets):
        costs = [[quadratic(np.where(np.arange(theta.size) == i, theta[i] + o, theta))
                  for o in row] for i, row in zip(index, offsets)]
        return self.costs_as(costs), self.kinks


EXACT = [[quadratic(np.where(np.arange(2) == i, THETA[i] + t * H[i], THETA)) for t in STENCIL]
         for i in INDEX]


# --- what a batched cost may return ------------------------------------------------------------

@pytest.mark.parametrize("costs_as", [
    pytest.param(lambda c: c, id="nested lists"),
    pytest.param(lambda c: np.asarray(c, dtype=np.float32), id="float32"),
    pytest.param(lambda c: np.rint(np.asarray(c) * 2**22).astype(np.int64), id="int64"),
])
def test_a_batched_cost_s_costs_come_back_as_float64_in_the_stencil_and_the_probes(costs_as):
    evaluator = BatchedEvaluator(ScriptedBatchedCost(costs_as), LAYOUT)
    costs, kinks = evaluator.stencil(THETA, INDEX, H)
    assert costs.dtype == np.float64 and costs.shape == (2, 4)
    assert costs.tolist() == np.asarray(costs_as(EXACT)).astype(np.float64).tolist()
    assert kinks is None
    probed = evaluator.costs_at(THETA, INDEX, H[:, None] * STENCIL)
    assert probed.dtype == np.float64 and probed.tolist() == costs.tolist()


@pytest.mark.parametrize("kinks", [[0, 1], np.array([0.0, 2.0]), (False, True)],
                         ids=["ints", "floats", "a tuple of bools"])
def test_a_batched_cost_s_kink_flags_come_back_as_booleans(kinks):
    costs, flags = BatchedEvaluator(ScriptedBatchedCost(kinks=kinks), LAYOUT).stencil(
        THETA, INDEX, H)
    assert flags.dtype == np.bool_ and flags.tolist() == [False, True]
    assert (~flags).tolist() == [True, False]


def test_a_batched_cost_that_cannot_tell_its_kinks_says_none():
    assert BatchedEvaluator(ScriptedBatchedCost(), LAYOUT).stencil(THETA, INDEX, H)[1] is None


# --- whom a message names ----------------------------------------------------------------------

def test_an_evaluator_names_the_users_function_and_its_role():
    cost = ScriptedBatchedCost()

    def forward(X, Y, p):
        return quadratic(LAYOUT.flatten(p)), {}

    loop = LoopEvaluator(quadratic, LAYOUT)
    assert (loop.function, loop.role, loop.name) == (quadratic, "cost", "loop")
    batched = BatchedEvaluator(cost, LAYOUT)
    assert (batched.function, batched.role, batched.name) == (cost, "cost", "batched")
    standing_in = BatchedEvaluator(cost, LAYOUT, function=forward, role="forward")
    assert (standing_in.function, standing_in.role) == (forward, "forward")


NOT_A_NUMBER = ("'a' is not one real number; return the cost as a float, "
                "e.g. float(np.sum(losses)) / m")


def test_a_batched_cost_whose_value_at_theta_is_not_a_number_is_named():
    evaluator = BatchedEvaluator(ScriptedBatchedCost(at_vector_as=lambda v: "a"), LAYOUT)
    with pytest.raises(InvalidArgument) as info:
        evaluator.base(THETA)
    assert str(info.value) == "cost(parameters)=" + NOT_A_NUMBER


class Forward:
    """forward(X, Y, parameters) whose n-th call (from 1) returns ``'a'`` as the cost."""

    def __init__(self, bad_call):
        self.calls, self.bad_call = 0, bad_call

    def __call__(self, X, Y, parameters):
        self.calls += 1
        theta = LAYOUT.flatten(parameters)
        cost = "a" if self.calls == self.bad_call else quadratic(theta)
        return cost, {"Z": theta.copy()}


@pytest.mark.parametrize("method", ["cost_again", "stencil"])
def test_a_forward_whose_cost_is_not_a_number_is_named_at_every_point(method):
    evaluator = ForwardEvaluator(Forward(bad_call=0), np.ones((1, 1)), np.ones(1), LAYOUT)
    evaluator.base_with_cache(THETA)
    evaluator.forward.bad_call = evaluator.forward.calls + 1        # the next call
    with pytest.raises(InvalidArgument) as info:
        if method == "cost_again":
            evaluator.cost_again(THETA)
        else:
            evaluator.stencil(THETA, INDEX, H)
    assert str(info.value) == "forward(X, Y, parameters)[0]=" + NOT_A_NUMBER


# --- the complex step --------------------------------------------------------------------------

@pytest.mark.parametrize("wrap", [
    pytest.param(lambda v: v, id="a number"),
    pytest.param(lambda v: np.array([[v]]), id="a 1x1 array"),
    pytest.param(lambda v: [v], id="a list"),
])
def test_the_complex_step_takes_a_cost_in_any_one_element_wrapping(wrap):
    evaluator = LoopEvaluator(lambda p: wrap(quadratic(p["w"].reshape(-1))), LAYOUT)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert evaluator.complex_step(THETA, INDEX, 1e-20).tolist() == [0.5, -3.0]


@pytest.mark.parametrize(("who", "make"), [
    ("cost(parameters)", lambda cost: LoopEvaluator(cost, LAYOUT)),
    ("forward(X, Y, parameters)[0]",
     lambda cost: ForwardEvaluator(lambda X, Y, p: (cost(p), {}), np.ones((1, 1)), np.ones(1),
                                   LAYOUT)),
])
@pytest.mark.parametrize(("value", "shown"), [
    ("a", "'a'"),
    (np.array([1.0 + 0j, 2.0 + 0j]), "array(shape=(2,), dtype=complex128)"),
])
def test_a_complex_step_cost_that_is_not_one_number_is_named(who, make, value, shown):
    with pytest.raises(InvalidArgument) as info:
        make(lambda p: value).complex_step(THETA, INDEX, 1e-20)
    assert str(info.value) == (f"{who}={shown} is not one number; return the cost as a "
                               "number, e.g. np.sum(losses) / m")


def test_the_complex_step_silences_only_numpys_complex_warning():
    def drops_the_imaginary_part(p):       # casts to float: numpy's ComplexWarning
        return quadratic(p["w"].reshape(-1).astype(np.float64))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        derivative = LoopEvaluator(drops_the_imaginary_part, LAYOUT).complex_step(
            THETA, INDEX, 1e-20)
    assert derivative.tolist() == [0.0, 0.0]        # the imaginary part is gone

    def warns(p):
        warnings.warn("the user's own warning", UserWarning, stacklevel=1)
        return quadratic(p["w"].reshape(-1))
    with pytest.warns(UserWarning, match="the user's own warning"):
        LoopEvaluator(warns, LAYOUT).complex_step(THETA, INDEX, 1e-20)


# --- the cache watch: flattening, scales, term scales --------------------------------------------

def test_a_cache_is_flattened_to_float64_and_each_value_scaled_by_its_arrays_largest():
    cache = ({"mask": np.array([True, False])}, [np.zeros((0, 3)), np.array([[-2.0], [1.0]])],
             3, np.float32(0.5), "not numeric", None)
    vector, scale = cache_vector(cache), cache_scale(cache)
    assert vector.dtype == np.float64 and scale.dtype == np.float64
    assert vector.tolist() == [1.0, 0.0, -2.0, 1.0, 3.0, 0.5]
    assert scale.tolist() == [1.0, 1.0, 2.0, 2.0, 3.0, 0.5]
    assert cache_vector({"mask": np.array([True, False])}).dtype == np.float64


def test_without_a_scale_each_value_is_judged_against_its_own_magnitude():
    # Value 0 is large and constant; value 1, near 1e-3, has a fourth difference of 6e-15:
    # far above its own rounding (4096 eps * 1e-3 = 9e-16), not above value 0's.
    small = 1e-3 + np.array([0.0, 0.0, 0.0, 0.0, 6e-15])
    points = [np.array([1.0, v]) for v in small]
    assert cache_moves_non_smoothly(points)
    assert not cache_moves_non_smoothly(points, np.array([1.0, 1.0]))


def bilinear(theta, X):
    """Two cached values: theta_0 X_0 + theta_1 X_1 (two terms) and 3 theta_0 (one)."""
    return np.array([theta[0] * X[0] + theta[1] * X[1], 3 * theta[0]])


def projected_terms(theta, X, seed=0):
    """The term scale by its definition: moving theta by ``eps r`` and X by ``eps r_x``
    moves theta_i X_i by ``eps theta_i X_i (r_i + r_x,i)`` (X only when floating point);
    the root mean square over the 3 directions drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    squares = np.zeros(2)
    for _ in range(3):
        r, rx = rng.standard_normal(theta.shape), rng.standard_normal(X.shape)
        rx = rx if X.dtype.kind == "f" else np.zeros(X.shape)
        terms = theta * X * (r + rx)
        squares += np.array([terms.sum(), 3 * theta[0] * r[0]]) ** 2
    return np.sqrt(squares / 3)


@pytest.mark.parametrize("X", [np.array([1.5, -2.0]), np.array([3, -1])],
                         ids=["float X moves", "integer X stays"])
def test_the_term_scale_is_the_rms_projection_of_the_terms_on_three_seeded_directions(X):
    theta = np.array([0.5, 2.0])
    scale = cache_term_scale(bilinear, theta, X, 2)
    np.testing.assert_allclose(scale, projected_terms(theta, X), rtol=1e-6)
    np.testing.assert_allclose(cache_term_scale(bilinear, theta, X, 2, seed=4),
                               projected_terms(theta, X, seed=4), rtol=1e-6)


def test_a_term_scale_that_is_not_finite_is_zero_and_raises_no_warning():
    def cache_at(theta, X):
        return np.array([np.inf, 1e300 * theta[0], theta[1]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scale = cache_term_scale(cache_at, np.array([1.0, 1.0]), np.zeros(0), 3)
    assert scale.dtype == np.float64
    assert scale[:2].tolist() == [0.0, 0.0] and scale[2] > 0


def test_the_forward_evaluator_judges_rounding_against_the_larger_of_array_and_terms():
    # The case: Z3 = -1.7e-3 is the difference of terms near 1.5.
    net = MLP((2, 1, 2, 1), "tanh", "naive")
    X, Y = np.array([[0.0], [1.5]]), np.array([[0.0]])
    parameters = {"W1": np.array([[1.0, 1.0]]), "b1": np.array([[0.0]]),
                  "W2": np.array([[1.0], [1.0]]), "b2": np.array([[-0.75], [0.0]]),
                  "W3": np.array([[-1.0, -1.875]]), "b3": np.array([[1.5]])}
    theta = net.layout.flatten(parameters)

    def forward(X, Y, p):
        return net.forward(X, Y, p)
    watcher = ForwardEvaluator(forward, X, Y, net.layout)
    cost, cache = watcher.base_with_cache(theta)
    terms = cache_term_scale(lambda t, x: cache_vector(forward(x, Y.copy(),
                                                               net.layout.unflatten(t))[1]),
                             theta, X, cache_vector(cache).size)
    assert watcher.rounding_scale.tolist() == np.maximum(cache_scale(cache), terms).tolist()
    assert (terms > cache_scale(cache)).any()


def test_a_forward_that_is_not_complex_safe_is_named_in_the_error():
    X, Y = np.ones((1, 1)), np.ones(1)

    def real_only(X, Y, p):
        theta = LAYOUT.flatten(p)                       # casts to float64
        return quadratic(theta), {"Z": theta}
    with pytest.raises(InvalidArgument) as info:
        check_backprop(real_only, lambda X, Y, cache: {"dw": np.array([[0.5, -3.0]])}, X, Y,
                       {"w": THETA.reshape(1, 2)}, method="complex")
    assert str(info.value) == (
        "forward=test_a_forward_that_is_not_complex_safe_is_named_in_the_error.<locals>."
        "real_only is not complex-safe (its imaginary part does not follow the derivative "
        "(it drops it, or uses abs, comparisons or real-only functions)); use "
        "method='central', or method='auto' to fall back")


# --- the stencil's contract: settled flags, processes, timing ------------------------------------

@pytest.mark.parametrize("make", [
    pytest.param(lambda: BatchedEvaluator(ScriptedBatchedCost(kinks=[0, 1]), LAYOUT), id="batched"),
    pytest.param(lambda: LoopEvaluator(lambda p: quadratic(p["w"].reshape(-1)), LAYOUT),
                 id="loop"),
])
def test_an_evaluator_that_cannot_settle_returns_every_row_unsettled_as_booleans(make):
    costs, _, settled = make().adaptive_stencil(THETA, INDEX, H, np.ones(2), np.zeros(2), 1)
    assert costs.tolist() == EXACT
    assert settled.dtype == np.bool_ and settled.tolist() == [False, False]


def test_a_timed_call_measures_its_own_duration():
    evaluator = LoopEvaluator(lambda p: quadratic(p["w"].reshape(-1)), LAYOUT)
    start = time.perf_counter()
    evaluator.cost_again(THETA)
    assert 0 <= evaluator.seconds_per_call <= time.perf_counter() - start


def test_a_forward_evaluator_settles_the_rows_its_tolerance_lets_settle():
    evaluator = ForwardEvaluator(Forward(bad_call=0), np.ones((1, 1)), np.ones(1), LAYOUT)
    costs, kinks, settled = evaluator.adaptive_stencil(
        THETA, INDEX, H, np.array([0.0, -1.0]), np.array([0.5, -3.0]), 1)
    assert settled.tolist() == [True, False] and kinks.tolist() == [False, False]
    assert np.isnan(costs[0, [0, 3]]).all() and costs[1].tolist() == EXACT[1]


def test_a_forward_evaluator_s_own_stencil_runs_in_this_process_however_slow_the_forward():
    forward = Forward(bad_call=0)
    evaluator = ForwardEvaluator(forward, np.ones((1, 1)), np.ones(1), LAYOUT)
    evaluator.base_with_cache(THETA)
    evaluator.seconds_per_call, calls = 1e3, forward.calls
    costs, _ = evaluator.stencil(THETA, INDEX, H)
    assert costs.tolist() == EXACT and forward.calls == calls + 8


def test_a_forward_that_writes_into_its_parameters_is_found_out():
    def writes(X, Y, p):
        cost = quadratic(LAYOUT.flatten(p))
        p["w"] *= 2
        return cost, {}
    fresh = ForwardEvaluator(writes, np.ones((1, 1)), np.ones(1), LAYOUT)
    assert (fresh.rounding_scale, fresh.mutates_inputs, fresh.mutates_parameters) == (
        None, False, False) and fresh.mutates_parameters is False
    fresh.base_with_cache(THETA)
    assert fresh.mutates_parameters is True
    polite = ForwardEvaluator(Forward(bad_call=0), np.ones((1, 1)), np.ones(1), LAYOUT)
    polite.base_with_cache(THETA)
    assert polite.mutates_parameters is False


@pytest.mark.parametrize("held", ["X", "Y"])
def test_a_kink_is_seen_in_a_cache_that_also_holds_the_inputs(held):
    def forward(X, Y, p):
        theta = LAYOUT.flatten(p)
        return quadratic(theta), {"A": np.maximum(theta, 0.0), held: X if held == "X" else Y}
    evaluator = ForwardEvaluator(forward, np.ones((1, 1)), np.ones(1), LAYOUT)
    evaluator.base_with_cache(np.array([0.0, -1.0]))
    _, kinks = evaluator.stencil(np.array([0.0, -1.0]), INDEX, H)
    assert kinks.tolist() == [True, False]


def test_a_constant_or_non_finite_cache_has_no_kink_and_raises_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not cache_moves_non_smoothly([np.zeros(2)] * 5)
        assert not cache_moves_non_smoothly([np.array([np.inf, np.nan, 1.0])] * 5)
        assert not cache_moves_non_smoothly([np.array([-np.inf, np.nan])] * 5, np.ones(2))
