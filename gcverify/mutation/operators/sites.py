"""Where the operators apply: the gradient and cost expressions of a function.

:func:`expression_sites` walks a parsed function and yields a :class:`Site` for every
node of every gradient expression (and cost expression) in it, in source order; the
rules that say what is one are listed in :mod:`gcverify.mutation.engine`, the names
they accept in :mod:`gcverify.mutation.operators.names`.

>>> import libcst as cst
>>> import libcst.metadata as metadata
>>> from gcverify.mutation.source import FunctionSource
>>> source = FunctionSource.from_text(
...     "def f(X, dout, cache):\\n    dx, dw = g_backward(dout, cache)\\n"
...     "    grads = {}\\n    grads['W'] = dw * 2\\n", "f")
>>> wrapper = metadata.MetadataWrapper(cst.parse_module(source.text))
>>> function = wrapper.module.body[0]
>>> positions = wrapper.resolve(metadata.PositionProvider)
>>> sorted({(site.target, site.is_root) for _, site in
...         expression_sites(function, source, positions)})
[('dx, dw', False), ("grads['W']", False), ("grads['W']", True)]
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

import libcst as cst

from gcverify.mutation.operators.base import Site, code, dotted_name, number
from gcverify.mutation.operators.names import (
    is_backward_function,
    is_cost_function,
    is_cost_name,
    is_gradient_container,
    is_gradient_name,
)
from gcverify.mutation.source import FunctionSource, bound_lines

__all__ = ["expression_sites"]


def _key(node: cst.CSTNode) -> tuple[str, str] | None:
    """(shown, key) for a gradient-like dict key: ``"dW1"``, ``f"dW{l}"``, ``"dW" + str(l)``."""
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return (value, value) if isinstance(value, str) and is_gradient_name(value) else None
    if isinstance(node, cst.FormattedString):
        texts = [part.value if isinstance(part, cst.FormattedStringText) else "\0"
                 for part in node.parts]
        if "".join(texts).replace("\0", "").startswith("d"):
            return code(node), "".join(texts).split("\0")[0]
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add):
        head = _key(node.left)
        if head is not None:
            return code(node), head[1]
    return None


def _target(node: cst.CSTNode) -> tuple[str, str] | None:
    """(shown, key) for an assignment target that is a gradient: ``dW2``, ``self.dW``,
    ``grads["dW2"]`` (shown ``dW2``), ``grads["W2"]``, ``dscores[np.arange(N), y]``."""
    if isinstance(node, cst.Name):
        return (node.value, node.value) if is_gradient_name(node.value) else None
    if isinstance(node, cst.Attribute):
        return (code(node), node.attr.value) if is_gradient_name(node.attr.value) else None
    if not isinstance(node, cst.Subscript):
        return None
    index = node.slice[0].slice if len(node.slice) == 1 else None
    if isinstance(index, cst.Index):
        found = _key(index.value)
        if found is not None:
            return found
        if _is_container(node.value):
            value = index.value
            key = value.evaluated_value if isinstance(value, cst.SimpleString) else ""
            return code(node), key if isinstance(key, str) else ""
    return _target(node.value)


def _is_container(node: cst.CSTNode) -> bool:
    name = dotted_name(node)
    return name is not None and is_gradient_container(name)


def _calls_backward(node: cst.CSTNode) -> bool:
    """Is ``node`` a call of a backward function (which may return several gradients)?"""
    return isinstance(node, cst.Call) and is_backward_function(dotted_name(node.func) or "")


_STRINGS = (cst.SimpleString, cst.FormattedString, cst.ConcatenatedString)


def _joins_strings(node: cst.CSTNode) -> bool:
    """``"dA" + str(l)``: a key being built, not arithmetic (its parts are still mutated)."""
    return isinstance(node, cst.BinaryOperation) and any(
        isinstance(side, _STRINGS) for side in (node.left, node.right))


_DISPLAYS = (cst.Dict, cst.List, cst.Tuple, cst.Set, cst.DictComp, cst.ListComp, cst.SetComp)


class _Root(NamedTuple):
    """A gradient or cost expression: ``holder`` is the assignment, dict entry or return
    holding it, ``statement`` its line; ``whole`` is False for a value mutated inside only."""

    statement: cst.BaseStatement
    holder: cst.CSTNode
    expression: cst.BaseExpression
    target: str
    key: str
    whole: bool = True
    role: str = "gradient"


class _Own(cst.CSTVisitor):
    """The return statements and nested functions of one function, not of those nested."""

    def __init__(self, function: cst.FunctionDef) -> None:
        super().__init__()
        self.function, self.returns = function, list[cst.Return]()
        self.nested = list[cst.FunctionDef]()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        if node is not self.function:
            self.nested.append(node)
        return node is self.function

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_Return(self, node: cst.Return) -> None:
        self.returns.append(node)


def _own(function: cst.FunctionDef) -> _Own:
    own = _Own(function)
    function.visit(own)
    return own


def _mutated_functions(function: cst.FunctionDef) -> list[cst.FunctionDef]:
    """``function``, and the nested functions it returns (a factory's closure)."""
    own = _own(function)
    returned = {r.value.value for r in own.returns if isinstance(r.value, cst.Name)}
    return [function, *(f for f in own.nested if f.name.value in returned)]


def _returned_costs(function: cst.FunctionDef) -> set[str]:
    """The names a cost function returns first (``total`` in ``return total, grads``)."""
    if not is_cost_function(function.name.value):
        return set()
    names = set()
    for node in _own(function).returns:
        value = node.value
        first = value.elements[0].value if isinstance(value, cst.Tuple) and value.elements \
            else value
        if isinstance(first, cst.Name):
            names.add(first.value)
    return names


class _Finder(cst.CSTVisitor):
    """Every gradient and cost expression of a function, in source order (module docstring)."""

    def __init__(self, function: cst.FunctionDef) -> None:
        super().__init__()
        self.mutated = _mutated_functions(function)
        self.costs = set().union(*map(_returned_costs, self.mutated))
        self.defs: list[cst.FunctionDef] = []
        self.statements: list[cst.BaseStatement] = []
        self.dicts: dict[cst.Dict, str] = {}  # displays whose string keys are gradients
        self.found: list[_Root] = []

    def add(self, holder: cst.CSTNode, value: cst.BaseExpression, shown: str, key: str, *,
            whole: bool = True, role: str = "gradient") -> None:
        if self.statements and number(value) != 0:
            self.found.append(_Root(self.statements[-1], holder, value, shown, key, whole, role))

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self.statements.append(node)

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine) -> None:
        self.statements.pop()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        if any(node is f for f in self.mutated):
            self.defs.append(node)
            return True
        return False

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        if self.defs and self.defs[-1] is original_node:
            self.defs.pop()

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def assigned(self, holder: cst.CSTNode, target: cst.BaseExpression,
                 value: cst.BaseExpression) -> None:
        found = _target(target)
        if found is not None:
            if isinstance(value, cst.Dict) and _is_container(target):
                self.dicts[value] = found[0]
            elif not isinstance(value, _DISPLAYS):  # grads = backward(...): a dict, inside only
                self.add(holder, value, *found,
                         whole=not (_is_container(target) and _calls_backward(value)))
            if isinstance(target, cst.Subscript) and _target(target.value) is not None:
                for element in target.slice:   # dx[x <= 0] = 0: the mask is mutated
                    index = element.slice
                    if isinstance(index, cst.Index) and not isinstance(index.value, _STRINGS) \
                            and _key(index.value) is None:
                        self.add(holder, index.value, *_target(target.value) or found,
                                 whole=False)
        elif isinstance(target, cst.Name) and not isinstance(value, _DISPLAYS) and (
                is_cost_name(target.value) or target.value in self.costs):
            self.add(holder, value, target.value, target.value, role="cost")

    def visit_Assign(self, node: cst.Assign) -> None:
        if len(node.targets) != 1:
            return
        target, value = node.targets[0].target, node.value
        if not isinstance(target, (cst.Tuple, cst.List)):
            self.assigned(node, target, value)
            return
        elements = [e.value for e in target.elements]
        found = [_target(e) for e in elements]
        if not any(found) or any(isinstance(e, cst.StarredElement) for e in target.elements):
            return
        if isinstance(value, (cst.Tuple, cst.List)) and len(value.elements) == len(elements):
            for each, element in zip(found, value.elements):
                if each is not None and not isinstance(element.value, _DISPLAYS):
                    self.add(node, element.value, *each)
        elif not isinstance(value, _DISPLAYS):
            shown = ", ".join(code(e) for e in elements)
            self.add(node, value, shown, "", whole=False)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self.assigned(node, node.target, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self.assigned(node, node.target, node.value)

    def visit_Return(self, node: cst.Return) -> None:
        name = self.defs[-1].name.value if self.defs else ""
        value = node.value
        elements = [e.value for e in value.elements] if isinstance(value, cst.Tuple) \
            else [value] if value is not None else []
        if is_backward_function(name):
            for k, element in enumerate(elements):
                shown = f"{name}()" if len(elements) == 1 else f"{name}()[{k}]"
                if isinstance(element, cst.Dict):
                    self.dicts[element] = shown
                elif not isinstance(element, (cst.Name, *_DISPLAYS)):
                    self.add(node, element, shown, "", whole=not _calls_backward(element))
        elif is_cost_function(name) and elements:
            if not isinstance(elements[0], (cst.Name, *_DISPLAYS)):
                self.add(node, elements[0], f"{name}()", "", role="cost")
            for element in elements[1:]:
                if isinstance(element, cst.Dict):
                    self.dicts[element] = f"{name}()"

    def visit_Dict(self, node: cst.Dict) -> None:
        container = self.dicts.get(node)
        for element in node.elements:
            if not isinstance(element, cst.DictElement) or isinstance(element.value, cst.Name):
                continue
            found = _key(element.key)
            if found is None and container is not None \
                    and isinstance(element.key, cst.SimpleString):
                key = element.key.evaluated_value
                found = f"{container}[{code(element.key)}]", key if isinstance(key, str) else ""
            if found is not None:
                self.add(element, element.value, *found)


def expression_sites(function: cst.FunctionDef, source: FunctionSource,
           positions: Mapping[cst.CSTNode, Any]) -> Iterator[tuple[cst.BaseStatement, Site]]:
    """Every node of every gradient and cost expression, with its context and its
    statement, in source order."""
    bound_at = bound_lines(source)
    finder = _Finder(function)
    function.visit(finder)
    for root in finder.found:
        line = positions[root.holder].start.line
        bound = frozenset(name for name, first in bound_at.items() if first < line)
        stack: list[tuple[cst.CSTNode, tuple[cst.CSTNode, ...]]] = [
            (root.expression, (root.holder,))]
        while stack:
            node, ancestors = stack.pop()
            if isinstance(node, (cst.Lambda, cst.FunctionDef)):
                continue
            if node in positions and not _joins_strings(node):
                yield root.statement, Site(
                    node, ancestors, is_root=root.whole and node is root.expression,
                    target=root.target, bound=bound, numpy=source.numpy, key=root.key,
                    role=root.role)
            children = list(node.children)
            stack.extend((child, (*ancestors, node)) for child in reversed(children))
