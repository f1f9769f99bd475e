"""Mutation operators for backpropagation code: one small function per operator.

Each operator receives one node of a *gradient expression* (the right-hand side of
``dW2 = ...``, see :mod:`gcverify.mutation.engine`) together with its :class:`Site`,
and yields the :class:`Change` objects it proposes there, usually none. Its docstring
shows the change it makes. :data:`OPERATORS` is the one explicit registry, grouped by
family (:data:`FAMILIES`); the engine runs them in that order.

The families are the mistakes people make when they derive gradients by hand, which
general-purpose mutation tools (mutmut) do not produce: a gradient scaled by a
constant, a wrong normalisation ``1 / m``, a sign, a dropped chain-rule factor, the
derivative of another activation, another layer's variable, a transpose, a reduction
over the wrong axis, a gradient set to zero, a strict comparison made loose.

Examples
--------
>>> import libcst as cst
>>> node = cst.parse_expression("1. / m * np.dot(dZ2, A1.T)")
>>> site = Site(node, (), is_root=True, target="dW2", bound=frozenset(), numpy="np")
>>> [code(change.replacement) for change in scale_by_two(node, site)]
['1. / m * np.dot(dZ2, A1.T) * 2']
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import libcst as cst

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

#: The δ of the ``× (1 + δ)`` operator: the smallest scaling bug the campaign plants.
#: In its block it makes a relative difference δ / (2 + δ) = 5e-5, 250 times the
#: 2e-7 threshold, and far above the checker's noise floor (about 1e-9).
SMALL_DELTA = 1e-4

#: Family name -> what its operators do, in registry order.
FAMILIES: dict[str, str] = {
    "scale": "scale a gradient expression (× 2, × 0.5, × 4, × −1, × (1 + δ))",
    "factor": "change the numeric factor 1 / m",
    "sign": "swap the operands of a subtraction, negate a term",
    "chain": "drop a chain-rule factor",
    "activation": "use another activation's derivative",
    "variable": "use another layer's variable, or Z for A",
    "transpose": "add or drop a transpose, swap the operands of a matrix product",
    "reduction": "reduce over the other axis, sum ↔ mean, drop keepdims",
    "zero": "set a gradient to zero",
    "comparison": "make a mask's comparison loose or strict (> ↔ >=)",
}


@dataclass(frozen=True)
class Site:
    """A node inside a gradient expression, and what an operator needs to know about it.

    ``ancestors`` runs from the statement (or dict entry) that holds the gradient
    expression down to the node's parent; ``is_root`` marks the whole expression;
    ``target`` names the gradient being computed (``"dW2"``); ``bound`` holds the local
    names bound before this statement (parameters included); ``numpy`` is the name
    under which the function's module knows numpy (``"np"``), or None.
    """

    node: cst.CSTNode
    ancestors: tuple[cst.CSTNode, ...]
    is_root: bool
    target: str
    bound: frozenset[str]
    numpy: str | None

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

    >>> operator_named("four_over_m").example
    '1. / m -> 4. / m'
    """

    family: str
    function: Callable[[cst.CSTNode, Site], Iterator[Change]] = field(repr=False)

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


# --- helpers ------------------------------------------------------------------------

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


def _number(node: cst.CSTNode) -> float | None:
    """The value of a numeric literal (``2``, ``1.``, ``-1``), else None."""
    if isinstance(node, (cst.Integer, cst.Float)):
        return float(node.evaluated_value)
    if (isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus)
            and isinstance(node.expression, (cst.Integer, cst.Float))):
        return -float(node.expression.evaluated_value)
    return None


def _is_normalisation(node: cst.CSTNode) -> bool:
    """``1. / m``: a numeric literal divided by something."""
    return (isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Divide)
            and _number(node.left) is not None and _number(node.right) is None)


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


def _numpy_call(node: cst.CSTNode, site: Site, *names: str) -> bool:
    """Is ``node`` a call of ``np.<name>`` for one of ``names``?"""
    return (isinstance(node, cst.Call) and site.numpy is not None
            and dotted_name(node.func) in {f"{site.numpy}.{name}" for name in names})


def _method_call(node: cst.CSTNode, *names: str) -> bool:
    """Is ``node`` a method call ``x.<name>(...)`` for one of ``names``?"""
    return (isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)
            and node.func.attr.value in names)


def _positional(node: cst.Call) -> list[cst.Arg]:
    return [arg for arg in node.args if arg.keyword is None and not arg.star]


def _is_variable(node: cst.CSTNode, site: Site) -> bool:
    """Is ``node`` a read of a local variable (not ``x.T``'s ``T``, not ``axis=``)?"""
    if not isinstance(node, cst.Name) or node.value not in site.bound:
        return False
    parent = site.parent
    if isinstance(parent, cst.Attribute) and parent.attr is node:
        return False
    return not (isinstance(parent, cst.Arg) and parent.keyword is node)


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
    value = _number(node)
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
    if _is_normalisation(node) and isinstance(node, cst.BinaryOperation) \
            and isinstance(node.left, (cst.Integer, cst.Float)):
        new = node.with_changes(left=_times_four_literal(node.left))
        yield Change(new, f"{code(node)} → {code(new)} in {site.target}")


def drop_normalisation(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """1. / m * expr -> expr   (also expr / m -> expr)"""
    if not isinstance(node, cst.BinaryOperation):
        return
    if isinstance(node.operator, cst.Multiply):
        for factor, rest in ((node.left, node.right), (node.right, node.left)):
            if _is_normalisation(factor):
                yield Change(rest, f"drop {code(factor)} in {site.target}")
                return
    elif (isinstance(node.operator, cst.Divide) and _number(node.left) is None
            and _number(node.right) is None):
        yield Change(node.left, f"drop / {code(node.right)} in {site.target}")


def m_minus_one(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """1 / m -> 1 / (m - 1)"""
    if (isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Divide)
            and isinstance(node.right, (cst.Name, cst.Attribute, cst.Subscript))
            and not node.right.lpar):
        new = node.with_changes(right=expression(f"({code(node.right)} - 1)"))
        yield Change(new, f"{code(node)} → {code(new)} in {site.target}")


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
            and _number(node) is None:
        yield Change(node.expression, f"{code(node)} → {code(node.expression)} in {site.target}")


# --- 4. drop a chain-rule factor ------------------------------------------------------

def _elementwise_factors(node: cst.CSTNode, site: Site
                         ) -> tuple[cst.BaseExpression, cst.BaseExpression] | None:
    """``(dA, g)`` for ``np.multiply(dA, g)`` or ``dA * g`` (not ``1. / m * x``, not ``x * 2``)."""
    if _numpy_call(node, site, "multiply") and isinstance(node, cst.Call):
        args = _positional(node)
        if len(args) == 2 and len(node.args) == 2:
            return args[0].value, args[1].value
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Multiply):
        left, right = node.left, node.right
        plain = all(_number(side) is None and not _is_normalisation(side)
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
                and _number(target.comparator) == 0):
            return node.left
    return None


def _relu_mask(node: cst.CSTNode, site: Site) -> cst.BaseExpression | None:
    """``A`` when ``node`` is a ReLU derivative written as a mask, at its outermost form.

    Recognised: ``np.int64(A > 0)`` (and other casts), ``(A > 0).astype(float)``,
    ``np.where(A > 0, 1, 0)``, and a bare ``A > 0`` that is not inside one of these.
    """
    if isinstance(node, cst.Call):
        name = dotted_name(node.func) or ""
        args = _positional(node)
        if name.rsplit(".", 1)[-1] in _CASTS and len(node.args) == 1 and args:
            return _relu_comparison(args[0].value)
        if _method_call(node, "astype") and isinstance(node.func, cst.Attribute):
            return _relu_comparison(node.func.value)
        if _numpy_call(node, site, "where") and len(args) == 3 \
                and _number(args[1].value) == 1 and _number(args[2].value) == 0:
            return _relu_comparison(args[0].value)
        return None
    found = _relu_comparison(node)
    if found is None:
        return None
    ancestors = site.ancestors
    if len(ancestors) >= 2 and isinstance(ancestors[-1], cst.Arg) \
            and _relu_mask(ancestors[-2], _up(site, 2)) is not None:
        return None
    if len(ancestors) >= 2 and isinstance(ancestors[-1], cst.Attribute) \
            and _relu_mask(ancestors[-2], _up(site, 2)) is not None:
        return None
    return found


def _up(site: Site, levels: int) -> Site:
    """The site of an ancestor ``levels`` up."""
    return Site(site.ancestors[-levels], site.ancestors[:-levels], False, site.target,
                site.bound, site.numpy)


def _same(a: cst.CSTNode, b: cst.CSTNode) -> bool:
    return code(a).strip("() ") == code(b).strip("() ")


def _sigmoid_parts(node: cst.CSTNode, site: Site
                   ) -> tuple[cst.BaseExpression, cst.BaseExpression | None] | None:
    """``(A, None)`` for ``A * (1 - A)`` or ``np.multiply(A, 1 - A)``; ``(A, dA)`` for
    ``dA * A * (1 - A)``, where the derivative shares its product with the upstream
    gradient ``dA``."""
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Multiply):
        left, right = node.left, node.right
    elif _numpy_call(node, site, "multiply") and isinstance(node, cst.Call) \
            and len(node.args) == 2:
        left, right = node.args[0].value, node.args[1].value
    else:
        return None
    if not (isinstance(right, cst.BinaryOperation) and isinstance(right.operator, cst.Subtract)
            and _number(right.left) == 1):
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
            and _number(node.left) == 1):
        return None
    square = node.right
    if (isinstance(square, cst.BinaryOperation) and isinstance(square.operator, cst.Power)
            and _number(square.right) == 2):
        return square.left
    if _numpy_call(square, site, "square") and isinstance(square, cst.Call) \
            and len(square.args) == 1:
        return square.args[0].value
    if _numpy_call(square, site, "power") and isinstance(square, cst.Call) \
            and len(square.args) == 2 and _number(square.args[1].value) == 2:
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


# --- 6. another layer's variable, Z for A -----------------------------------------------

_LAYER_INDEX = re.compile(r"^(?P<stem>.*\D)(?P<layer>\d+)$")


def other_layer_variable(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """A2 -> A1, A2 -> A3   (the same name in the layer below and above, if bound)"""
    if not _is_variable(node, site):
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
    if _is_variable(node, site):
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
    elif _numpy_call(node, site, "transpose") and isinstance(node, cst.Call) \
            and len(node.args) == 1:
        inner = node.args[0].value
    elif _method_call(node, "transpose") and isinstance(node, cst.Call) and not node.args:
        assert isinstance(node.func, cst.Attribute)
        inner = node.func.value
    if inner is not None:
        yield Change(inner, f"{code(node)} → {code(inner)} in {site.target}")


def _matrix_operands(node: cst.CSTNode, site: Site) -> tuple[cst.CSTNode, ...]:
    """The two operands of ``np.dot(a, b)``, ``np.matmul(a, b)`` or ``a @ b``."""
    if _numpy_call(node, site, "dot", "matmul") and isinstance(node, cst.Call) \
            and len(node.args) == 2 and len(_positional(node)) == 2:
        return node.args[0].value, node.args[1].value
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.MatrixMultiply):
        return node.left, node.right
    return ()


def add_transpose(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """np.dot(dZ3, A2.T) -> np.dot(dZ3.T, A2.T)   (a variable operand of a matrix product)"""
    parent = site.parent
    if isinstance(parent, cst.Arg) and len(site.ancestors) >= 2:
        product = site.ancestors[-2]
        operands = _matrix_operands(product, _up(site, 2))
    else:
        operands = _matrix_operands(parent, _up(site, 1)) if parent is not None else ()
    if any(node is o for o in operands) and _is_variable(node, site):
        assert isinstance(node, cst.Name)
        new = cst.Attribute(value=node, attr=cst.Name("T"))
        yield Change(new, f"{code(node)} → {code(new)} in {site.target}")


def swap_matrix_operands(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """np.dot(W3.T, dZ3) -> np.dot(dZ3, W3.T)   (also a @ b -> b @ a)"""
    if not _matrix_operands(node, site):
        return
    if isinstance(node, cst.Call):
        first, second = node.args
        new: cst.BaseExpression = node.with_changes(args=[
            first.with_changes(value=second.value), second.with_changes(value=first.value)])
    else:
        assert isinstance(node, cst.BinaryOperation)
        new = node.with_changes(left=operand(node.right, 12, "left"),
                                right=operand(node.left, 12, "right"))
    yield Change(new, f"{code(node)} → {code(new)} in {site.target}")


# --- 8. reductions ----------------------------------------------------------------------

_REDUCTIONS = ("sum", "mean")


def _is_reduction(node: cst.CSTNode, site: Site) -> bool:
    return _numpy_call(node, site, *_REDUCTIONS) or _method_call(node, *_REDUCTIONS)


def swap_reduction_axis(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """np.sum(dZ, axis=1, keepdims=True) -> np.sum(dZ, axis=0, keepdims=True)"""
    if not _is_reduction(node, site) or not isinstance(node, cst.Call):
        return
    method = _method_call(node, *_REDUCTIONS) and not _numpy_call(node, site, *_REDUCTIONS)
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
    if (_numpy_call(node, site, "sum") or _method_call(node, "sum")) \
            and isinstance(node, cst.Call):
        yield Change(_rename_call(node, "mean"), f"sum → mean in {site.target}")


def mean_to_sum(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """np.mean(dZ, axis=1) -> np.sum(dZ, axis=1)   (also dZ.mean() -> dZ.sum())"""
    if (_numpy_call(node, site, "mean") or _method_call(node, "mean")) \
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


# --- 9. zero a gradient; comparisons ------------------------------------------------------

def zero_gradient(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """dW = expr -> dW = np.zeros_like(expr)"""
    if site.is_root and isinstance(node, cst.BaseExpression):
        if site.numpy is not None:
            new = expression(f"{site.numpy}.zeros_like({code(node)})")
        else:
            new = _times(node, "0")
        yield Change(new, f"{site.target} = 0")


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


# --- the registry -----------------------------------------------------------------------

#: Every operator, in the order the engine applies them (grouped by family).
OPERATORS: tuple[Operator, ...] = (
    Operator("scale", scale_by_two),
    Operator("scale", scale_by_half),
    Operator("scale", scale_by_four),
    Operator("scale", scale_by_minus_one),
    Operator("scale", scale_by_one_plus_delta),
    Operator("factor", four_over_m),
    Operator("factor", drop_normalisation),
    Operator("factor", m_minus_one),
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
