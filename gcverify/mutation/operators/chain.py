"""Operators that break the chain rule: a factor dropped, another activation's derivative.

Families ``chain`` (``dA * g'(Z)`` loses one of its factors) and ``activation`` (the
local derivative of ReLU, sigmoid or tanh swapped for another's), and the sigmoid
derivative's sign flipped (family ``sign``). The recognisers find a derivative in any
of its usual spellings, the writers spell the replacement.

>>> node = cst.parse_expression("np.int64(A2 > 0)")
>>> site = Site(node, (), is_root=False, target="dZ2", bound=frozenset(), numpy="np")
>>> [code(change.replacement) for change in relu_to_tanh_derivative(node, site)]
['1 - A2 ** 2']
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import libcst as cst

from gcverify.mutation.operators.base import (
    Change,
    Site,
    atom_text,
    code,
    dotted_name,
    expression,
    is_normalisation,
    method_call,
    number,
    numpy_call,
    operand,
    positional_args,
    up,
)

__all__ = [
    "drop_local_derivative",
    "drop_upstream_gradient",
    "flip_sigmoid_derivative",
    "relu_to_sigmoid_derivative",
    "relu_to_tanh_derivative",
    "sigmoid_to_relu_derivative",
    "sigmoid_to_tanh_derivative",
    "tanh_to_relu_derivative",
    "tanh_to_sigmoid_derivative",
    "unsquare_tanh_derivative",
]


# --- 4. drop a chain-rule factor ------------------------------------------------------

def _elementwise_factors(node: cst.CSTNode, site: Site
                         ) -> tuple[cst.BaseExpression, cst.BaseExpression] | None:
    """``(dA, g)`` for ``np.multiply(dA, g)`` or ``dA * g`` (not ``1. / m * x``, not ``x * 2``)."""
    if numpy_call(node, site, "multiply") and isinstance(node, cst.Call):
        args = positional_args(node)
        if len(args) == 2 and len(node.args) == 2:
            return args[0].value, args[1].value
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Multiply):
        left, right = node.left, node.right
        plain = all(number(side) is None and not is_normalisation(side)
                    for side in (left, right))
        if plain:
            return left, right
    return None


def drop_local_derivative(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """np.multiply(dA2, np.int64(A2 > 0)) -> dA2   (also dA * g -> dA)"""
    factors = _elementwise_factors(node, site)
    if factors is not None:
        yield Change(factors[0], f"drop the factor {code(factors[1])} in {site.target}")


def drop_upstream_gradient(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """np.multiply(dA2, np.int64(A2 > 0)) -> np.int64(A2 > 0)   (also dA * g -> g)"""
    factors = _elementwise_factors(node, site)
    if factors is not None:
        yield Change(factors[1], f"drop the factor {code(factors[0])} in {site.target}")


# --- 5. swap an activation derivative -------------------------------------------------

_CASTS = ("int", "float", "int64", "int32", "float64", "float32", "asarray", "array")


def _relu_comparison(node: cst.CSTNode) -> cst.BaseExpression | None:
    """``A`` for the comparison ``A > 0`` (or ``A >= 0``)."""
    if isinstance(node, cst.Comparison) and len(node.comparisons) == 1:
        target = node.comparisons[0]
        if (isinstance(target.operator, (cst.GreaterThan, cst.GreaterThanEqual))
                and number(target.comparator) == 0):
            return node.left
    return None


def _relu_mask(node: cst.CSTNode, site: Site) -> cst.BaseExpression | None:
    """``A`` when ``node`` is a ReLU derivative written as a mask, at its outermost form.

    Recognised: ``np.int64(A > 0)`` (and other casts), ``(A > 0).astype(float)``,
    ``np.where(A > 0, 1, 0)``, and a bare ``A > 0`` that is not inside one of these.
    """
    if isinstance(node, cst.Call):
        name = dotted_name(node.func) or ""
        args = positional_args(node)
        if name.rsplit(".", 1)[-1] in _CASTS and len(node.args) == 1 and args:
            return _relu_comparison(args[0].value)
        if method_call(node, "astype") and isinstance(node.func, cst.Attribute):
            return _relu_comparison(node.func.value)
        if numpy_call(node, site, "where") and len(args) == 3 \
                and number(args[1].value) == 1 and number(args[2].value) == 0:
            return _relu_comparison(args[0].value)
        return None
    found = _relu_comparison(node)
    if found is None:
        return None
    ancestors = site.ancestors
    if len(ancestors) >= 2 and isinstance(ancestors[-1], cst.Arg) \
            and _relu_mask(ancestors[-2], up(site, 2)) is not None:
        return None
    if len(ancestors) >= 2 and isinstance(ancestors[-1], cst.Attribute) \
            and _relu_mask(ancestors[-2], up(site, 2)) is not None:
        return None
    return found


def _same(a: cst.CSTNode, b: cst.CSTNode) -> bool:
    return code(a).strip("() ") == code(b).strip("() ")


def _sigmoid_parts(node: cst.CSTNode, site: Site
                   ) -> tuple[cst.BaseExpression, cst.BaseExpression | None] | None:
    """``(A, None)`` for ``A * (1 - A)`` or ``np.multiply(A, 1 - A)``; ``(A, dA)`` for
    ``dA * A * (1 - A)``, where the derivative shares its product with the upstream
    gradient ``dA``."""
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Multiply):
        left, right = node.left, node.right
    elif numpy_call(node, site, "multiply") and isinstance(node, cst.Call) \
            and len(node.args) == 2:
        left, right = node.args[0].value, node.args[1].value
    else:
        return None
    if not (isinstance(right, cst.BinaryOperation) and isinstance(right.operator, cst.Subtract)
            and number(right.left) == 1):
        return None
    if _same(right.right, left):
        return left, None
    if (isinstance(node, cst.BinaryOperation) and isinstance(left, cst.BinaryOperation)
            and isinstance(left.operator, cst.Multiply) and not left.lpar
            and _same(right.right, left.right)):
        return left.right, left.left
    return None


def _tanh_derivative(node: cst.CSTNode, site: Site) -> cst.BaseExpression | None:
    """``A`` for ``1 - A ** 2``, ``1 - np.square(A)`` or ``1 - np.power(A, 2)``."""
    if not (isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Subtract)
            and number(node.left) == 1):
        return None
    square = node.right
    if (isinstance(square, cst.BinaryOperation) and isinstance(square.operator, cst.Power)
            and number(square.right) == 2):
        return square.left
    if numpy_call(square, site, "square") and isinstance(square, cst.Call) \
            and len(square.args) == 1:
        return square.args[0].value
    if numpy_call(square, site, "power") and isinstance(square, cst.Call) \
            and len(square.args) == 2 and number(square.args[1].value) == 2:
        return square.args[0].value
    return None


def _relu_text(a: cst.BaseExpression, site: Site) -> str:
    if site.numpy is None:
        return f"({code(a)} > 0) * 1.0"
    return f"{site.numpy}.int64({code(a)} > 0)"


def _sigmoid_text(a: cst.BaseExpression, site: Site) -> str:
    return f"{atom_text(a)} * (1 - {atom_text(a)})"


def _tanh_text(a: cst.BaseExpression, site: Site) -> str:
    return f"1 - {atom_text(a)} ** 2"


_Recogniser = Callable[[cst.CSTNode, Site], "cst.BaseExpression | None"]
_Writer = Callable[[cst.BaseExpression, Site], str]


def _swap_derivative(node: cst.CSTNode, site: Site, recognise: _Recogniser, write: _Writer,
                     what: str) -> Iterator[Change]:
    a = recognise(node, site)
    if a is not None:
        yield Change(expression(write(a, site)), f"{what} in {site.target}")


def _swap_sigmoid_derivative(node: cst.CSTNode, site: Site, write: _Writer, what: str
                             ) -> Iterator[Change]:
    parts = _sigmoid_parts(node, site)
    if parts is not None:
        a, upstream = parts
        new = expression(write(a, site))
        if upstream is not None:  # dA * A * (1 - A) -> dA * g'(A)
            new = cst.BinaryOperation(left=upstream, operator=cst.Multiply(),
                                      right=operand(new, 12, "right"))
        yield Change(new, f"{what} in {site.target}")


def relu_to_sigmoid_derivative(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """np.int64(A > 0) -> A * (1 - A)"""
    return _swap_derivative(node, site, _relu_mask, _sigmoid_text, "relu′ → sigmoid′")


def relu_to_tanh_derivative(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """np.int64(A > 0) -> 1 - A ** 2"""
    return _swap_derivative(node, site, _relu_mask, _tanh_text, "relu′ → tanh′")


def sigmoid_to_relu_derivative(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """A * (1 - A) -> np.int64(A > 0)   (also dA * A * (1 - A) -> dA * np.int64(A > 0))"""
    return _swap_sigmoid_derivative(node, site, _relu_text, "sigmoid′ → relu′")


def sigmoid_to_tanh_derivative(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """A * (1 - A) -> 1 - A ** 2   (also dA * A * (1 - A) -> dA * (1 - A ** 2))"""
    return _swap_sigmoid_derivative(node, site, _tanh_text, "sigmoid′ → tanh′")


def tanh_to_relu_derivative(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """1 - A ** 2 -> np.int64(A > 0)"""
    return _swap_derivative(node, site, _tanh_derivative, _relu_text, "tanh′ → relu′")


def tanh_to_sigmoid_derivative(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """1 - A ** 2 -> A * (1 - A)"""
    return _swap_derivative(node, site, _tanh_derivative, _sigmoid_text, "tanh′ → sigmoid′")


def unsquare_tanh_derivative(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """1 - A ** 2 -> 1 - A"""
    a = _tanh_derivative(node, site)
    if a is not None and isinstance(node, cst.BinaryOperation):
        new = node.with_changes(right=operand(a, 11, "right"))
        yield Change(new, f"{code(node)} → {code(new)} in {site.target}")


def flip_sigmoid_derivative(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """s * (1 - s) -> s * (s - 1)   (also A * (1 - A), dA * s * (1 - s), np.multiply(s, 1 - s))"""
    if not (isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Subtract)
            and number(node.left) == 1):
        return
    parent, partners = site.parent, []
    if isinstance(parent, cst.BinaryOperation) and isinstance(parent.operator, cst.Multiply):
        other = parent.left if parent.right is node else parent.right
        partners.append(other)
        if isinstance(other, cst.BinaryOperation) and isinstance(other.operator, cst.Multiply) \
                and not other.lpar:  # dA * s * (1 - s)
            partners.append(other.right if parent.right is node else other.left)
    elif isinstance(parent, cst.Arg) and len(site.ancestors) >= 2 \
            and numpy_call(site.ancestors[-2], site, "multiply"):
        call = site.ancestors[-2]
        assert isinstance(call, cst.Call)
        partners += [arg.value for arg in call.args if arg is not parent]
    if any(_same(partner, node.right) for partner in partners):
        new = node.with_changes(left=operand(node.right, 11, "left"),
                                right=operand(node.left, 11, "right"))
        yield Change(new, f"sigmoid′ sign: {code(node)} → {code(new)} in {site.target}")
