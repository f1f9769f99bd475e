"""Operators that compute a gradient from the wrong pieces, or with the wrong shape.

Families ``variable`` (another layer's variable, ``Z`` for ``A``), ``transpose`` (a
transpose added or dropped, a matrix product's operands swapped, a whole weight
gradient transposed), ``reduction`` (the other axis, ``sum`` ↔ ``mean``, ``keepdims``
dropped) and ``comparison`` (a mask's ``>`` made ``>=``, or back).

>>> node = cst.parse_expression("A1.T")
>>> site = Site(node, (), is_root=False, target="dW2", bound=frozenset(), numpy="np")
>>> [code(change.replacement) for change in drop_transpose(node, site)]
['A1']
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import libcst as cst

from gcverify.mutation.operators.base import (
    Change,
    Site,
    code,
    is_variable,
    method_call,
    numpy_call,
    operand,
    parenthesized,
    positional_args,
    precedence,
    up,
)
from gcverify.mutation.operators.names import is_weight_gradient

__all__ = [
    "a_for_z",
    "add_transpose",
    "drop_keepdims",
    "drop_transpose",
    "loosen_comparison",
    "mean_to_sum",
    "other_layer_variable",
    "sum_to_mean",
    "swap_matrix_operands",
    "swap_reduction_axis",
    "tighten_comparison",
    "transpose_weight_gradient",
    "z_for_a",
]


# --- 6. another layer's variable, Z for A -----------------------------------------------

_LAYER_INDEX = re.compile(r"^(?P<stem>.*\D)(?P<layer>\d+)$")


def other_layer_variable(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """A2 -> A1, A2 -> A3   (the same name in the layer below and above, if bound)"""
    if not is_variable(node, site):
        return
    assert isinstance(node, cst.Name)
    match = _LAYER_INDEX.match(node.value)
    if match is None:
        return
    layer = int(match["layer"])
    for other in (layer - 1, layer + 1):
        name = f"{match['stem']}{other}"
        if other >= 0 and name in site.bound and name != site.target:
            yield Change(node.with_changes(value=name),
                         f"{node.value} → {name} in {site.target}")


def z_for_a(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """A2 -> Z2   (the pre-activation for the activation)"""
    yield from _rename_initial(node, site, "A", "Z")


def a_for_z(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """Z2 -> A2   (the activation for the pre-activation)"""
    yield from _rename_initial(node, site, "Z", "A")


def _rename_initial(node: cst.CSTNode, site: Site, old: str, new: str) -> Iterator[Change]:
    if is_variable(node, site):
        assert isinstance(node, cst.Name)
        if node.value.startswith(old):
            name = new + node.value[len(old):]
            if name in site.bound and name != site.target:
                yield Change(node.with_changes(value=name),
                             f"{node.value} → {name} in {site.target}")


# --- 7. transposes and matrix products --------------------------------------------------

def drop_transpose(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """A1.T -> A1   (also np.transpose(A1) -> A1, A1.transpose() -> A1)"""
    inner: cst.BaseExpression | None = None
    if isinstance(node, cst.Attribute) and node.attr.value == "T":
        inner = node.value
    elif numpy_call(node, site, "transpose") and isinstance(node, cst.Call) \
            and len(node.args) == 1:
        inner = node.args[0].value
    elif method_call(node, "transpose") and isinstance(node, cst.Call) and not node.args:
        assert isinstance(node.func, cst.Attribute)
        inner = node.func.value
    if inner is not None:
        yield Change(inner, f"{code(node)} → {code(inner)} in {site.target}")


def _is_dot_method(node: cst.CSTNode, site: Site) -> bool:
    """``a.dot(b)``, the row-major style (not ``np.dot(a, b)``)."""
    return (method_call(node, "dot") and not numpy_call(node, site, "dot")
            and isinstance(node, cst.Call) and len(node.args) == 1
            and len(positional_args(node)) == 1)


def _matrix_operands(node: cst.CSTNode, site: Site) -> tuple[cst.CSTNode, ...]:
    """The two operands of ``np.dot(a, b)``, ``np.matmul(a, b)``, ``a @ b`` or ``a.dot(b)``."""
    if numpy_call(node, site, "dot", "matmul") and isinstance(node, cst.Call) \
            and len(node.args) == 2 and len(positional_args(node)) == 2:
        return node.args[0].value, node.args[1].value
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.MatrixMultiply):
        return node.left, node.right
    if _is_dot_method(node, site):
        assert isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)
        return node.func.value, node.args[0].value
    return ()


def add_transpose(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """np.dot(dZ3, A2.T) -> np.dot(dZ3.T, A2.T)   (a variable operand of a matrix product;
    also dscores.dot(W2) -> dscores.T.dot(W2))"""
    parent = site.parent
    if isinstance(parent, (cst.Arg, cst.Attribute)) and len(site.ancestors) >= 2:
        product = site.ancestors[-2]
        operands = _matrix_operands(product, up(site, 2))
    else:
        operands = _matrix_operands(parent, up(site, 1)) if parent is not None else ()
    if any(node is o for o in operands) and is_variable(node, site):
        assert isinstance(node, cst.Name)
        new = cst.Attribute(value=node, attr=cst.Name("T"))
        yield Change(new, f"{code(node)} → {code(new)} in {site.target}")


def swap_matrix_operands(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """np.dot(W3.T, dZ3) -> np.dot(dZ3, W3.T)   (also a @ b -> b @ a, a.dot(b) -> b.dot(a))"""
    operands = _matrix_operands(node, site)
    if not operands:
        return
    if _is_dot_method(node, site):
        assert isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)
        first, second = operands
        assert isinstance(first, cst.BaseExpression) and isinstance(second, cst.BaseExpression)
        receiver = second if precedence(second) == 16 else parenthesized(second)
        new: cst.BaseExpression = node.with_changes(
            func=node.func.with_changes(value=receiver),
            args=[node.args[0].with_changes(value=first)])
    elif isinstance(node, cst.Call):
        first, second = node.args
        new = node.with_changes(args=[
            first.with_changes(value=second.value), second.with_changes(value=first.value)])
    else:
        assert isinstance(node, cst.BinaryOperation)
        new = node.with_changes(left=operand(node.right, 12, "left"),
                                right=operand(node.left, 12, "right"))
    yield Change(new, f"{code(node)} → {code(new)} in {site.target}")


def transpose_weight_gradient(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """dW2 = expr -> dW2 = (expr).T   (a weight gradient: a real transposition where W2 is
    square, a shape error elsewhere)"""
    if (site.is_root and isinstance(site.parent, (cst.Assign, cst.AnnAssign, cst.DictElement))
            and is_weight_gradient(site.key) and isinstance(node, cst.BaseExpression)):
        value = node if precedence(node) == 16 else parenthesized(node)
        yield Change(cst.Attribute(value=value, attr=cst.Name("T")),
                     f"{site.target} transposed")


# --- 8. reductions ----------------------------------------------------------------------

_REDUCTIONS = ("sum", "mean")


def _is_reduction(node: cst.CSTNode, site: Site) -> bool:
    return numpy_call(node, site, *_REDUCTIONS) or method_call(node, *_REDUCTIONS)


def swap_reduction_axis(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """np.sum(dZ, axis=1, keepdims=True) -> np.sum(dZ, axis=0, keepdims=True)"""
    if not _is_reduction(node, site) or not isinstance(node, cst.Call):
        return
    method = method_call(node, *_REDUCTIONS) and not numpy_call(node, site, *_REDUCTIONS)
    axis_position = 0 if method else 1
    positional = 0
    for index, arg in enumerate(node.args):
        is_axis = (arg.keyword is not None and arg.keyword.value == "axis") or (
            arg.keyword is None and not arg.star and positional == axis_position)
        if arg.keyword is None and not arg.star:
            positional += 1
        if is_axis and isinstance(arg.value, cst.Integer) and arg.value.value in ("0", "1"):
            other = "1" if arg.value.value == "0" else "0"
            args = list(node.args)
            args[index] = arg.with_changes(value=cst.Integer(other))
            new = node.with_changes(args=args)
            yield Change(new, f"axis={arg.value.value} → axis={other} in {site.target}")
            return


def _rename_call(node: cst.Call, name: str) -> cst.Call:
    assert isinstance(node.func, cst.Attribute)
    return node.with_changes(func=node.func.with_changes(attr=cst.Name(name)))


def sum_to_mean(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """np.sum(dZ, axis=1) -> np.mean(dZ, axis=1)   (also dZ.sum() -> dZ.mean())"""
    if (numpy_call(node, site, "sum") or method_call(node, "sum")) \
            and isinstance(node, cst.Call):
        yield Change(_rename_call(node, "mean"), f"sum → mean in {site.target}")


def mean_to_sum(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """np.mean(dZ, axis=1) -> np.sum(dZ, axis=1)   (also dZ.mean() -> dZ.sum())"""
    if (numpy_call(node, site, "mean") or method_call(node, "mean")) \
            and isinstance(node, cst.Call):
        yield Change(_rename_call(node, "sum"), f"mean → sum in {site.target}")


def drop_keepdims(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """np.sum(dZ, axis=1, keepdims=True) -> np.sum(dZ, axis=1)"""
    if not _is_reduction(node, site) or not isinstance(node, cst.Call):
        return
    args = list(node.args)
    for index, arg in enumerate(args):
        if arg.keyword is not None and arg.keyword.value == "keepdims":
            del args[index]
            if index == len(args) and args:  # the new last argument takes over its comma
                args[-1] = args[-1].with_changes(comma=arg.comma)
            yield Change(node.with_changes(args=args), f"drop keepdims in {site.target}")
            return


# --- 9. comparisons -----------------------------------------------------------------------

_LOOSER = {cst.GreaterThan: cst.GreaterThanEqual, cst.LessThan: cst.LessThanEqual}
_STRICTER = {looser: strict for strict, looser in _LOOSER.items()}


def _swap_comparison(node: cst.CSTNode, site: Site, table: Mapping[Any, Any]
                     ) -> Iterator[Change]:
    if isinstance(node, cst.Comparison) and len(node.comparisons) == 1:
        target = node.comparisons[0]
        kind = table.get(type(target.operator))
        if kind is not None:
            old: Any = target.operator
            swapped = kind(whitespace_before=old.whitespace_before,
                           whitespace_after=old.whitespace_after)
            new = node.with_changes(comparisons=[target.with_changes(operator=swapped)])
            yield Change(new, f"{code(node)} → {code(new)} in {site.target}")


def loosen_comparison(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """A > 0 -> A >= 0   (also < -> <=)"""
    return _swap_comparison(node, site, _LOOSER)


def tighten_comparison(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """A >= 0 -> A > 0   (also <= -> <)"""
    return _swap_comparison(node, site, _STRICTER)
