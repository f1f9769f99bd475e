"""The checker under bad input and faulty user code: each case gets the outcome it must.

Every case runs user code written to a file of its own (as a user's would be), and checks
afterwards that the caller's arrays are bitwise unchanged and that the user's file and
folder are as they were. Outcomes: an :class:`InvalidArgument` whose message starts as
given (a usage error), a verdict whose first reason (or a block's diagnosis) says why,
or the user's own exception, unchanged.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gcverify import InvalidArgument, Verdict, check_backprop
from gcverify.loading import load_module
from gcverify.models import notebook as nb

USER_CODE = textwrap.dedent('''
    import numpy as np
    from gcverify.models import notebook as nb

    def forward(X, Y, parameters):
        return nb.forward_propagation_n(X, Y, parameters)

    def backward(X, Y, cache):
        return nb.backward_propagation_n(X, Y, cache)

    def changed(change):
        def changed_backward(X, Y, cache):
            gradients = backward(X, Y, cache)
            change(gradients)
            return gradients
        return changed_backward

    forgets_db3 = changed(lambda g: g.pop("db3"))
    misspells_db3 = changed(lambda g: g.update(db_3=g.pop("db3")))
    keys_db3_by_a_tuple = changed(lambda g: g.update({("db", 3): g.pop("db3")}))
    gives_w1_twice = changed(lambda g: g.update(W1=g["dW1"]))
    drops_keepdims = changed(lambda g: g.update(db1=g["db1"].ravel()))
    returns_float32 = changed(lambda g: g.update(dW2=g["dW2"].astype(np.float32)))
    overflows = changed(lambda g: g["dW2"].__setitem__((0, 0), np.inf))
    divides_by_zero = changed(lambda g: g["db1"].__setitem__((1, 0), np.nan))
    doubles_dw2 = changed(lambda g: g.update(dW2=2 * g["dW2"]))

    def returns_none(X, Y, cache):
        backward(X, Y, cache)

    def raises(X, Y, parameters):
        raise ValueError("boom in forward")

    def writes_into_its_inputs(X, Y, parameters):
        cost, cache = forward(X, Y, parameters)
        X *= 2.0
        Y[...] = 1 - Y
        parameters["W1"][...] = 0.0
        return cost, cache

    def cost_per_example(X, Y, parameters):
        cost, cache = forward(X, Y, parameters)
        return np.full(X.shape[1], cost), cache

    def nan_cost(X, Y, parameters):
        return float("nan"), forward(X, Y, parameters)[1]

    def infinite_cost(X, Y, parameters):
        return float("inf"), forward(X, Y, parameters)[1]

    def cost_only(X, Y, parameters):
        return forward(X, Y, parameters)[0]

    _unseeded = np.random.default_rng()

    def dropout_without_a_seed(X, Y, parameters):
        cost, cache = forward(X, Y, parameters)
        return cost * (1 + 1e-10 * _unseeded.standard_normal()), cache

    def prints_without_end(X, Y, parameters):
        print("cost so far", end="")
        return forward(X, Y, parameters)
''')


@dataclass(frozen=True)
class Case:
    """A call of check_backprop on the notebook's case, and what it must give.

    ``forward``/``backward`` name functions of the user file; ``data`` changes the
    caller's ``(X, Y, parameters)``; ``raises``: the exception type and the start of its
    message; else ``verdict`` and the start of the first reason (``says``) or of a
    mismatched block's diagnosis (``block_says``).
    """

    forward: str = "forward"
    backward: str = "backward"
    data: Callable[[np.ndarray, np.ndarray, dict], tuple] = lambda X, Y, p: (X, Y, p)
    options: dict[str, Any] = field(default_factory=dict)
    raises: tuple[type[BaseException], str] | None = None
    verdict: Verdict | None = None
    says: str = ""
    block_says: str = ""


def with_parameter(name, value):
    return lambda X, Y, p: (X, Y, {**p, name: value(p[name])})


CASES = {
    # --- the gradients -------------------------------------------------------------------
    "gradient missing": Case(backward="forgets_db3", verdict=Verdict.FAIL,
                             block_says="db3: missing from the gradients"),
    "gradient under a misspelt key": Case(
        backward="misspells_db3", verdict=Verdict.FAIL,
        block_says="db3: missing from the gradients"),
    "gradient under a tuple key": Case(backward="keys_db3_by_a_tuple", verdict=Verdict.FAIL,
                                       block_says="db3: missing from the gradients"),
    "gradient under both W1 and dW1": Case(
        backward="gives_w1_twice",
        raises=(InvalidArgument, "backward(X, Y, cache).keys()=['W1', 'dA1', 'dA2', 'dW1', "
                                 "'dW2', 'dW3', 'dZ1', 'dZ2', '... has both 'W1' and 'dW1'")),
    "gradient of the wrong shape": Case(
        backward="drops_keepdims",
        raises=(InvalidArgument, "backward(X, Y, cache)['db1'].shape=(5,) does not match "
                                 "parameters['b1'].shape=(5, 1)")),
    "gradient in float32": Case(
        backward="returns_float32",
        raises=(InvalidArgument, "backward(X, Y, cache)['dW2'].dtype=float32 is too coarse")),
    "backward returns None": Case(
        backward="returns_none",
        raises=(InvalidArgument, "backward(X, Y, cache)=None is not a dict of arrays")),
    "infinite gradient": Case(backward="overflows", verdict=Verdict.FAIL,
                              block_says="dW2 has inf at (0, 0)"),
    "NaN gradient": Case(backward="divides_by_zero", verdict=Verdict.FAIL,
                         block_says="db1 has nan at (1, 0)"),
    "a scaling bug": Case(backward="doubles_dw2", verdict=Verdict.FAIL,
                          block_says="dW2 ≈ 2.000 × numerical (scaling bug)"),
    # --- the parameters and the data ---------------------------------------------------
    "integer parameters": Case(
        data=with_parameter("W1", lambda a: a.astype(np.int64)),
        raises=(InvalidArgument, "parameters['W1'].dtype=int64 is not floating point")),
    "float32 parameters": Case(
        data=with_parameter("W1", lambda a: a.astype(np.float32)),
        raises=(InvalidArgument, "parameters['W1'].dtype=float32 is too coarse")),
    "an empty parameter": Case(
        data=with_parameter("b1", lambda a: np.zeros((0, 1))),
        raises=(InvalidArgument, "parameters['b1'].shape=(0, 1) is empty")),
    "NaN in the parameters": Case(
        data=with_parameter("W2", lambda a: np.where(np.eye(*a.shape) > 0, np.nan, a)),
        raises=(InvalidArgument, "parameters['W2'][0, 0]=nan is not finite")),
    "infinity in the parameters": Case(
        data=with_parameter("b3", lambda a: np.full_like(a, np.inf)),
        raises=(InvalidArgument, "parameters['b3'][0, 0]=inf is not finite")),
    "NaN in X": Case(
        data=lambda X, Y, p: (np.where(np.eye(*X.shape) > 0, np.nan, X), Y, p),
        raises=(InvalidArgument, "X[0, 0]=nan is not finite")),
    "an empty batch": Case(
        data=lambda X, Y, p: (X[:, :0], Y[..., :0], p),
        raises=(InvalidArgument, "X.shape=(4, 0) is empty")),
    # --- the forward pass ------------------------------------------------------------------
    "forward raises": Case(forward="raises", raises=(ValueError, "boom in forward")),
    "forward writes into its inputs": Case(
        forward="writes_into_its_inputs", verdict=Verdict.PASS, says=""),
    # (directional mode hands the user's code views of its own vector and restores it)
    "forward writes into its inputs, directional": Case(
        forward="writes_into_its_inputs", options={"mode": "directional"},
        verdict=Verdict.PASS, says=""),
    "forward writes into its inputs, directional, dW2 x 2": Case(
        forward="writes_into_its_inputs", backward="doubles_dw2",
        options={"mode": "directional"}, verdict=Verdict.FAIL, says="1 of 6 blocks mismatch",
        block_says="dW2 ≈ 2"),
    "a cost per example": Case(
        forward="cost_per_example",
        raises=(InvalidArgument, "forward(X, Y, parameters)[0]=array(shape=(3,), "
                                 "dtype=float64) is not one real number")),
    "a NaN cost": Case(forward="nan_cost", verdict=Verdict.INCONCLUSIVE,
                       says="the cost is not finite at the perturbed points of 47"),
    "an infinite cost": Case(forward="infinite_cost", verdict=Verdict.INCONCLUSIVE,
                             says="the cost is not finite at the perturbed points of 47"),
    "forward returns only the cost": Case(
        forward="cost_only",
        raises=(InvalidArgument, "forward(X, Y, parameters)=")),
    "a non-deterministic cost": Case(forward="dropout_without_a_seed",
                                     verdict=Verdict.INCONCLUSIVE,
                                     says="the cost is not deterministic"),
    "forward prints without an end": Case(forward="prints_without_end",
                                          verdict=Verdict.PASS),
    # --- the options ----------------------------------------------------------------------
    "a step theta rounds away": Case(options={"epsilon": 1e-20}, verdict=Verdict.INCONCLUSIVE,
                                     says="the step is too small"),
    "a negative step": Case(options={"epsilon": -1e-7},
                            raises=(InvalidArgument, "epsilon=-1e-07 is not a positive")),
    "a threshold of 0.7": Case(options={"threshold": 0.7},
                               raises=(InvalidArgument, "threshold=0.7 is not below 0.5")),
    "an unknown method": Case(options={"method": "forward"},
                              raises=(InvalidArgument, "method='forward' is not a known")),
    "sampling no coordinate": Case(options={"sample": 0},
                                   raises=(InvalidArgument, "sample=0 is not a positive")),
    "a misspelt option": Case(options={"thresold": 1e-7},
                              raises=(TypeError, "check_backprop() got an unexpected")),
}


@pytest.fixture
def user_module(tmp_path: Path):
    folder = tmp_path / "project"
    folder.mkdir()
    path = folder / "mynet.py"
    path.write_text(USER_CODE)
    module = load_module(path)
    before = (path.read_bytes(), sorted(p.name for p in folder.iterdir()))
    yield module
    assert (path.read_bytes(), sorted(p.name for p in folder.iterdir())) == before


def snapshot(*arrays_or_dicts) -> list[bytes]:
    flat = []
    for item in arrays_or_dicts:
        values = item.values() if isinstance(item, dict) else [item]
        flat += [(np.asarray(v).dtype.str, np.asarray(v).shape, np.asarray(v).tobytes())
                 for v in values]
    return flat


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_each_fault_gets_its_outcome_and_loses_nothing(user_module, case, capsys):
    X, Y, parameters = case.data(*nb.gradient_check_n_test_case())
    before = snapshot(X, Y, parameters)
    forward, backward = getattr(user_module, case.forward), getattr(user_module, case.backward)
    if case.raises is not None:
        kind, start = case.raises
        with pytest.raises(kind) as info:
            check_backprop(forward, backward, X, Y, parameters, **case.options)
        assert str(info.value).startswith(start), str(info.value)
    else:
        result = check_backprop(forward, backward, X, Y, parameters, **case.options)
        assert result.verdict is case.verdict, str(result)
        assert result.reasons[0].startswith(case.says) if case.says else True, str(result)
        if case.block_says:
            assert any(b.diagnosis.startswith(case.block_says) for b in result.mismatched), \
                str(result)
    assert snapshot(X, Y, parameters) == before            # the caller's arrays, bitwise
    capsys.readouterr()


def test_the_table_covers_the_issues_faults():
    assert len(CASES) >= 30
