"""Mutation operators for backpropagation code: one small function per operator.

Each operator receives one node of a *gradient expression* (the right-hand side of
``dW2 = ...``, see :mod:`gcverify.mutation.engine`) together with its :class:`Site`,
and yields the :class:`Change` objects it proposes there, usually none. Its docstring
shows the change it makes. :data:`OPERATORS` is the one explicit registry, grouped by
family (:data:`FAMILIES`); the engine runs them in that order.

The families are the mistakes people make when they derive gradients by hand, which
general-purpose mutation tools (mutmut) do not produce: a gradient scaled by a
constant, the activation fed where its upstream gradient belongs, the cross-entropy's
``(1 - Y)`` term or the regularisation term forgotten, dropout half-undone, a wrong
normalisation ``1 / m`` (or one applied twice), a sign, a dropped chain-rule factor,
the derivative of another activation, another layer's variable, a transpose, a
reduction over the wrong axis, a gradient set to zero, a strict comparison made loose.

Two changes that give the same code are one mutant, named after the first operator
that makes it. So the families of the bugs found in students' code (upstream, loss,
regularization, dropout) come right after ``scale``, before the generic ones, and the
sigmoid derivative's sign opens ``sign``: dropping ``/ keep_prob`` is also a dropped
normalisation, and ``s * (1 - s) -> s * (s - 1)`` also a swapped subtraction, but the
mutant is named after the bug it is.

The operators live by kind of mistake: :mod:`~gcverify.mutation.operators.scaling`
(scale, factor, sign, zero), :mod:`~gcverify.mutation.operators.chain` (chain,
activation, the sigmoid's sign), :mod:`~gcverify.mutation.operators.structure`
(variable, transpose, reduction, comparison) and
:mod:`~gcverify.mutation.operators.students` (upstream, loss, regularization,
dropout); :mod:`~gcverify.mutation.operators.base` holds :class:`Site`,
:class:`Change`, :class:`Operator` and the libcst helpers they share,
:mod:`~gcverify.mutation.operators.names` the naming conventions they recognise and
:mod:`~gcverify.mutation.operators.sites` finds the expressions they are offered.

Examples
--------
>>> import libcst as cst
>>> node = cst.parse_expression("1. / m * np.dot(dZ2, A1.T)")
>>> site = Site(node, (), is_root=True, target="dW2", bound=frozenset(), numpy="np")
>>> [code(change.replacement) for change in scale_by_two(node, site)]
['1. / m * np.dot(dZ2, A1.T) * 2']
"""

from __future__ import annotations

from gcverify.mutation.operators.base import Change, Operator, Site, code
from gcverify.mutation.operators.chain import (
    drop_local_derivative,
    drop_upstream_gradient,
    flip_sigmoid_derivative,
    relu_to_sigmoid_derivative,
    relu_to_tanh_derivative,
    sigmoid_to_relu_derivative,
    sigmoid_to_tanh_derivative,
    tanh_to_relu_derivative,
    tanh_to_sigmoid_derivative,
    unsquare_tanh_derivative,
)
from gcverify.mutation.operators.scaling import (
    SMALL_DELTA,
    drop_normalisation,
    drop_unary_minus,
    four_over_m,
    m_minus_one,
    minus_to_plus,
    negate_first_term,
    normalise_twice,
    plus_to_minus,
    scale_by_four,
    scale_by_half,
    scale_by_minus_one,
    scale_by_one_plus_delta,
    scale_by_two,
    swap_subtraction,
    zero_gradient,
)
from gcverify.mutation.operators.structure import (
    a_for_z,
    add_transpose,
    drop_keepdims,
    drop_transpose,
    loosen_comparison,
    mean_to_sum,
    other_layer_variable,
    sum_to_mean,
    swap_matrix_operands,
    swap_reduction_axis,
    tighten_comparison,
    transpose_weight_gradient,
    z_for_a,
)
from gcverify.mutation.operators.students import (
    activation_for_upstream,
    drop_cross_entropy_complement,
    drop_dropout_mask,
    drop_keep_prob_division,
    drop_regularization,
)

__all__ = [
    "FAMILIES",
    "OPERATORS",
    "SMALL_DELTA",
    "Change",
    "Operator",
    "Site",
    "code",
    "operator_named",
]

#: Family name -> what its operators do, in registry order.
FAMILIES: dict[str, str] = {
    "scale": "scale a gradient expression (× 2, × 0.5, × 4, × −1, × (1 + δ))",
    "upstream": "feed the activation where its upstream gradient belongs (A for dA)",
    "loss": "drop the cross-entropy's (1 − Y) term, from the cost or its derivative",
    "regularization": "forget the regularisation term, in a gradient or in the cost",
    "dropout": "forget the dropout mask, or the division by keep_prob, in backward",
    "factor": "change the numeric factor 1 / m, or apply it twice",
    "sign": "flip the sigmoid derivative's sign, swap the operands of a subtraction, "
            "negate a term",
    "chain": "drop a chain-rule factor",
    "activation": "use another activation's derivative",
    "variable": "use another layer's variable, or Z for A",
    "transpose": "add or drop a transpose, swap the operands of a matrix product, "
                 "transpose a weight gradient",
    "reduction": "reduce over the other axis, sum ↔ mean, drop keepdims",
    "zero": "set a gradient to zero",
    "comparison": "make a mask's comparison loose or strict (> ↔ >=)",
}

#: Every operator, in the order the engine applies them (grouped by family).
OPERATORS: tuple[Operator, ...] = (
    Operator("scale", scale_by_two),
    Operator("scale", scale_by_half),
    Operator("scale", scale_by_four),
    Operator("scale", scale_by_minus_one),
    Operator("scale", scale_by_one_plus_delta),
    Operator("upstream", activation_for_upstream),
    Operator("loss", drop_cross_entropy_complement, roles=("gradient", "cost")),
    Operator("regularization", drop_regularization, roles=("gradient", "cost")),
    Operator("dropout", drop_dropout_mask),
    Operator("dropout", drop_keep_prob_division),
    Operator("factor", four_over_m),
    Operator("factor", drop_normalisation),
    Operator("factor", m_minus_one),
    Operator("factor", normalise_twice),
    Operator("sign", flip_sigmoid_derivative),
    Operator("sign", swap_subtraction),
    Operator("sign", minus_to_plus),
    Operator("sign", plus_to_minus),
    Operator("sign", negate_first_term),
    Operator("sign", drop_unary_minus),
    Operator("chain", drop_local_derivative),
    Operator("chain", drop_upstream_gradient),
    Operator("activation", relu_to_sigmoid_derivative),
    Operator("activation", relu_to_tanh_derivative),
    Operator("activation", sigmoid_to_relu_derivative),
    Operator("activation", sigmoid_to_tanh_derivative),
    Operator("activation", tanh_to_relu_derivative),
    Operator("activation", tanh_to_sigmoid_derivative),
    Operator("activation", unsquare_tanh_derivative),
    Operator("variable", other_layer_variable),
    Operator("variable", z_for_a),
    Operator("variable", a_for_z),
    Operator("transpose", drop_transpose),
    Operator("transpose", add_transpose),
    Operator("transpose", swap_matrix_operands),
    Operator("transpose", transpose_weight_gradient),
    Operator("reduction", swap_reduction_axis),
    Operator("reduction", sum_to_mean),
    Operator("reduction", mean_to_sum),
    Operator("reduction", drop_keepdims),
    Operator("zero", zero_gradient),
    Operator("comparison", loosen_comparison),
    Operator("comparison", tighten_comparison),
)


def operator_named(name: str) -> Operator:
    """The registered operator called ``name``.

    >>> operator_named("swap_subtraction").family
    'sign'
    """
    for operator in OPERATORS:
        if operator.name == name:
            return operator
    from gcverify.errors import invalid_argument

    raise invalid_argument("name", name, "is not a registered mutation operator",
                           f"use one of {', '.join(o.name for o in OPERATORS)}")
