"""Operators that change a gradient's size or sign, not what it is computed from.

Families ``scale`` (the whole expression × a constant), ``factor`` (the ``1 / m``
normalisation changed, dropped or applied twice), ``sign`` (a subtraction swapped, a
term negated) and ``zero`` (the gradient set to zero).

>>> node = cst.parse_expression("A3 - Y")
>>> site = Site(node, (), is_root=True, target="dZ3", bound=frozenset(), numpy="np")
>>> [change.description for change in swap_subtraction(node, site)]
['A3 - Y → Y - A3 in dZ3']
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import libcst as cst

from gcverify.mutation.operators.base import (
    Change,
    Site,
    code,
    expression,
    is_normalisation,
    number,
    numpy_call,
    operand,
)
from gcverify.mutation.operators.names import (
    BATCH_SIZE_NAMES,
    is_gradient_name,
    is_parameter_gradient,
)

__all__ = [
    "SMALL_DELTA",
    "drop_normalisation",
    "drop_unary_minus",
    "four_over_m",
    "m_minus_one",
    "minus_to_plus",
    "negate_first_term",
    "normalise_twice",
    "plus_to_minus",
    "scale_by_four",
    "scale_by_half",
    "scale_by_minus_one",
    "scale_by_one_plus_delta",
    "scale_by_two",
    "swap_subtraction",
    "zero_gradient",
]

#: The δ of the ``× (1 + δ)`` operator: the smallest scaling bug the campaign plants.
#: In its block it makes a relative difference δ / (2 + δ) = 5e-5, 250 times the
#: 2e-7 threshold, and far above the checker's noise floor (about 1e-9).
SMALL_DELTA = 1e-4


def _with_operator(node: cst.BinaryOperation, kind: type) -> cst.BinaryOperation:
    """``node`` with its operator replaced by ``kind``, keeping the spaces around it."""
    old: Any = node.operator
    return node.with_changes(operator=kind(whitespace_before=old.whitespace_before,
                                           whitespace_after=old.whitespace_after))


def _times(node: cst.BaseExpression, factor: str) -> cst.BaseExpression:
    return cst.BinaryOperation(left=operand(node, 12, "left"), operator=cst.Multiply(),
                               right=expression(factor))


def _scaled(node: cst.CSTNode, site: Site, factor: str, shown: str) -> Iterator[Change]:
    if site.is_root and isinstance(node, cst.BaseExpression):
        yield Change(_times(node, factor), f"{site.target} × {shown}")


# --- 1. scale a gradient expression ---------------------------------------------------

def scale_by_two(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """dW = expr -> dW = expr * 2"""
    return _scaled(node, site, "2", "2")


def scale_by_half(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """dW = expr -> dW = expr * 0.5"""
    return _scaled(node, site, "0.5", "0.5")


def scale_by_four(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """dW = expr -> dW = expr * 4"""
    return _scaled(node, site, "4", "4")


def scale_by_minus_one(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """dW = expr -> dW = expr * -1"""
    return _scaled(node, site, "-1", "−1")


def scale_by_one_plus_delta(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """dW = expr -> dW = expr * (1 + 1e-4)   (δ = SMALL_DELTA)"""
    return _scaled(node, site, f"(1 + {SMALL_DELTA:g})", f"(1 + {SMALL_DELTA:g})")


# --- 2. change a numeric factor -------------------------------------------------------

def _times_four_literal(node: cst.BaseExpression) -> cst.BaseExpression:
    """The literal ``node`` multiplied by 4, written in the same style (``1.`` -> ``4.``)."""
    text = code(node)
    value = number(node)
    assert value is not None
    if isinstance(node, cst.Integer):
        return cst.Integer(str(int(node.evaluated_value) * 4))
    if isinstance(node, cst.Float) and (value * 4).is_integer():
        whole = str(int(value * 4))
        if text.endswith("."):
            return cst.Float(f"{whole}.")
        if re.fullmatch(r"\d+\.0+", text):
            return cst.Float(f"{whole}.0")
    return expression(repr(value * 4))


def four_over_m(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """1. / m -> 4. / m"""
    if is_normalisation(node) and isinstance(node, cst.BinaryOperation) \
            and isinstance(node.left, (cst.Integer, cst.Float)):
        new = node.with_changes(left=_times_four_literal(node.left))
        yield Change(new, f"{code(node)} → {code(new)} in {site.target}")


def drop_normalisation(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """1. / m * expr -> expr   (also expr / m -> expr)"""
    if not isinstance(node, cst.BinaryOperation):
        return
    if isinstance(node.operator, cst.Multiply):
        for factor, rest in ((node.left, node.right), (node.right, node.left)):
            if is_normalisation(factor):
                yield Change(rest, f"drop {code(factor)} in {site.target}")
                return
    elif (isinstance(node.operator, cst.Divide) and number(node.left) is None
            and number(node.right) is None):
        yield Change(node.left, f"drop / {code(node.right)} in {site.target}")


def m_minus_one(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """1 / m -> 1 / (m - 1)"""
    if (isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Divide)
            and isinstance(node.right, (cst.Name, cst.Attribute, cst.Subscript))
            and not node.right.lpar):
        new = node.with_changes(right=expression(f"({code(node.right)} - 1)"))
        yield Change(new, f"{code(node)} → {code(new)} in {site.target}")


_CONSTRUCTORS = ("zeros", "zeros_like", "ones", "ones_like", "empty", "empty_like", "full")


def _normalised_or_built(node: cst.CSTNode, site: Site) -> bool:
    """Does ``node`` divide, read a gradient, or build an array (``np.zeros_like``)?"""
    if numpy_call(node, site, *_CONSTRUCTORS) or is_normalisation(node) or (
            isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Divide)):
        return True
    if isinstance(node, cst.Name) and is_gradient_name(node.value):
        return True
    if isinstance(node, cst.Attribute):  # np.exp: only the object's name is read
        return _normalised_or_built(node.value, site)
    return any(_normalised_or_built(child, site) for child in node.children)


def normalise_twice(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """dZ = A - Y -> dZ = (A - Y) / m   (the loss's gradient; dW's own 1 / m makes it twice)

    Only where backprop starts: a plain ``dZ = ...`` of an activation's gradient (not
    ``dW``, ``db``) computed from no other gradient, with no division, and a batch size
    (``m``, ``N``...) bound.
    """
    batch = next((name for name in BATCH_SIZE_NAMES if name in site.bound), None)
    if (batch is None or not site.is_root or not isinstance(site.parent, cst.Assign)
            or site.key != site.target or is_parameter_gradient(site.key)
            or not isinstance(node, cst.BaseExpression) or number(node) is not None
            or _normalised_or_built(node, site)):
        return
    new = cst.BinaryOperation(left=operand(node, 12, "left"), operator=cst.Divide(),
                              right=cst.Name(batch))
    yield Change(new, f"{site.target} / {batch}: 1 / {batch} applied twice")


# --- 3. sign --------------------------------------------------------------------------

def swap_subtraction(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """A3 - Y -> Y - A3"""
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Subtract):
        new = node.with_changes(left=operand(node.right, 11, "left"),
                                right=operand(node.left, 11, "right"))
        yield Change(new, f"{code(node)} → {code(new)} in {site.target}")


def minus_to_plus(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """a - b -> a + b   (negates the term b)"""
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Subtract):
        new = _with_operator(node, cst.Add)
        yield Change(new, f"{code(node)} → {code(new)} in {site.target}")


def plus_to_minus(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """a + b -> a - b   (negates the term b)"""
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add):
        new = node.with_changes(right=operand(node.right, 11, "right"))
        new = _with_operator(new, cst.Subtract)
        yield Change(new, f"{code(node)} → {code(new)} in {site.target}")


def negate_first_term(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """a - b -> -a - b   (also a + b -> -a + b)"""
    if (isinstance(node, cst.BinaryOperation)
            and isinstance(node.operator, (cst.Add, cst.Subtract))):
        negated = cst.UnaryOperation(operator=cst.Minus(),
                                     expression=operand(node.left, 13, "right"))
        new = node.with_changes(left=negated)
        yield Change(new, f"{code(node)} → {code(new)} in {site.target}")


def drop_unary_minus(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """-a -> a"""
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus) \
            and number(node) is None:
        yield Change(node.expression, f"{code(node)} → {code(node.expression)} in {site.target}")


# --- 9. zero a gradient -----------------------------------------------------------------

def zero_gradient(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """dW = expr -> dW = np.zeros_like(expr)   (also dW += expr -> dW += np.zeros_like(expr);
    never a factor or divisor: dscores /= N)"""
    parent = site.parent
    if isinstance(parent, cst.AugAssign) and not isinstance(
            parent.operator, (cst.AddAssign, cst.SubtractAssign)):
        return
    if site.is_root and isinstance(node, cst.BaseExpression):
        if site.numpy is not None:
            new = expression(f"{site.numpy}.zeros_like({code(node)})")
        else:
            new = _times(node, "0")
        yield Change(new, f"{site.target} = 0")
