"""What every operator works with: :class:`Site`, :class:`Change`, :class:`Operator`,
and the libcst helpers the operator families share.

The helpers read a node (:func:`code`, :func:`precedence`, :func:`dotted_name`,
:func:`name_of`, :func:`number`, the predicates :func:`is_normalisation`,
:func:`is_variable`, :func:`numpy_call`, :func:`method_call`) or build one
(:func:`expression`, :func:`parenthesized`, :func:`operand`, :func:`atom_text`);
:func:`up` moves a site to an ancestor.

>>> node = cst.parse_expression("np.sum(dZ, axis=1)")
>>> dotted_name(node.func), [code(arg.value) for arg in positional_args(node)]
('np.sum', ['dZ'])
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import libcst as cst

__all__ = [
    "Change",
    "Operator",
    "Site",
    "atom_text",
    "code",
    "dotted_name",
    "expression",
    "is_normalisation",
    "is_variable",
    "method_call",
    "name_of",
    "number",
    "numpy_call",
    "operand",
    "parenthesized",
    "positional_args",
    "precedence",
    "up",
]


@dataclass(frozen=True)
class Site:
    """A node inside a gradient expression, and what an operator needs to know about it.

    ``ancestors`` runs from the statement (or dict entry, or return) that holds the
    gradient expression down to the node's parent; ``is_root`` marks the whole
    expression (never set for a value that holds several gradients, as the call in
    ``dx, dw, db = affine_backward(dout, cache)``); ``target`` names the gradient being
    computed as a report shows it (``"dW2"``, ``'grads["W2"]'``, ``"relu_backward()"``);
    ``key`` is its bare name or key (``"dW2"``, ``"W2"``; ``""`` when it has none);
    ``bound`` holds the local names bound before this statement (parameters included);
    ``numpy`` is the name under which the function's module knows numpy (``"np"``), or
    None; ``role`` is ``"gradient"``, or ``"cost"`` for a cost expression (``cost =
    ...``), which only the operators registered for costs see.
    """

    node: cst.CSTNode
    ancestors: tuple[cst.CSTNode, ...]
    is_root: bool
    target: str
    bound: frozenset[str]
    numpy: str | None
    key: str = ""
    role: str = "gradient"

    @property
    def parent(self) -> cst.CSTNode | None:
        """The node directly holding :attr:`node`."""
        return self.ancestors[-1] if self.ancestors else None


@dataclass(frozen=True)
class Change:
    """A proposed replacement of a site's node, and a short description of it."""

    replacement: cst.BaseExpression
    description: str


@dataclass(frozen=True)
class Operator:
    """A registered mutation operator: its family, its function and the change it shows.

    ``roles`` are the kinds of site it is offered: gradient expressions, and for the few
    operators whose bug can live in the cost too (the cross-entropy's ``(1 - Y)`` term,
    the regularisation term), cost expressions.

    >>> from gcverify.mutation.operators import operator_named
    >>> operator_named("four_over_m").example
    '1. / m -> 4. / m'
    """

    family: str
    function: Callable[[cst.CSTNode, Site], Iterator[Change]] = field(repr=False)
    roles: tuple[str, ...] = ("gradient",)

    @property
    def name(self) -> str:
        return self.function.__name__

    @property
    def example(self) -> str:
        """The first line of the operator's docstring: the change it makes."""
        return (self.function.__doc__ or "").strip().splitlines()[0]

    def __call__(self, node: cst.CSTNode, site: Site) -> Iterator[Change]:
        return self.function(node, site)

    def __repr__(self) -> str:
        return f"Operator({self.family!r}, {self.name})"


# --- reading and writing expressions ---------------------------------------------------

_EMPTY_MODULE = cst.Module(body=[])
_ATOM = 16
_BINARY_PRECEDENCE: dict[type, int] = {
    cst.Power: 14,
    cst.Multiply: 12, cst.Divide: 12, cst.FloorDivide: 12, cst.Modulo: 12,
    cst.MatrixMultiply: 12,
    cst.Add: 11, cst.Subtract: 11,
    cst.LeftShift: 10, cst.RightShift: 10,
    cst.BitAnd: 9, cst.BitXor: 8, cst.BitOr: 7,
}


def code(node: cst.CSTNode) -> str:
    """The source text of ``node``, exactly as libcst would write it.

    >>> code(cst.parse_expression("( A3 -Y )"))
    '( A3 -Y )'
    """
    return _EMPTY_MODULE.code_for_node(node)


def precedence(node: cst.CSTNode) -> int:
    """How tightly ``node`` binds as an operand (higher binds tighter; atoms 16).

    >>> precedence(cst.parse_expression("a - b")) < precedence(cst.parse_expression("a * b"))
    True
    """
    if getattr(node, "lpar", None):
        return _ATOM
    if isinstance(node, cst.BinaryOperation):
        return _BINARY_PRECEDENCE[type(node.operator)]
    if isinstance(node, cst.UnaryOperation):
        return 5 if isinstance(node.operator, cst.Not) else 13
    if isinstance(node, cst.Comparison):
        return 6
    if isinstance(node, cst.BooleanOperation):
        return 4 if isinstance(node.operator, cst.And) else 3
    if isinstance(node, cst.IfExp):
        return 2
    if isinstance(node, (cst.Lambda, cst.NamedExpr)):
        return 1
    return _ATOM


def parenthesized(node: cst.BaseExpression) -> cst.BaseExpression:
    """``node`` wrapped in one pair of parentheses."""
    return node.with_changes(lpar=[cst.LeftParen(), *node.lpar],
                             rpar=[*node.rpar, cst.RightParen()])


def operand(node: cst.BaseExpression, binding: int, side: str) -> cst.BaseExpression:
    """``node`` as the ``side`` operand of an operator of precedence ``binding``.

    Parentheses are added only where Python needs them: a looser operand, or an
    operand of the same precedence on the side the operator does not associate to
    (``a - (b - c)``; ``**`` associates to the right).
    """
    own = precedence(node)
    associates_right = binding == _BINARY_PRECEDENCE[cst.Power]
    if own < binding or (own == binding and (side == "right") != associates_right):
        return parenthesized(node)
    return node


def expression(text: str) -> cst.BaseExpression:
    """Parse one expression."""
    return cst.parse_expression(text)


def atom_text(node: cst.BaseExpression) -> str:
    """The text of ``node``, parenthesised unless it is an atom (a name, a call...)."""
    return code(node) if precedence(node) == _ATOM else f"({code(node)})"


def number(node: cst.CSTNode) -> float | None:
    """The value of a numeric literal (``2``, ``1.``, ``-1``), else None."""
    if isinstance(node, (cst.Integer, cst.Float)):
        return float(node.evaluated_value)
    if (isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus)
            and isinstance(node.expression, (cst.Integer, cst.Float))):
        return -float(node.expression.evaluated_value)
    return None


def is_normalisation(node: cst.CSTNode) -> bool:
    """``1. / m``: a numeric literal divided by something."""
    return (isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Divide)
            and number(node.left) is not None and number(node.right) is None)


def dotted_name(node: cst.CSTNode) -> str | None:
    """``np.dot`` for the expression ``np.dot``; None for anything but names and dots.

    >>> dotted_name(cst.parse_expression("np.linalg.norm"))
    'np.linalg.norm'
    """
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        head = dotted_name(node.value)
        return None if head is None else f"{head}.{node.attr.value}"
    return None


def name_of(node: cst.CSTNode) -> str | None:
    """The name ``node`` reads: ``D1``, ``self.mask``, or the key of ``cache["D1"]``.

    >>> name_of(cst.parse_expression("cache['D1']")), name_of(cst.parse_expression("a + b"))
    ('D1', None)
    """
    if isinstance(node, cst.Subscript) and len(node.slice) == 1:
        index = node.slice[0].slice
        if isinstance(index, cst.Index) and isinstance(index.value, cst.SimpleString):
            key = index.value.evaluated_value
            return key if isinstance(key, str) else None
    return dotted_name(node)


# --- calls and sites --------------------------------------------------------------------

def numpy_call(node: cst.CSTNode, site: Site, *names: str) -> bool:
    """Is ``node`` a call of ``np.<name>`` for one of ``names``?"""
    return (isinstance(node, cst.Call) and site.numpy is not None
            and dotted_name(node.func) in {f"{site.numpy}.{name}" for name in names})


def method_call(node: cst.CSTNode, *names: str) -> bool:
    """Is ``node`` a method call ``x.<name>(...)`` for one of ``names``?"""
    return (isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)
            and node.func.attr.value in names)


def positional_args(node: cst.Call) -> list[cst.Arg]:
    """The positional arguments of a call (not ``axis=1``, not ``*args``)."""
    return [arg for arg in node.args if arg.keyword is None and not arg.star]


def is_variable(node: cst.CSTNode, site: Site) -> bool:
    """Is ``node`` a read of a local variable (not ``x.T``'s ``T``, not ``axis=``)?"""
    if not isinstance(node, cst.Name) or node.value not in site.bound:
        return False
    parent = site.parent
    if isinstance(parent, cst.Attribute) and parent.attr is node:
        return False
    return not (isinstance(parent, cst.Arg) and parent.keyword is node)


def up(site: Site, levels: int) -> Site:
    """The site of an ancestor ``levels`` up."""
    return replace(site, node=site.ancestors[-levels], ancestors=site.ancestors[:-levels],
                   is_root=False)
