"""Operators for the bugs found in students' backprop code.

Families ``upstream`` (the activation fed where its upstream gradient belongs: ``A *
(A > 0)`` for ``dA * (A > 0)``, ``AL`` for ``dAL``), ``loss`` (the cross-entropy's
``(1 - Y)`` term dropped, from the cost or its derivative), ``regularization`` (the
L2 term forgotten, in a gradient or in the cost) and ``dropout`` (the mask not
applied, or ``keep_prob`` not divided, in the backward pass). The names they look for
(``reg``, ``lambd``, ``keep_prob``, ``D1``, ``mask``) are those of
:mod:`~gcverify.mutation.operators.names`.

>>> node = cst.parse_expression("X.T.dot(dscores) + reg * W")
>>> site = Site(node, (), is_root=True, target="dW", bound=frozenset(), numpy="np")
>>> [code(change.replacement) for change in drop_regularization(node, site)]
['X.T.dot(dscores)']
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from gcverify.mutation.operators.base import (
    Change,
    Site,
    code,
    dotted_name,
    is_variable,
    method_call,
    name_of,
    number,
    numpy_call,
    operand,
    positional_args,
)
from gcverify.mutation.operators.names import (
    activation_of,
    is_backward_function,
    is_dropout_mask,
    is_keep_prob,
    is_mask,
    is_regularization_strength,
)

__all__ = [
    "activation_for_upstream",
    "drop_cross_entropy_complement",
    "drop_dropout_mask",
    "drop_keep_prob_division",
    "drop_regularization",
]


def _walk(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    yield node
    for child in node.children:
        yield from _walk(child)


def _is(node: cst.CSTNode | None, kind: type) -> bool:
    return isinstance(node, cst.BinaryOperation) and isinstance(node.operator, kind)


def _augmented_root(site: Site, kind: type) -> bool:
    """Is the site the whole value of an augmented assignment ``x <kind>= value``?"""
    parent = site.parent
    return site.is_root and isinstance(parent, cst.AugAssign) and isinstance(parent.operator,
                                                                            kind)


# --- upstream: the activation for its gradient -------------------------------------------

def _in_product(node: cst.CSTNode, site: Site) -> bool:
    """Is ``node`` (or its transpose) a factor of a product, or passed to a backward
    function? ``dA * g``, ``np.multiply(dA, g)``, ``np.dot(W.T, dZ)``, ``dZ @ A.T``,
    ``dscores.dot(W.T)``, ``X.T.dot(dscores)``, ``relu_backward(dA, cache)``."""
    ancestors = site.ancestors
    if ancestors and isinstance(ancestors[-1], cst.Attribute) and ancestors[-1].value is node \
            and ancestors[-1].attr.value == "T":
        node, ancestors = ancestors[-1], ancestors[:-1]
    parent = ancestors[-1] if ancestors else None
    holder = ancestors[-2] if len(ancestors) >= 2 else None
    if _is(parent, cst.Multiply) or _is(parent, cst.MatrixMultiply):
        return True
    if isinstance(parent, cst.Attribute) and parent.value is node:
        return isinstance(holder, cst.Call) and method_call(holder, "dot") \
            and holder.func is parent
    if isinstance(parent, cst.Arg) and parent.keyword is None and isinstance(holder, cst.Call):
        return (numpy_call(holder, site, "multiply", "dot", "matmul")
                or (method_call(holder, "dot") and not numpy_call(holder, site, "dot"))
                or is_backward_function(dotted_name(holder.func) or ""))
    return False


def activation_for_upstream(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """dA * (A > 0) -> A * (A > 0)   (also dAL -> AL as an argument of a backward call)"""
    if isinstance(node, cst.Name) and is_variable(node, site):
        name = activation_of(node.value)
        if name is not None and name in site.bound and _in_product(node, site):
            yield Change(node.with_changes(value=name),
                         f"{node.value} → {name} in {site.target}")


# --- loss: the cross-entropy's (1 - Y) term -------------------------------------------------

def _complements(node: cst.CSTNode) -> list[str]:
    """The ``v`` of every ``1 - v`` in ``node`` (``v`` a name, attribute or subscript)."""
    return [code(n.right) for n in _walk(node)
            if _is(n, cst.Subtract) and isinstance(n, cst.BinaryOperation)
            and number(n.left) == 1 and not n.right.lpar
            and isinstance(n.right, (cst.Name, cst.Attribute, cst.Subscript))]


def _reads(node: cst.CSTNode) -> list[str]:
    return [code(n) for n in _walk(node) if isinstance(n, (cst.Name, cst.Attribute,
                                                            cst.Subscript))]


def _complement_term(dropped: cst.CSTNode, kept: cst.CSTNode) -> bool:
    """Is ``dropped`` the ``(1 - Y)`` half of a cross-entropy whose ``Y`` half is ``kept``?
    ``dropped`` reads some ``Y`` only as ``1 - Y``, ``kept`` reads it with no ``1 - Y``."""
    if _complements(kept):
        return False
    complements, kept_reads, dropped_reads = _complements(dropped), _reads(kept), \
        _reads(dropped)
    return any(v in kept_reads and dropped_reads.count(v) == complements.count(v)
               for v in set(complements))


def drop_cross_entropy_complement(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """-(np.divide(Y, AL) - np.divide(1 - Y, 1 - AL)) -> -np.divide(Y, AL)   (also the
    cost: Y * np.log(AL) + (1 - Y) * np.log(1 - AL) -> Y * np.log(AL))"""
    if not (isinstance(node, cst.BinaryOperation)
            and isinstance(node.operator, (cst.Add, cst.Subtract))):
        return
    if _complement_term(node.right, node.left):
        yield Change(node.left, f"drop the term {code(node.right)} in {site.target}")
    elif _complement_term(node.left, node.right):
        kept = node.right if isinstance(node.operator, cst.Add) else cst.UnaryOperation(
            operator=cst.Minus(), expression=operand(node.right, 13, "right"))
        yield Change(kept, f"drop the term {code(node.left)} in {site.target}")


# --- regularization: the L2 term forgotten ---------------------------------------------------

def _scaled_by_strength(node: cst.CSTNode) -> bool:
    """Is ``node`` a product with a regularisation strength among its factors
    (``reg * W``, ``lambd / m * W``, ``0.5 * reg * np.sum(W * W)``)?"""
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Multiply):
        return _scaled_by_strength(node.left) or _scaled_by_strength(node.right)
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Divide):
        return _scaled_by_strength(node.left)
    name = dotted_name(node)
    return name is not None and is_regularization_strength(name)


def drop_regularization(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """X.T.dot(d) + reg * W -> X.T.dot(d)   (also dW += reg * W -> dW += 0, and the
    cost's data_loss + 0.5 * reg * np.sum(W * W) -> data_loss)"""
    if _is(node, cst.Add) and isinstance(node, cst.BinaryOperation):
        for term, rest in ((node.right, node.left), (node.left, node.right)):
            if _scaled_by_strength(term):
                yield Change(rest, f"drop {code(term)} in {site.target}")
                return
    elif _augmented_root(site, cst.AddAssign) and _scaled_by_strength(node):
        yield Change(cst.Integer("0"), f"drop {code(node)} in {site.target}")


# --- dropout: the mask or the division by keep_prob forgotten ------------------------------

def _factors(node: cst.CSTNode, site: Site
             ) -> tuple[cst.BaseExpression, cst.BaseExpression] | None:
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Multiply):
        return node.left, node.right
    if numpy_call(node, site, "multiply") and isinstance(node, cst.Call) \
            and len(node.args) == 2 == len(positional_args(node)):
        return node.args[0].value, node.args[1].value
    return None


def _mentions_keep_prob(site: Site) -> bool:
    holder = site.ancestors[0] if site.ancestors else site.node
    return any(is_keep_prob(name_of(n) or "") for n in _walk(holder)
               if isinstance(n, (cst.Name, cst.Attribute)))


def _is_dropout_mask(node: cst.CSTNode, site: Site) -> bool:
    """``D1``, ``dropout_mask``; or ``mask`` where the expression divides by keep_prob."""
    name = name_of(node)
    return name is not None and (is_dropout_mask(name)
                                 or (is_mask(name) and _mentions_keep_prob(site)))


def drop_dropout_mask(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """dA * mask / keep_prob -> dA / keep_prob   (also dA2 * D2 -> dA2, dA2 *= D2 -> dA2 *= 1)"""
    factors = _factors(node, site)
    if factors is not None:
        for mask, rest in ((factors[1], factors[0]), (factors[0], factors[1])):
            if _is_dropout_mask(mask, site):
                yield Change(rest, f"{code(node)} → {code(rest)} in {site.target} "
                                   "(dropout mask not applied)")
                return
    elif _augmented_root(site, cst.MultiplyAssign) and _is_dropout_mask(node, site):
        yield Change(cst.Integer("1"), f"{code(node)} → 1 in {site.target} "
                                       "(dropout mask not applied)")


def drop_keep_prob_division(node: cst.CSTNode, site: Site) -> Iterator[Change]:
    """dA * mask / keep_prob -> dA * mask   (also dA /= keep_prob -> dA /= 1)"""
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Divide) \
            and is_keep_prob(name_of(node.right) or ""):
        yield Change(node.left, f"drop / {code(node.right)} in {site.target}")
    elif _augmented_root(site, cst.DivideAssign) and is_keep_prob(name_of(node) or ""):
        yield Change(cst.Integer("1"), f"drop / {code(node)} in {site.target}")
