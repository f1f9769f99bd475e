"""Mutation of code written the way students write it, and what the check makes of it.

The examples in ``examples/`` are row-major layer functions composed in a ``loss``
(row_major.py), a class's ``loss`` method (class_based.py), the course's L-layer helpers
(l_layer.py), a loss-and-grads closure (loss_and_grads.py) and the notebook's style
(notebook_style.py). The engine finds mutants in each; here, at the library level and
without the campaign, every mutant is compiled, checked on the example's case, and
counted: killed (the check FAILs), killed by an error (it raises: a shape error...),
equivalent (its gradients equal the original's within 1e-12 relative) or survived.

A layer function is checked through its caller: the mutant goes into a copy of the
module's namespace in which every function of the module is rebuilt, so that ``loss``
calls the mutated ``affine_backward`` (:func:`with_mutant`).
"""

from __future__ import annotations

import collections
import types
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gcverify import Verdict, adapters, check_backprop, check_loss_and_grads
from gcverify.loading import load_module
from gcverify.mutation import Mutant, mutate_function

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def modules() -> dict[str, types.ModuleType]:
    return {name: load_module(EXAMPLES / f"{name}.py")
            for name in ("row_major", "class_based", "l_layer", "loss_and_grads",
                         "notebook_style")}


def function_named(module: types.ModuleType, name: str) -> Callable[..., Any]:
    function: Any = module
    for part in name.split("."):
        function = getattr(function, part)
    return function


def with_mutant(module: types.ModuleType, mutant: Mutant) -> dict[str, Any]:
    """A copy of ``module``'s namespace where ``mutant`` replaces its function and every
    other function of the module is rebuilt on the copy (``types.FunctionType(code,
    namespace)``), so that its callers call the mutant. The module is untouched."""
    namespace = dict(vars(module))
    for name, value in vars(module).items():
        if isinstance(value, types.FunctionType) and value.__globals__ is vars(module):
            namespace[name] = types.FunctionType(value.__code__, namespace, name,
                                                 value.__defaults__, value.__closure__)
    namespace[mutant.original.name] = mutant.compile(vars(module))
    return namespace


def copied(parameters: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {name: value.copy() for name, value in parameters.items()}


def same_gradients(mutated: Mapping[str, Any], original: Mapping[str, Any]) -> bool:
    keys = sorted(original)
    a = np.concatenate([np.ravel(np.asarray(mutated[k], dtype=float)) for k in keys])
    b = np.concatenate([np.ravel(np.asarray(original[k], dtype=float)) for k in keys])
    return a.shape == b.shape and bool(np.linalg.norm(a - b) <= 1e-12 * np.linalg.norm(b))


def outcome(check: Callable[[], Any], gradients: Callable[[], Mapping[str, Any]],
            original: Mapping[str, Any]) -> str:
    """killed, killed by error, equivalent or survived: what the check makes of a mutant."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            result = check()
        except Exception:
            return "killed by error"
        if result.verdict is Verdict.FAIL:
            return "killed"
        try:
            return "equivalent" if same_gradients(gradients(), original) else "survived"
        except Exception:
            return "survived"


# --- how each example is checked with a mutant in it ---------------------------------------

def row_major_case(module: types.ModuleType, mutant: Mutant):
    """examples/row_major.py: ``loss(X, y, params)`` with the mutant (``loss`` itself or a
    layer function it calls), checked with check_loss_and_grads."""
    X, y, params = module.make_case()
    loss = with_mutant(module, mutant)["loss"]
    return (lambda: check_loss_and_grads(lambda p: loss(X, y, p), params),
            lambda: loss(X, y, copied(params))[1], module.loss(X, y, copied(params))[1])


def class_based_case(module: types.ModuleType, mutant: Mutant, hidden: int = 5):
    """examples/class_based.py: the mutated ``TwoLayerNet.loss`` compiled and bound to an
    instance, checked through gcverify.adapters.model."""
    X, y = module.make_data()
    net, reference = module.TwoLayerNet(4, hidden, 3), module.TwoLayerNet(4, hidden, 3)
    net.loss = types.MethodType(mutant.compile(vars(module)), net)
    return (lambda: check_backprop(*adapters.model(net, X, y)),
            lambda: net.loss(X, y)[1], reference.loss(X, y)[1])


def l_layer_case(module: types.ModuleType, mutant: Mutant, *, cost: str = "compute_cost",
                 backward: str = "L_model_backward", **options: Any):
    """examples/l_layer.py through gcverify.adapters.l_layer (``lambd=``, ``keep_prob=``)."""
    X, Y, parameters = module.make_case()

    def run(namespace: Mapping[str, Any]):
        forward, back = adapters.l_layer(namespace["L_model_forward"], namespace[cost],
                                         namespace[backward], **options)
        return forward, back

    def gradients(namespace: Mapping[str, Any]) -> dict[str, Any]:
        forward, back = run(namespace)
        _, cache = forward(X, Y, copied(parameters))
        return {k: v for k, v in back(X, Y, cache).items() if k[1:] in parameters}

    namespace = with_mutant(module, mutant)
    return (lambda: check_backprop(*run(namespace), X, Y, parameters),
            lambda: gradients(namespace), gradients(vars(module)))


def loss_and_grads_case(module: types.ModuleType, mutant: Mutant):
    """examples/loss_and_grads.py: the factory ``make_loss`` mutated (its closure with it)."""
    X, y, params = module.make_case()
    loss = mutant.compile(vars(module))(X, y)
    return (lambda: check_loss_and_grads(loss, params),
            lambda: loss(copied(params))[1], module.make_loss(X, y)(copied(params))[1])


def notebook_style_case(module: types.ModuleType, mutant: Mutant):
    """examples/notebook_style.py: forward or backward mutated, checked with check_backprop."""
    X, Y, parameters = module.make_case()
    namespace = with_mutant(module, mutant)
    forward, backward = namespace["forward_propagation"], namespace["backward_propagation"]
    return (lambda: check_backprop(forward, backward, X, Y, parameters),
            lambda: backward(X, Y, forward(X, Y, parameters)[1]),
            module.backward_propagation(X, Y, module.forward_propagation(X, Y, parameters)[1]))


def outcomes(module: types.ModuleType, name: str, case: Callable[..., Any], **options: Any
             ) -> list[tuple[Mutant, str]]:
    found = []
    for mutant in mutate_function(function_named(module, name)):
        check, gradients, original = case(module, mutant, **options)
        found.append((mutant, outcome(check, gradients, original)))
    return found


# --- the engine finds mutants in every style ---------------------------------------------------

FAMILIES_FOUND = [
    ("row_major", "loss", {"scale", "upstream", "variable", "zero"}),
    ("row_major", "relu_backward", {"scale", "chain", "activation", "zero", "comparison"}),
    ("row_major", "softmax_loss", {"scale", "factor", "zero"}),
    ("row_major", "affine_backward", {"scale", "transpose", "reduction", "zero"}),
    ("class_based", "TwoLayerNet.loss", {"scale", "upstream", "regularization", "factor",
                                         "sign", "chain", "variable", "transpose",
                                         "reduction", "zero", "comparison"}),
    ("l_layer", "relu_backward", {"scale", "chain", "activation", "zero", "comparison"}),
    ("l_layer", "sigmoid_backward", {"scale", "sign", "chain", "activation", "zero"}),
    ("l_layer", "L_model_backward", {"scale", "upstream", "loss", "dropout", "factor", "sign",
                                     "chain", "zero"}),
    ("l_layer", "linear_activation_backward", {"scale", "upstream", "zero"}),
    ("l_layer", "compute_cost", {"loss"}),
    ("l_layer", "compute_cost_with_regularization", {"regularization"}),
    ("loss_and_grads", "make_loss", {"scale", "upstream", "regularization", "factor", "sign",
                                     "chain", "activation", "transpose", "reduction", "zero",
                                     "comparison"}),
    ("notebook_style", "forward_propagation", {"loss"}),
]


@pytest.mark.parametrize(("example", "name", "families"), FAMILIES_FOUND,
                         ids=[f"{e}.{n}" for e, n, _ in FAMILIES_FOUND])
def test_the_engine_finds_mutants_in_every_style(modules, example, name, families):
    mutants = mutate_function(function_named(modules[example], name))
    assert {m.family for m in mutants} == families


def test_the_students_bugs_are_planted_where_they_live(modules):
    def diffs(example: str, name: str, operator: str) -> list[str]:
        return [m.diff.splitlines()[-1][1:].strip()
                for m in mutate_function(function_named(modules[example], name))
                if m.operator == operator]

    assert diffs("l_layer", "L_model_backward", "activation_for_upstream") == [
        'linear_activation_backward(AL, cache, "sigmoid")']
    assert diffs("l_layer", "L_model_backward", "drop_cross_entropy_complement") == [
        "dAL = -np.divide(Y, AL)"]
    assert diffs("l_layer", "L_model_backward", "drop_dropout_mask") == [
        "dA = dA / keep_prob"]
    assert diffs("l_layer", "L_model_backward", "drop_keep_prob_division") == [
        "dA = dA * mask"]
    assert diffs("l_layer", "sigmoid_backward", "flip_sigmoid_derivative") == [
        "return dA * s * (s - 1)"]
    assert diffs("l_layer", "compute_cost", "drop_cross_entropy_complement") == [
        "cost = -np.sum(Y * np.log(AL)) / m"]
    assert diffs("l_layer", "compute_cost_with_regularization", "drop_regularization") == [
        "return compute_cost(AL, Y)"]
    assert diffs("class_based", "TwoLayerNet.loss", "normalise_twice") == [
        "dscores = probs / N"]
    assert diffs("class_based", "TwoLayerNet.loss", "drop_regularization") == [
        "loss = -np.log(probs[np.arange(N), y]).mean()",
        'grads["W2"] = hidden.T.dot(dscores)', 'grads["W1"] = X.T.dot(dhidden)']
    assert diffs("row_major", "loss", "activation_for_upstream") == [
        "dactivated, dW2, db2 = affine_backward(scores, cache2)",
        "dhidden = relu_backward(activated, cache_relu)",
        "_, dW1, db1 = affine_backward(hidden, cache1)"]
    assert diffs("row_major", "affine_backward", "transpose_weight_gradient") == [
        "dw = x.T.dot(dout).T"]


# --- the check catches them -----------------------------------------------------------------

@pytest.fixture(scope="module")
def row_major_and_class_based(modules):
    found = {f"row_major.{name}": outcomes(modules["row_major"], name, row_major_case)
             for name in ("loss", "relu_backward", "softmax_loss", "affine_backward")}
    found["class_based.TwoLayerNet.loss"] = outcomes(modules["class_based"], "TwoLayerNet.loss",
                                                    class_based_case)
    return found


def test_row_major_and_class_based_no_mutant_survives_the_check(row_major_and_class_based):
    counts = {label: dict(collections.Counter(o for _, o in found))
              for label, found in row_major_and_class_based.items()}
    assert counts == {
        "row_major.loss": {"killed": 9, "killed by error": 2},
        # (cache > 0) -> (cache >= 0): no pre-activation is exactly 0
        "row_major.relu_backward": {"killed": 9, "killed by error": 1, "equivalent": 1},
        "row_major.softmax_loss": {"killed": 18},
        "row_major.affine_backward": {"killed": 19, "killed by error": 8},
        "class_based.TwoLayerNet.loss": {"killed": 65, "killed by error": 16},
    }
    every = [pair for found in row_major_and_class_based.values() for pair in found]
    assert len(every) >= 30 and len({m.family for m, _ in every}) >= 8
    assert [m.summary() for m, o in every if o == "survived"] == []
    (equivalent,) = [m for m, o in every if o == "equivalent"]
    assert equivalent.operator == "loosen_comparison"


def test_the_errors_are_shape_errors_of_the_transposes_axes_and_caches(
        row_major_and_class_based):
    operators = {m.operator for found in row_major_and_class_based.values()
                 for m, o in found if o == "killed by error"}
    assert operators == {"drop_transpose", "add_transpose", "swap_matrix_operands",
                         "transpose_weight_gradient", "swap_reduction_axis",
                         "other_layer_variable", "drop_upstream_gradient"}


# Each new operator, and an example where the check kills one of its mutants (FAIL).
KILLED_BY_THE_CHECK = [
    ("activation_for_upstream", "row_major", "loss", row_major_case, {}),
    ("activation_for_upstream", "l_layer", "L_model_backward", l_layer_case, {}),
    ("flip_sigmoid_derivative", "l_layer", "sigmoid_backward", l_layer_case, {}),
    ("normalise_twice", "class_based", "TwoLayerNet.loss", class_based_case, {}),
    ("normalise_twice", "row_major", "softmax_loss", row_major_case, {}),
    ("drop_cross_entropy_complement", "l_layer", "L_model_backward", l_layer_case, {}),
    ("drop_cross_entropy_complement", "l_layer", "compute_cost", l_layer_case, {}),
    ("drop_cross_entropy_complement", "notebook_style", "forward_propagation",
     notebook_style_case, {}),
    ("drop_regularization", "class_based", "TwoLayerNet.loss", class_based_case, {}),
    ("drop_regularization", "loss_and_grads", "make_loss", loss_and_grads_case, {}),
    ("drop_regularization", "l_layer", "compute_cost_with_regularization", l_layer_case,
     {"cost": "compute_cost_with_regularization",
      "backward": "L_model_backward_with_regularization", "lambd": 0.7}),
    ("drop_regularization", "l_layer", "L_model_backward_with_regularization", l_layer_case,
     {"cost": "compute_cost_with_regularization",
      "backward": "L_model_backward_with_regularization", "lambd": 0.7}),
    ("drop_dropout_mask", "l_layer", "L_model_backward", l_layer_case, {"keep_prob": 0.8}),
    ("drop_keep_prob_division", "l_layer", "L_model_backward", l_layer_case,
     {"keep_prob": 0.8}),
    # W1 is 4 x 4: its transposed gradient has the right shape and the wrong values.
    ("transpose_weight_gradient", "class_based", "TwoLayerNet.loss", class_based_case,
     {"hidden": 4}),
]


@pytest.mark.parametrize(("operator", "example", "name", "case", "options"), KILLED_BY_THE_CHECK,
                         ids=[f"{o}:{e}.{n}" for o, e, n, _, _ in KILLED_BY_THE_CHECK])
def test_each_new_operator_has_a_mutant_the_check_kills(modules, operator, example, name, case,
                                                       options):
    module = modules[example]
    mutants = [m for m in mutate_function(function_named(module, name)) if m.operator == operator]
    assert mutants
    found = {m.description: outcome(*case(module, m, **options)) for m in mutants}
    assert "killed" in found.values(), found
    assert "survived" not in found.values(), found


def test_a_square_weights_transposed_gradient_fails_the_check_and_a_rectangular_one_raises(
        modules):
    module = modules["class_based"]
    found = {m.description: outcome(*class_based_case(module, m, hidden=4))
             for m in mutate_function(module.TwoLayerNet.loss)
             if m.operator == "transpose_weight_gradient"}
    assert found == {'grads["W2"] transposed': "killed by error",    # (4, 3) -> (3, 4)
                     'grads["W1"] transposed': "killed"}             # (4, 4): a real transpose


def test_the_dropout_mutants_only_differ_when_dropout_is_on(modules):
    # Without keep_prob the branch `if mask is not None:` never runs: the mutants are
    # equivalent there, and the check must be run with dropout to see them.
    module = modules["l_layer"]
    mutants = [m for m in mutate_function(module.L_model_backward) if m.family == "dropout"]
    assert [outcome(*l_layer_case(module, m)) for m in mutants] == ["equivalent"] * 2
    assert [outcome(*l_layer_case(module, m, keep_prob=0.8)) for m in mutants] == ["killed"] * 2


# --- a layer function seen through its caller -------------------------------------------------

def test_the_caller_sees_the_mutated_layer_function_and_the_module_is_untouched(modules):
    module = modules["row_major"]
    (mutant,) = [m for m in mutate_function(module.affine_backward)
                 if m.description == "dw × 2"]
    namespace = with_mutant(module, mutant)
    X, y, params = module.make_case()
    _, original = module.loss(X, y, copied(params))
    _, mutated = namespace["loss"](X, y, copied(params))
    for name in ("W1", "W2"):
        np.testing.assert_array_equal(mutated[name], 2 * original[name])
    for name in ("b1", "b2"):
        np.testing.assert_array_equal(mutated[name], original[name])
    assert module.affine_backward.__code__ is not namespace["affine_backward"].__code__
    assert module.loss.__globals__ is vars(module) and namespace["loss"].__globals__ is namespace
    result = check_loss_and_grads(lambda p: namespace["loss"](X, y, p), params)
    assert result.verdict is Verdict.FAIL
    assert {block.name for block in result.mismatched} == {"W1", "W2"}
