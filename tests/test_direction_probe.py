"""The backward pass probed along directions: its rounding, its gradient read again at
the centre, and what the check does when that gradient is not the first one."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from gcverify import check_backprop
from gcverify.direction_probe import ProbedBackward, backward_changed, probe_backward
from gcverify.directions import Direction, block_directions
from gcverify.options import CheckOptions
from gcverify.params import ParamLayout
from gcverify.result import Verdict
from gcverify.validate import AnalyticGradient
from tests.test_directional import CASE, backward, forward, make_case, with_bug


def probe(forward_pass, backward_pass, X, Y, parameters):
    layout = ParamLayout.from_parameters(parameters)
    theta = layout.flatten(parameters)
    directions = [d for block in block_directions(layout, CheckOptions()) for d in block]
    probed = probe_backward(forward_pass, backward_pass, X, Y, layout, theta, 0,
                            ["d" + name for name in layout.names], directions,
                            lambda vector: layout.flatten(parameters, out=vector))
    return probed, theta, layout


@pytest.mark.parametrize("fails", [False, True])
def test_the_probe_leaves_the_parameter_vector_exactly_as_it_found_it(fails):
    # The probe points are made in the checker's own parameter vector and written back
    # from the caller's arrays after each point, also when the user's code raises there.
    X, Y, parameters = CASE
    layout = ParamLayout.from_parameters(parameters)
    original = layout.flatten(parameters)
    seen = []

    def recording_forward(X, Y, parameters):
        seen.append(layout.flatten(parameters))
        return forward(X, Y, parameters)

    def breaking_backward(X, Y, cache):
        if fails and len(seen) == 2:              # at theta - h r: theta is moved
            raise ValueError("the user's backward broke")
        return backward(X, Y, cache)

    probed, theta, _ = probe(recording_forward, breaking_backward, X, Y, parameters)
    assert np.array_equal(theta, original)
    # Per probe length: t = -2, -1, 1, 2 around the parameters themselves (restored
    # after every point); a failure stops the lengths. The centre, theta exactly, runs
    # once, last, for every length.
    assert (probed.sigma is None) == fails and len(seen) == (3 if fails else 13)
    assert np.array_equal(seen[-1], original)
    assert not any(np.array_equal(point, original) for point in seen[:-1])
    if not fails:
        assert np.allclose(seen[2] - original, original - seen[1], rtol=1e-6, atol=1e-12)


def test_the_centre_gradient_is_the_first_one_validated_again():
    X, Y, parameters = CASE
    probed, _, layout = probe(forward, backward, X, Y, parameters)
    first = layout.flatten_gradients(backward(X, Y, forward(X, Y, parameters)[1]))
    assert np.array_equal(probed.centre.vector, first)
    assert probed.centre.keys == tuple("d" + name for name in layout.names)
    directions = [d for block in block_directions(layout, CheckOptions()) for d in block]
    projected = np.array([d.project(first) for d in directions])
    assert backward_changed(probed, directions, projected) is None


def test_a_user_error_at_the_centre_leaves_no_gradient():
    X, Y, parameters = CASE
    calls = []

    def fails_last(X, Y, cache):
        calls.append(1)
        if len(calls) == 13:
            raise KeyError("dW1")
        return backward(X, Y, cache)

    probed, _, _ = probe(forward, fails_last, X, Y, parameters)
    assert probed == ProbedBackward(None, None)
    assert backward_changed(probed, [], np.zeros(0)).startswith(
        "the backward pass is not deterministic: it failed at the parameters")


def test_projections_that_agree_to_the_rounding_are_the_same_gradient():
    first = np.array([1.0, -2.0, np.nan, 0.0, np.inf])
    units = [Direction(i, i + 1, "unit") for i in range(first.size)]

    def changed(*again, sigma=None):
        centre = AnalyticGradient(np.array(again), ("dW",))
        return backward_changed(ProbedBackward(sigma, centre), units, first)

    rounding = np.full(5, 1e-9)
    assert changed(1 + 1e-9, -2, np.nan, 0, np.inf, sigma=rounding) is None
    assert changed(1 + 1e-15, -2, np.nan, 0, np.inf) is None    # a few units in the last place
    assert "were -2 and -1.999999" in changed(1, -1.999999, np.nan, 0, np.inf, sigma=rounding)
    assert changed(1, -2, np.nan, 1e-300, np.inf) is not None
    assert "were inf and -inf" in changed(1, -2, np.nan, 0, -np.inf)    # no tolerance at inf
    assert changed(1, -2, 0.0, 0, np.inf) is not None


def test_a_deterministic_backward_is_never_called_non_deterministic():
    # The first projections and the centre's are computed the same way (bit for bit),
    # also where the probe keeps its directions drawn (here: dW's 8 x 300 entries, under
    # a quarter of the parameters), and also when the backward pass rounds nothing.
    def forward_pass(X, Y, parameters):
        cost = float(np.sum(parameters["W"] * X[:, :1].T)) + 0.5 * float(
            np.sum(parameters["V"] ** 2))
        return cost, parameters

    def doubled_dw(X, Y, parameters):
        return {"dW": 2 * X[:, :1].T.copy(), "dV": parameters["V"].copy()}

    for seed in range(12):
        rng = np.random.default_rng(seed)
        X, Y = rng.standard_normal((300, 2)), np.zeros((1, 2))
        parameters = {"W": rng.standard_normal((1, 300)),
                      "V": rng.standard_normal((100, 100))}
        result = check_backprop(forward_pass, doubled_dw, X, Y, parameters,
                                mode="directional", seed=seed)
        assert result.verdict is Verdict.FAIL, (seed, str(result))
        assert result.blocks["dW"].verdict is Verdict.FAIL


def test_a_missing_block_and_a_wrong_one_both_fail_in_directional_mode():
    X, Y, parameters = CASE

    def backward_pass(X, Y, cache):
        gradients = backward(X, Y, cache)
        gradients.pop("db2")
        gradients["dW1"] = gradients["dW1"] * 2
        return gradients

    result = check_backprop(forward, backward_pass, X, Y, parameters, mode="directional")
    assert result.verdict is Verdict.FAIL, str(result)
    assert result.reasons[0].startswith("2 of "), str(result)
    assert {b.gradient_key for b in result.mismatched} == {"dW1", "db2"}


def test_a_forward_that_writes_into_the_callers_parameters_is_inconclusive():
    # Directional mode restores its points from the caller's arrays: code that writes
    # the parameters it gets into them (a model syncing its own arrays) moves the point
    # under the check, which says so instead of judging anything.
    X, Y, parameters = CASE
    model = {name: array.copy() for name, array in parameters.items()}

    def syncing_forward(X, Y, p):
        for name in p:
            model[name][...] = p[name]
        return forward(X, Y, p)

    result = check_backprop(syncing_forward, backward, X, Y, model, mode="directional")
    assert result.verdict is Verdict.INCONCLUSIVE, str(result)
    assert result.reasons[0].startswith("the parameters changed under the check: the code "
                                        "under test wrote into the parameter arrays")
    assert check_backprop(syncing_forward, backward, X, Y,
                          {name: array.copy() for name, array in parameters.items()},
                          mode="coordinates").verdict is Verdict.PASS


def first_call_then(change):
    """A backward whose first call has a bug and whose later calls do not, or fail."""
    calls = []

    def backward_pass(X, Y, cache):
        calls.append(1)
        gradients = backward(X, Y, cache)
        if len(calls) == 1:
            gradients["dW2"] = gradients["dW2"] * 2
        return change(len(calls), gradients)
    return backward_pass


@pytest.mark.parametrize(("change", "says"), [
    (lambda call, g: g, "at the same parameters it gave gradients whose projections"),
    (lambda call, g: g if call < 14 else None, "it failed at the parameters it had run"),
], ids=["changed", "failed"])
def test_a_backward_that_changes_at_the_same_parameters_is_inconclusive(change, says):
    # The first gradient FAILs; the probe reads another at the same parameters: the
    # check cannot tell which to believe, and says so instead of judging either.
    X, Y, parameters = CASE
    result = check_backprop(forward, first_call_then(change), X, Y, parameters,
                            mode="directional")
    assert result.verdict is Verdict.INCONCLUSIVE, str(result)
    assert result.reasons[0].startswith("the backward pass is not deterministic: " + says)
    assert result.mode == "directional"
    assert {b.diagnosis for b in result.blocks.values()} == {
        f"{b.gradient_key}: not judged (the backward pass is not deterministic)"
        for b in result.blocks.values()}


def test_a_failing_check_adds_about_one_vector_of_parameters_to_the_users_own_memory():
    # The check's own memory beside what the user's forward and backward need: its vector
    # of the parameters, one copy of X, small things (the gradient it let go of while the
    # backward pass is probed). 256-128-64-1, m = 64: X is 0.4x the parameters.
    X, Y, parameters = make_case((256, 128, 64, 1), 64)
    size = 8 * sum(array.size for array in parameters.values())

    def one_entry_off(gradients):
        gradients["dW1"][77, 33] += 1e-3 * np.linalg.norm(gradients["dW1"])

    def peak(run):
        run()                                            # (imports, caches)
        tracemalloc.start()
        try:
            result = run()
            return tracemalloc.get_traced_memory()[1] / size, result
        finally:
            tracemalloc.stop()

    own, _ = peak(lambda: backward(X, Y, forward(X, Y, parameters)[1]))
    for backward_pass, verdict in ((backward, Verdict.PASS),
                                   (with_bug(one_entry_off), Verdict.FAIL)):
        multiple, result = peak(lambda b=backward_pass: check_backprop(
            forward, b, X, Y, parameters, mode="directional"))
        assert result.verdict is verdict
        assert multiple - own < 1.6, (multiple, own)


def test_a_cost_that_writes_into_the_callers_parameters_is_inconclusive_and_missing_fails():
    from gcverify import check_gradients

    X, Y, parameters = CASE
    owned = {name: array.copy() for name, array in parameters.items()}
    gradients = backward(X, Y, forward(X, Y, parameters)[1])
    gradients.pop("db2")

    def syncing_cost(p):
        for name in p:
            owned[name][...] = p[name]
        return forward(X, Y, p)[0]

    result = check_gradients(syncing_cost, gradients, owned, mode="directional")
    assert result.verdict is Verdict.FAIL, str(result)           # db2 is missing: no numbers
    assert [b.gradient_key for b in result.mismatched] == ["db2"]
    assert any(reason.startswith("the parameters changed under the check") and
               "pass cost a copy of them" in reason for reason in result.reasons)
    assert result.blocks["W1"].verdict is Verdict.INCONCLUSIVE


def test_ctrl_c_in_the_users_code_is_never_turned_into_a_result():
    # An exception on its way out of the user's code goes on as it was, even when the
    # caller's arrays moved under the check meanwhile (checked only on the normal path).
    X, Y, parameters = CASE
    owned = {name: array.copy() for name, array in parameters.items()}

    def syncing_then_interrupted(X, Y, p):
        moved = any(not np.array_equal(p[name], parameters[name]) for name in p)
        for name in p:
            owned[name][...] = p[name]
        if moved:                            # at the first point off the parameters
            raise KeyboardInterrupt
        return forward(X, Y, p)

    with pytest.raises(KeyboardInterrupt):
        check_backprop(syncing_then_interrupted, backward, X, Y, owned, mode="directional")


def test_the_check_holds_no_gradient_of_its_own_while_it_probes_the_backward_pass(
        monkeypatch):
    # (Python 3.10 keeps a caller's arguments alive during a call: the check takes the
    # gradient out of the list it is handed, so it holds the only reference.)
    import weakref

    import gcverify.directional as directional

    X, Y, parameters = CASE
    first, alive = [], []
    original_first_call, original_probe = directional._first_call, directional.probe_backward

    def first_call(*args):
        J0, notes, held = original_first_call(*args)
        first.append(weakref.ref(held[0].vector))
        return J0, notes, held

    def probe(*args, **kwargs):
        alive.append(first[0]() is not None)
        return original_probe(*args, **kwargs)

    monkeypatch.setattr(directional, "_first_call", first_call)
    monkeypatch.setattr(directional, "probe_backward", probe)
    result = check_backprop(forward, with_bug(lambda g: g.__setitem__("dW2", 2 * g["dW2"])),
                            X, Y, parameters, mode="directional")
    assert result.verdict is Verdict.FAIL and alive == [False]


def test_the_centres_projections_are_the_first_ones_bit_for_bit_on_the_stored_path():
    # The probe keeps small directions drawn (here 8 x 300 entries, under a quarter of the
    # parameters) and projects with them; the comparison with the first gradient goes
    # through Direction.project, as the first projections did: identical bits.
    rng = np.random.default_rng(4)
    A = rng.standard_normal((1, 300))
    parameters = {"W": rng.standard_normal((1, 300)), "V": rng.standard_normal((100, 100))}

    def forward_pass(X, Y, p):
        return float(np.sum(p["W"] * A)) + 0.5 * float(np.sum(p["V"] ** 2)), p

    def backward_pass(X, Y, p):
        return {"dW": A.copy(), "dV": p["V"].copy()}

    X, Y = np.zeros((1, 1)), np.zeros((1, 1))
    layout = ParamLayout.from_parameters(parameters)
    theta = layout.flatten(parameters)
    along = block_directions(layout, CheckOptions())[0]
    probed = probe_backward(forward_pass, backward_pass, X, Y, layout, theta, 0,
                            ["dW", "dV"], along,
                            lambda vector: layout.flatten(parameters, out=vector))
    first = layout.flatten_gradients(backward_pass(X, Y, parameters))
    assert backward_changed(probed, along, np.array([d.project(first) for d in along])) is None
