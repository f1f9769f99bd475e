"""Each operator on small snippets: the exact text a reviewer will read, before and after."""

from __future__ import annotations

import ast
import re

import pytest

from gcverify.errors import InvalidArgument
from gcverify.mutation import FAMILIES, OPERATORS, FunctionSource, mutate, operator_named

# Every name a snippet may read is a parameter, so that it counts as bound.
PARAMETERS = ("X, Y, m, A1, A2, A3, Z1, Z2, Z3, W1, W2, W3, dA1, dA2, dZ1, dZ2, dZ3, "
              "AL, dAL, scores, dscores, probs, hidden, dout, s, keep_prob, mask, D1, reg, "
              "lambd, lr, data_loss, grads")


def mutated_lines(operator: str, body: str, *, numpy: str | None = "np") -> list[str]:
    """The changed line of every mutant ``operator`` makes of a function with ``body``."""
    text = f"def f({PARAMETERS}):\n" + "".join(f"    {line}\n" for line in body.splitlines())
    source = FunctionSource.from_text(text, "f", numpy=numpy)
    lines = []
    for mutant in mutate(source, operators=[operator_named(operator)]):
        added = [line[1:].strip() for line in mutant.diff.splitlines()
                 if line.startswith("+") and not line.startswith("+++")]
        lines.append("\n".join(added))
    return lines


CASES = [
    # scale
    ("scale_by_two", "dW2 = 1. / m * np.dot(dZ2, A1.T)",
     ["dW2 = 1. / m * np.dot(dZ2, A1.T) * 2"]),
    ("scale_by_two", "dZ3 = A3 - Y", ["dZ3 = (A3 - Y) * 2"]),
    ("scale_by_two", "dA1 = -np.dot(W2.T, dZ2)", ["dA1 = -np.dot(W2.T, dZ2) * 2"]),
    ("scale_by_half", "dZ3 = A3 - Y", ["dZ3 = (A3 - Y) * 0.5"]),
    ("scale_by_four", "dW3 = np.dot(dZ3, A2.T) / m", ["dW3 = np.dot(dZ3, A2.T) / m * 4"]),
    ("scale_by_minus_one", "dZ3 = A3 - Y", ["dZ3 = (A3 - Y) * -1"]),
    ("scale_by_one_plus_delta", "db3 = np.sum(dZ3, axis=1, keepdims=True) / m",
     ["db3 = np.sum(dZ3, axis=1, keepdims=True) / m * (1 + 0.0001)"]),
    # upstream: the activation where its upstream gradient belongs
    ("activation_for_upstream", "dZ2 = np.multiply(dA2, np.int64(A2 > 0))",
     ["dZ2 = np.multiply(A2, np.int64(A2 > 0))"]),
    ("activation_for_upstream", "dZ2 = dA2 * (A2 > 0)", ["dZ2 = A2 * (A2 > 0)"]),
    ("activation_for_upstream", "dA1 = dscores.dot(W2.T)", ["dA1 = scores.dot(W2.T)"]),
    ("activation_for_upstream", "dW2 = X.T.dot(dscores)", ["dW2 = X.T.dot(scores)"]),
    ("activation_for_upstream", "dW3 = np.dot(dZ3.T, A2)", ["dW3 = np.dot(Z3.T, A2)"]),
    ("activation_for_upstream", "dA1 = linear_activation_backward(dAL, Z3, 'sigmoid')",
     ["dA1 = linear_activation_backward(AL, Z3, 'sigmoid')"]),
    ("activation_for_upstream", "db2 = np.sum(dZ2, axis=1)", []),         # not a product
    ("activation_for_upstream", "dZ1 = dout * (Z1 > 0)", []),             # out is not bound
    ("activation_for_upstream", "dZ1 = helper(dA1, Z1)", []),             # not a backward call
    # loss: the cross-entropy's (1 - Y) term
    ("drop_cross_entropy_complement", "dAL = -(np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))",
     ["dAL = -np.divide(Y, AL)"]),
    ("drop_cross_entropy_complement", "dAL = -Y / AL + (1 - Y) / (1 - AL)", ["dAL = -Y / AL"]),
    ("drop_cross_entropy_complement", "dAL = np.divide(1 - Y, 1 - AL) - np.divide(Y, AL)",
     ["dAL = -np.divide(Y, AL)"]),
    ("drop_cross_entropy_complement",
     "cost = -np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) / m",
     ["cost = -np.sum(Y * np.log(AL)) / m"]),
    ("drop_cross_entropy_complement",
     "log_probs = np.multiply(-np.log(A3), Y) + np.multiply(-np.log(1 - A3), 1 - Y)",
     ["log_probs = np.multiply(-np.log(A3), Y)"]),
    ("drop_cross_entropy_complement", "dZ1 = dA1 * A1 * (1 - A1)", []),
    ("drop_cross_entropy_complement", "dZ1 = dA1 + (1 - A1)", []),        # no Y half
    ("drop_cross_entropy_complement", "total = Y * np.log(AL) + (1 - Y) * np.log(1 - AL)",
     []),                                                                 # not a cost name
    # regularization: the L2 term forgotten
    ("drop_regularization", "dW2 = X.T.dot(dZ2) + reg * W2", ["dW2 = X.T.dot(dZ2)"]),
    ("drop_regularization", "dW2 = 1. / m * np.dot(dZ2, A1.T) + lambd / m * W2",
     ["dW2 = 1. / m * np.dot(dZ2, A1.T)"]),
    ("drop_regularization", "dW2 = reg * W2 + X.T.dot(dZ2)", ["dW2 = X.T.dot(dZ2)"]),
    ("drop_regularization", "dW2 += reg * W2", ["dW2 += 0"]),
    ("drop_regularization", "loss = data_loss + 0.5 * reg * np.sum(W1 * W1)",
     ["loss = data_loss"]),
    ("drop_regularization", "loss += 0.5 * reg * np.sum(W1 * W1)", ["loss += 0"]),
    ("drop_regularization", "dW2 = X.T.dot(dZ2) + lr * W2", []),
    ("drop_regularization", "dW2 = X.T.dot(dZ2) + W2", []),
    ("drop_regularization", "dW2 -= reg * W2", []),
    # dropout: the mask, or the division by keep_prob, forgotten
    ("drop_dropout_mask", "dA1 = dA1 * mask / keep_prob", ["dA1 = dA1 / keep_prob"]),
    ("drop_dropout_mask", "dA1 = np.multiply(dA1, D1)", ["dA1 = dA1"]),
    ("drop_dropout_mask", "dA1 = D1 * dA1 / keep_prob", ["dA1 = dA1 / keep_prob"]),
    ("drop_dropout_mask", "dA1 *= D1", ["dA1 *= 1"]),
    ("drop_dropout_mask", "dZ1 = dA1 * mask", []),            # a ReLU's mask, maybe
    ("drop_keep_prob_division", "dA1 = dA1 * mask / keep_prob", ["dA1 = dA1 * mask"]),
    ("drop_keep_prob_division", "dA1 /= keep_prob", ["dA1 /= 1"]),
    ("drop_keep_prob_division", "dW2 = np.dot(dZ2, A1.T) / m", []),
    # factor
    ("four_over_m", "dW2 = 1. / m * np.dot(dZ2, A1.T)", ["dW2 = 4. / m * np.dot(dZ2, A1.T)"]),
    ("four_over_m", "dW2 = 1 / m * np.dot(dZ2, A1.T)", ["dW2 = 4 / m * np.dot(dZ2, A1.T)"]),
    ("four_over_m", "dW2 = 1.0 / m * np.dot(dZ2, A1.T)", ["dW2 = 4.0 / m * np.dot(dZ2, A1.T)"]),
    ("four_over_m", "dW2 = 0.5 / m * np.dot(dZ2, A1.T)", ["dW2 = 2.0 / m * np.dot(dZ2, A1.T)"]),
    ("drop_normalisation", "dW2 = 1. / m * np.dot(dZ2, A1.T)", ["dW2 = np.dot(dZ2, A1.T)"]),
    ("drop_normalisation", "dW2 = np.dot(dZ2, A1.T) * (1. / m)", ["dW2 = np.dot(dZ2, A1.T)"]),
    ("drop_normalisation", "dW2 = np.dot(dZ2, A1.T) / m", ["dW2 = np.dot(dZ2, A1.T)"]),
    ("m_minus_one", "dW2 = 1. / m * np.dot(dZ2, A1.T)",
     ["dW2 = 1. / (m - 1) * np.dot(dZ2, A1.T)"]),
    ("m_minus_one", "dW2 = np.dot(dZ2, A1.T) / X.shape[1]",
     ["dW2 = np.dot(dZ2, A1.T) / (X.shape[1] - 1)"]),
    ("normalise_twice", "dZ3 = A3 - Y", ["dZ3 = (A3 - Y) / m"]),
    ("normalise_twice", "dscores = probs", ["dscores = probs / m"]),
    ("normalise_twice", "dAL = -(np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))",
     ["dAL = -(np.divide(Y, AL) - np.divide(1 - Y, 1 - AL)) / m"]),
    ("normalise_twice", "dW3 = A3 - Y", []),                    # a parameter's gradient
    ("normalise_twice", "dA2 = np.dot(W3.T, dZ3)", []),         # computed from a gradient
    ("normalise_twice", "dZ3 = (A3 - Y) / m", []),              # already normalised
    ("normalise_twice", "dZ3 = np.zeros_like(A3)", []),
    ("normalise_twice", "dscores /= m", []),
    # sign
    ("flip_sigmoid_derivative", "dZ1 = dA1 * A1 * (1 - A1)", ["dZ1 = dA1 * A1 * (A1 - 1)"]),
    ("flip_sigmoid_derivative", "dZ1 = dA1 * s * (1 - s)", ["dZ1 = dA1 * s * (s - 1)"]),
    ("flip_sigmoid_derivative", "dZ1 = np.multiply(dA1, np.multiply(A1, 1 - A1))",
     ["dZ1 = np.multiply(dA1, np.multiply(A1, A1 - 1))"]),
    ("flip_sigmoid_derivative", "dZ1 = dA1 * ((1 - A1) * A1)", ["dZ1 = dA1 * ((A1 - 1) * A1)"]),
    ("flip_sigmoid_derivative", "dZ1 = dA1 * (1 - A1 ** 2)", []),   # tanh
    ("flip_sigmoid_derivative", "dZ3 = A3 * (1 - Y)", []),
    ("swap_subtraction", "dZ3 = A3 - Y", ["dZ3 = Y - A3"]),
    ("swap_subtraction", "dZ3 = A3 - Y - Z3", ["dZ3 = Z3 - (A3 - Y)", "dZ3 = Y - A3 - Z3"]),
    ("swap_subtraction", "dZ3 = A3 - (Y - Z3)", ["dZ3 = (Y - Z3) - A3", "dZ3 = A3 - (Z3 - Y)"]),
    ("minus_to_plus", "dZ3 = A3 - Y", ["dZ3 = A3 + Y"]),
    ("plus_to_minus", "dA1 = dZ1 + dZ2 * W2", ["dA1 = dZ1 - dZ2 * W2"]),
    ("plus_to_minus", "dA1 = dZ1 + (dZ2 - W2)", ["dA1 = dZ1 - (dZ2 - W2)"]),
    ("negate_first_term", "dZ3 = A3 - Y", ["dZ3 = -A3 - Y"]),
    ("negate_first_term", "dZ3 = A3 * W3 - Y", ["dZ3 = -(A3 * W3) - Y"]),
    ("drop_unary_minus", "dA1 = -np.dot(W2.T, dZ2)", ["dA1 = np.dot(W2.T, dZ2)"]),
    ("drop_unary_minus", "dA1 = np.dot(W2.T, dZ2) * -1", []),
    # chain rule
    ("drop_local_derivative", "dZ2 = np.multiply(dA2, np.int64(A2 > 0))", ["dZ2 = dA2"]),
    ("drop_local_derivative", "dZ1 = dA1 * (1 - A1 ** 2)", ["dZ1 = dA1"]),
    ("drop_local_derivative", "dW2 = 1. / m * np.dot(dZ2, A1.T)", []),
    ("drop_upstream_gradient", "dZ2 = np.multiply(dA2, np.int64(A2 > 0))",
     ["dZ2 = np.int64(A2 > 0)"]),
    # activation derivatives
    ("relu_to_sigmoid_derivative", "dZ2 = np.multiply(dA2, np.int64(A2 > 0))",
     ["dZ2 = np.multiply(dA2, A2 * (1 - A2))"]),
    ("relu_to_sigmoid_derivative", "dZ2 = dA2 * (A2 > 0).astype(float)",
     ["dZ2 = dA2 * (A2 * (1 - A2))"]),
    ("relu_to_tanh_derivative", "dZ2 = np.multiply(dA2, np.int64(A2 > 0))",
     ["dZ2 = np.multiply(dA2, 1 - A2 ** 2)"]),
    ("relu_to_tanh_derivative", "dZ2 = dA2 * (Z2 > 0)", ["dZ2 = dA2 * (1 - Z2 ** 2)"]),
    ("relu_to_tanh_derivative", "dZ2 = dA2 * np.where(Z2 > 0, 1, 0)",
     ["dZ2 = dA2 * (1 - Z2 ** 2)"]),
    ("sigmoid_to_relu_derivative", "dZ1 = np.multiply(dA1, A1 * (1 - A1))",
     ["dZ1 = np.multiply(dA1, np.int64(A1 > 0))"]),
    ("sigmoid_to_relu_derivative", "dZ1 = dA1 * A1 * (1 - A1)",
     ["dZ1 = dA1 * np.int64(A1 > 0)"]),
    ("sigmoid_to_tanh_derivative", "dZ1 = dA1 * A1 * (1 - A1)", ["dZ1 = dA1 * (1 - A1 ** 2)"]),
    ("tanh_to_relu_derivative", "dZ1 = dA1 * (1 - A1 ** 2)", ["dZ1 = dA1 * np.int64(A1 > 0)"]),
    ("tanh_to_relu_derivative", "dZ1 = dA1 * (1 - A1 ** 2)", ["dZ1 = dA1 * np.int64(A1 > 0)"]),
    ("tanh_to_sigmoid_derivative", "dZ1 = dA1 * (1 - np.square(A1))",
     ["dZ1 = dA1 * (A1 * (1 - A1))"]),
    ("unsquare_tanh_derivative", "dZ1 = dA1 * (1 - A1 ** 2)", ["dZ1 = dA1 * (1 - A1)"]),
    ("unsquare_tanh_derivative", "dZ1 = dA1 * (1 - np.power(A1, 2))", ["dZ1 = dA1 * (1 - A1)"]),
    # another layer's variable, Z for A
    ("other_layer_variable", "dW2 = 1. / m * np.dot(dZ2, A1.T)",
     ["dW2 = 1. / m * np.dot(dZ1, A1.T)", "dW2 = 1. / m * np.dot(dZ3, A1.T)",
      "dW2 = 1. / m * np.dot(dZ2, A2.T)"]),
    ("z_for_a", "dZ2 = np.multiply(dA2, np.int64(A2 > 0))",
     ["dZ2 = np.multiply(dA2, np.int64(Z2 > 0))"]),
    ("a_for_z", "dZ2 = dA2 * (Z2 > 0)", ["dZ2 = dA2 * (A2 > 0)"]),
    # transposes
    ("drop_transpose", "dW2 = np.dot(dZ2, A1.T)", ["dW2 = np.dot(dZ2, A1)"]),
    ("drop_transpose", "dA1 = np.transpose(W2) @ dZ2", ["dA1 = W2 @ dZ2"]),
    ("drop_transpose", "dA1 = np.dot(W2.transpose(), dZ2)", ["dA1 = np.dot(W2, dZ2)"]),
    ("add_transpose", "dW2 = np.dot(dZ2, A1.T)", ["dW2 = np.dot(dZ2.T, A1.T)"]),
    ("add_transpose", "dA1 = W2.T @ dZ2", ["dA1 = W2.T @ dZ2.T"]),
    ("swap_matrix_operands", "dA2 = np.dot(W3.T, dZ3)", ["dA2 = np.dot(dZ3, W3.T)"]),
    ("swap_matrix_operands", "dA2 = W3.T @ dZ3", ["dA2 = dZ3 @ W3.T"]),
    ("swap_matrix_operands", "dA1 = dZ2.dot(W2.T)", ["dA1 = W2.T.dot(dZ2)"]),
    ("swap_matrix_operands", "dW2 = X.T.dot(dZ2 + dZ1)", ["dW2 = (dZ2 + dZ1).dot(X.T)"]),
    ("add_transpose", "dA1 = dZ2.dot(W2)", ["dA1 = dZ2.T.dot(W2)", "dA1 = dZ2.dot(W2.T)"]),
    ("transpose_weight_gradient", "dW2 = 1. / m * np.dot(dZ2, A1.T)",
     ["dW2 = (1. / m * np.dot(dZ2, A1.T)).T"]),
    ("transpose_weight_gradient", "dW2 = X.T.dot(dZ2)", ["dW2 = X.T.dot(dZ2).T"]),
    ("transpose_weight_gradient", 'grads["W2"] = X.T.dot(dZ2)', ['grads["W2"] = X.T.dot(dZ2).T']),
    ("transpose_weight_gradient", "dw = X.T.dot(dout)", ["dw = X.T.dot(dout).T"]),
    ("transpose_weight_gradient", "db2 = np.sum(dZ2, axis=1)", []),
    ("transpose_weight_gradient", "dA1 = np.dot(W2.T, dZ2)", []),
    ("transpose_weight_gradient", "dW2 += X.T.dot(dZ2)", []),   # a term, not the gradient
    # reductions
    ("swap_reduction_axis", "db2 = np.sum(dZ2, axis=1, keepdims=True)",
     ["db2 = np.sum(dZ2, axis=0, keepdims=True)"]),
    ("swap_reduction_axis", "db2 = np.sum(dZ2, 1)", ["db2 = np.sum(dZ2, 0)"]),
    ("swap_reduction_axis", "db2 = dZ2.mean(axis=0)", ["db2 = dZ2.mean(axis=1)"]),
    ("sum_to_mean", "db2 = np.sum(dZ2, axis=1, keepdims=True)",
     ["db2 = np.mean(dZ2, axis=1, keepdims=True)"]),
    ("sum_to_mean", "db2 = dZ2.sum(axis=1)", ["db2 = dZ2.mean(axis=1)"]),
    ("mean_to_sum", "db2 = np.mean(dZ2, axis=1, keepdims=True)",
     ["db2 = np.sum(dZ2, axis=1, keepdims=True)"]),
    ("drop_keepdims", "db2 = np.sum(dZ2, axis=1, keepdims=True)", ["db2 = np.sum(dZ2, axis=1)"]),
    ("drop_keepdims", "db2 = np.sum(dZ2, keepdims=True, axis=1)", ["db2 = np.sum(dZ2, axis=1)"]),
    ("drop_keepdims", "db2 = np.sum(dZ2, axis=1, keepdims=True,)",
     ["db2 = np.sum(dZ2, axis=1,)"]),
    # zero, comparisons
    ("zero_gradient", "dW2 = 1. / m * np.dot(dZ2, A1.T)",
     ["dW2 = np.zeros_like(1. / m * np.dot(dZ2, A1.T))"]),
    ("zero_gradient", "dW2 += W2", ["dW2 += np.zeros_like(W2)"]),
    ("zero_gradient", "dZ3 /= m", []),                          # a divisor: no zero
    ("loosen_comparison", "dZ2 = dA2 * (Z2 > 0)", ["dZ2 = dA2 * (Z2 >= 0)"]),
    ("loosen_comparison", "dZ2 = dA2 * (Z2 < 0)", ["dZ2 = dA2 * (Z2 <= 0)"]),
    ("tighten_comparison", "dZ2 = dA2 * (Z2 >= 0)", ["dZ2 = dA2 * (Z2 > 0)"]),
]


@pytest.mark.parametrize(("operator", "before", "after"), CASES,
                         ids=[f"{op}:{before}" for op, before, _ in CASES])
def test_operator_makes_exactly_this_change(operator, before, after):
    assert mutated_lines(operator, before) == after


def test_without_numpy_the_zero_and_relu_forms_need_no_numpy():
    assert mutated_lines("zero_gradient", "dZ3 = A3 - Y", numpy=None) == ["dZ3 = (A3 - Y) * 0"]
    assert mutated_lines("tanh_to_relu_derivative", "dZ1 = dA1 * (1 - A1 ** 2)",
                         numpy=None) == ["dZ1 = dA1 * ((A1 > 0) * 1.0)"]


def test_every_operator_has_a_case_and_shows_its_change():
    covered = {operator for operator, _, after in CASES if after}
    assert {o.name for o in OPERATORS} <= covered
    for operator in OPERATORS:
        assert " -> " in operator.example, operator.name
        assert operator.family in FAMILIES, operator.name


def test_registry_is_one_flat_list_of_unique_operators_in_family_order():
    names = [o.name for o in OPERATORS]
    assert len(names) == len(set(names))
    families = [o.family for o in OPERATORS]
    assert families == sorted(families, key=list(FAMILIES).index)
    assert set(families) == set(FAMILIES)


def test_operator_named_rejects_unknown_names():
    with pytest.raises(InvalidArgument, match=r"name='nope' is not a registered mutation "
                                              r"operator; use one of scale_by_two, "):
        operator_named("nope")


def test_every_mutant_is_valid_python_that_still_defines_the_function():
    # One small function per case: every operator meets every case's statement, and
    # each mutant is parsed whole (one function of all the cases took 20 s to parse).
    operators = set()
    for before in dict.fromkeys(before for _, before, _ in CASES):    # each once
        text = f"def f({PARAMETERS}):\n" + "".join(f"    {line}\n"
                                                   for line in before.splitlines())
        for mutant in mutate(FunctionSource.from_text(text, "f")):
            operators.add(mutant.operator)
            tree = ast.parse(mutant.mutated)
            assert [node.name for node in tree.body] == ["f"], mutant.id
    assert operators == {o.name for o in OPERATORS}


PRECEDENCE_CASES = [
    # (statement, operator, values of the names) -> the mutant computes what it says
    ("dZ3 = A3 - Y", "scale_by_two", "(A3 - Y) * 2"),
    ("dZ3 = A3 - Y - Z3", "swap_subtraction", "Z3 - (A3 - Y)"),
    ("dZ1 = dA1 / (1 - A1 ** 2)", "tanh_to_sigmoid_derivative", "dA1 / (A1 * (1 - A1))"),
    ("dZ1 = dA1 / (1 - A1 ** 2)", "tanh_to_relu_derivative", "dA1 / float(A1 > 0)"),
    ("dZ3 = A3 ** 2 - Y", "negate_first_term", "-(A3 ** 2) - Y"),
]


@pytest.mark.parametrize(("statement", "operator", "meaning"), PRECEDENCE_CASES)
def test_parentheses_keep_the_meaning(statement, operator, meaning):
    values = {"A3": 0.7, "Y": 0.2, "Z3": 5.0, "dA1": 3.0, "A1": 0.4, "np": __import__("numpy")}
    (line,) = [line for line in mutated_lines(operator, statement)
               if re.sub(r"\s", "", line) != re.sub(r"\s", "", statement)][:1]
    computed = eval(line.split("=", 1)[1], dict(values))
    assert computed == pytest.approx(eval(meaning, dict(values)))


def test_cost_expressions_are_only_offered_to_the_cost_operators():
    body = "cost = -np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) / m + reg * np.sum(W1)"
    text = f"def f({PARAMETERS}):\n    {body}\n"
    mutants = mutate(FunctionSource.from_text(text, "f"))
    assert {m.operator for m in mutants} == {"drop_cross_entropy_complement",
                                             "drop_regularization"}
    assert {o.name for o in OPERATORS if "cost" in o.roles} == {
        "drop_cross_entropy_complement", "drop_regularization"}


def test_a_students_bug_is_named_after_it_not_after_the_generic_operator_that_also_makes_it():
    # dA * mask / keep_prob -> dA * mask is also drop_normalisation's; s * (1 - s) -> s * (s - 1)
    # swap_subtraction's; dA * mask / keep_prob -> dA / keep_prob drop_local_derivative's.
    text = (f"def f({PARAMETERS}):\n    dA1 = dA1 * mask / keep_prob\n"
            "    dZ1 = dA1 * s * (1 - s)\n")
    by_line = {m.diff.splitlines()[-1][1:].strip(): m.operator
               for m in mutate(FunctionSource.from_text(text, "f"))}
    assert by_line["dA1 = dA1 * mask"] == "drop_keep_prob_division"
    assert by_line["dA1 = dA1 / keep_prob"] == "drop_dropout_mask"
    assert by_line["dZ1 = dA1 * s * (s - 1)"] == "flip_sigmoid_derivative"
