"""The mutation engine: the source of one function in, mutants out. No file is written.

The engine parses the function (its :class:`~gcverify.mutation.source.FunctionSource`)
with libcst (which keeps every space and comment, so a mutant's diff shows only the
change), finds its *gradient expressions* and offers each node of them to every
operator of :data:`~gcverify.mutation.operators.OPERATORS`.
Each proposed change becomes a :class:`Mutant`: a stable id, its operator and family,
its line, a unified diff, and the mutated source, which :meth:`Mutant.compile` turns
into a function in memory.

A gradient expression is the right-hand side of an assignment to a gradient-like name
(``dW2 = ...``, ``dZ = ...``, ``grads["dW1"] = ...``, ``dW += ...``) or the value of a
dict entry with a gradient-like key (``{"dW1": ...}``) that is not a bare name. A name is
gradient-like when it matches :data:`GRADIENT_NAME`: the notebook's ``d`` + a capital
(``dW1``, ``dA_prev``), ``d`` + one letter and an optional layer number (``db``,
``db1``), ``dtheta``, or a name containing ``grad``.

Examples
--------
>>> from gcverify.models import notebook as nb
>>> mutants = mutate_function(nb.backward_propagation_n)
>>> mutant = next(m for m in mutants if m.operator == "scale_by_two" and "dW2" in m.description)
>>> print(mutant.diff)
--- a/gcverify/models/notebook.py
+++ b/gcverify/models/notebook.py
@@ -... @@
-    dW2 = 1. / m * np.dot(dZ2, A1.T)
+    dW2 = 1. / m * np.dot(dZ2, A1.T) * 2
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import itertools
import re
import textwrap
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import libcst as cst
import libcst.metadata as metadata

from gcverify.errors import invalid_argument
from gcverify.mutation.operators import OPERATORS, Operator
from gcverify.mutation.operators.base import Site, parenthesized, precedence
from gcverify.mutation.source import FunctionSource, compile_source, with_newline

__all__ = [
    "GRADIENT_NAME",
    "Mutant",
    "combine_mutants",
    "custom_mutant",
    "is_gradient_name",
    "mutate",
    "mutate_function",
]

#: Names the engine treats as gradients (see the module docstring).
GRADIENT_NAME = re.compile(r"^(d[A-Z_]\w*|d[a-z](\d\w*)?|dtheta\w*|\w*grad\w*)$")


def is_gradient_name(name: str) -> bool:
    """Does ``name`` look like a gradient (``dW1``, ``dZ``, ``dA_prev``, ``grad_W``)?

    >>> [is_gradient_name(n) for n in ("dW1", "db1", "dZ", "data", "m", "grads")]
    [True, True, True, False, False, True]
    """
    return bool(GRADIENT_NAME.match(name))


# --- mutants -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Mutant:
    """One mutated version of a function.

    ``id`` is ``<operator>-L<line>-<hash>``, where the hash covers the function's
    name, the operator and the changed lines before and after: the same mutant gets
    the same id in every run, and keeps it when other lines of the file change
    (except its own line number). ``diff`` is a unified diff of the change with the
    file's line numbers; ``mutated`` is the whole mutated function.

    >>> from gcverify.models import notebook as nb
    >>> mutant = mutate_function(nb.backward_propagation_n)[0]
    >>> mutant.summary()
    'scale_by_two-L...: dZ3 × 2 (scale, line ...)'
    """

    id: str
    operator: str
    family: str
    line: int
    column: int
    description: str
    diff: str
    mutated: str = field(repr=False)
    original: FunctionSource = field(repr=False)

    def summary(self) -> str:
        """One line: id, what changed, family and line."""
        return f"{self.id}: {self.description} ({self.family}, line {self.line})"

    def compile(self, namespace: Mapping[str, Any]) -> Callable[..., Any]:
        """The mutated function, compiled in memory in a copy of ``namespace``."""
        return compile_source(self.original, self.mutated, namespace, label=self.id)


def mutate_function(function: Callable[..., Any], *,
                    operators: Sequence[Operator] = OPERATORS) -> tuple[Mutant, ...]:
    """Every mutant the ``operators`` make of ``function``'s gradient expressions.

    Mutants come in registry order, then source order; two changes that give the
    same code are one mutant (the first operator's).

    >>> from gcverify.models import notebook as nb
    >>> len(mutate_function(nb.backward_propagation_n)) > 40
    True
    """
    return mutate(FunctionSource.from_function(function), operators=operators)


def mutate(source: FunctionSource, *, operators: Sequence[Operator] = OPERATORS
           ) -> tuple[Mutant, ...]:
    """Every mutant of the function in ``source`` (see :func:`mutate_function`).

    >>> source = FunctionSource.from_text(
    ...     "def backward(A3, Y):\\n    dZ3 = A3 - Y\\n    return dZ3\\n", "backward")
    >>> [m.description for m in mutate(source) if m.family == "sign"]
    ['A3 - Y → Y - A3 in dZ3', 'A3 - Y → A3 + Y in dZ3', 'A3 - Y → -A3 - Y in dZ3']
    """
    if not operators:
        raise invalid_argument("operators", operators, "is empty",
                               "pass at least one operator, e.g. OPERATORS")
    wrapper, function = _parse(source)
    positions = wrapper.resolve(metadata.PositionProvider)
    # Regenerates the code of one changed statement, not of the whole function.
    partials = wrapper.resolve(metadata.ExperimentalReentrantCodegenProvider)
    sites = list(_sites(function, source, positions))
    seen = {source.text}
    mutants = []
    for operator in operators:
        for statement, site in sites:
            for change in operator(site.node, site):
                replacement = _fit(site, change.replacement)
                changed = statement.deep_replace(site.node, cast(Any, replacement))
                mutated = partials[statement].get_modified_module_code(changed)
                if mutated in seen:
                    continue
                seen.add(mutated)
                if not _compiles(mutated):
                    warnings.warn(f"operator {operator.name} made invalid code at line "
                                  f"{source.first_line + positions[site.node].start.line - 1}"
                                  "; the mutant is skipped", RuntimeWarning, stacklevel=2)
                    continue
                start = positions[site.node].start
                mutants.append(_mutant(source, mutated, operator.name, operator.family,
                                       change.description,
                                       source.first_line + start.line - 1,
                                       start.column + len(source.indent)))
    return tuple(mutants)


def custom_mutant(source: FunctionSource, mutated: str, *, operator: str = "custom",
                  family: str = "custom", description: str = "") -> Mutant:
    """A hand-written mutant of ``source``: any code for the same function.

    >>> source = FunctionSource.from_text("def f(x):\\n    return x + 1\\n", "f")
    >>> custom_mutant(source, "def f(x):\\n    return x + 2\\n").line
    2
    """
    mutated = with_newline(textwrap.dedent(mutated))
    if not _compiles(mutated):
        raise invalid_argument("mutated", mutated[:40], "is not valid Python",
                               "pass the complete source of the mutated function")
    before, after = source.text.splitlines(), mutated.splitlines()
    changed = next((i for i, (a, b) in enumerate(zip(before, after)) if a != b),
                   min(len(before), len(after)))
    return _mutant(source, mutated, operator, family, description or "hand-written change",
                   source.first_line + changed, 0)


def combine_mutants(mutants: Iterable[Mutant]) -> str:
    """The source with the changes of all ``mutants`` applied (they must touch
    different lines of the same function).

    >>> from gcverify.models import notebook as nb
    >>> mutants = mutate_function(nb.backward_propagation_n)
    >>> pick = [m for m in mutants if m.description in ("dW2 × 2", "1. / m → 4. / m in db1")]
    >>> combined = combine_mutants(pick)
    >>> "* np.dot(dZ2, A1.T) * 2" in combined and "db1 = 4. / m" in combined
    True
    """
    mutants = list(mutants)
    if not mutants:
        raise invalid_argument("mutants", mutants, "is empty", "pass at least one mutant")
    source = mutants[0].original
    if any(m.original != source for m in mutants):
        raise invalid_argument("mutants", [m.id for m in mutants],
                               "mutate different functions",
                               "combine mutants of one function")
    base = source.text.splitlines(keepends=True)
    edits: list[tuple[int, int, list[str], str]] = []
    for mutant in mutants:
        new = mutant.mutated.splitlines(keepends=True)
        matcher = difflib.SequenceMatcher(a=base, b=new, autojunk=False)
        edits += [(i1, i2, new[j1:j2], mutant.id)
                  for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"]
    edits.sort(key=lambda edit: (edit[0], edit[1]))
    for (_, end, _, first), (start, _, _, second) in itertools.pairwise(edits):
        if start < end or (start == end and first != second):
            raise invalid_argument("mutants", [first, second], "change the same lines",
                                   "combine mutants that change different lines")
    result, cursor = [], 0
    for start, end, lines, _ in edits:
        result += base[cursor:start] + lines
        cursor = end
    return "".join(result + base[cursor:])


# --- internals -----------------------------------------------------------------------------

def _parse(source: FunctionSource) -> tuple[metadata.MetadataWrapper, cst.FunctionDef]:
    try:
        module = cst.parse_module(source.text)
    except cst.ParserSyntaxError as error:
        raise invalid_argument("source", source.name, f"cannot be parsed ({error.message})",
                               "pass the source of a valid Python function") from None
    wrapper = metadata.MetadataWrapper(module)
    for statement in wrapper.module.body:
        if isinstance(statement, cst.FunctionDef) and statement.name.value == source.name:
            return wrapper, statement
    raise invalid_argument("source", source.name, "does not define that function",
                           "pass the source of the function itself")


# Parents in which any expression may stand without parentheses.
_FREE_CONTEXTS = (cst.Arg, cst.Assign, cst.AugAssign, cst.AnnAssign, cst.DictElement,
                  cst.Element, cst.Return, cst.Index)


def _fit(site: Site, replacement: cst.BaseExpression) -> cst.BaseExpression:
    """Parenthesise ``replacement`` if it binds more loosely than the node it replaces."""
    if isinstance(site.parent, _FREE_CONTEXTS):
        return replacement
    if precedence(replacement) < precedence(site.node):
        return parenthesized(replacement)
    return replacement


def _compiles(text: str) -> bool:
    try:
        ast.parse(text)
    except SyntaxError:
        return False
    return True


def _mutant(source: FunctionSource, mutated: str, operator: str, family: str,
            description: str, line: int, column: int) -> Mutant:
    removed, added = _changed_lines(source.text, mutated)
    digest = hashlib.sha256("\n".join([source.name, operator, *removed, "\0", *added])
                            .encode("utf-8")).hexdigest()[:8]
    return Mutant(id=f"{operator}-L{line}-{digest}", operator=operator, family=family,
                  line=line, column=column, description=description,
                  diff=_diff(source, mutated), mutated=mutated, original=source)


def _changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    a, b = before.splitlines(), after.splitlines()
    removed, added = [], []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag != "equal":
            removed += [line.strip() for line in a[i1:i2]]
            added += [line.strip() for line in b[j1:j2]]
    return removed, added


def _diff(source: FunctionSource, mutated: str) -> str:
    """A unified diff with the file's line numbers and no context lines."""
    pad = ["\n"] * (source.first_line - 1)
    before = pad + textwrap.indent(source.text, source.indent).splitlines(keepends=True)
    after = pad + textwrap.indent(mutated, source.indent).splitlines(keepends=True)
    lines = difflib.unified_diff(before, after, fromfile=f"a/{source.path}",
                                 tofile=f"b/{source.path}", n=0)
    return "".join(lines).rstrip("\n")


def _bound_lines(function: cst.FunctionDef, source: FunctionSource) -> dict[str, int]:
    """For every local name: the (function-relative) line where it is first bound."""
    tree = ast.parse(source.text)
    definition = next(node for node in tree.body
                      if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                      and node.name == source.name)
    arguments = definition.args
    first: dict[str, int] = {
        arg.arg: 0 for arg in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs,
                               *filter(None, (arguments.vararg, arguments.kwarg)))}
    for node in ast.walk(definition):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound = [(node.id, node.lineno)]
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound = [((alias.asname or alias.name).split(".")[0], node.lineno)
                     for alias in node.names]
        else:
            continue
        for name, line in bound:
            first[name] = min(first.get(name, line), line)
    return first


def _gradient_key(node: cst.CSTNode) -> str | None:
    """The gradient a target or dict key names: ``dW2``, ``grads["dW2"]``, ``f"dW{l}"``."""
    if isinstance(node, cst.Name):
        return node.value if is_gradient_name(node.value) else None
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) and is_gradient_name(value) else None
    if isinstance(node, cst.FormattedString):
        text = "".join(part.value for part in node.parts
                       if isinstance(part, cst.FormattedStringText))
        return cst.Module([]).code_for_node(node) if text.startswith("d") else None
    if isinstance(node, cst.Subscript) and len(node.slice) == 1:
        index = node.slice[0].slice
        if isinstance(index, cst.Index):
            return _gradient_key(index.value)
    return None


_DISPLAYS = (cst.Dict, cst.List, cst.Tuple, cst.Set, cst.DictComp, cst.ListComp, cst.SetComp)


_Root = tuple[cst.BaseStatement, cst.CSTNode, cst.BaseExpression, str]


def _roots(function: cst.FunctionDef) -> Iterator[_Root]:
    """``(statement, holder, expression, gradient)`` for every gradient expression, in
    source order: ``holder`` is the assignment or dict entry, ``statement`` the line."""
    found: list[_Root] = []
    statements: list[cst.BaseStatement] = []

    class Finder(cst.CSTVisitor):
        def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
            statements.append(node)

        def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine) -> None:
            statements.pop()

        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return node is function  # nested functions are not mutated

        def visit_ClassDef(self, node: cst.ClassDef) -> bool:
            return False

        def visit_Lambda(self, node: cst.Lambda) -> bool:
            return False

        def visit_Assign(self, node: cst.Assign) -> None:
            # gradients = {...}: the entries are the gradient expressions, not the dict.
            if len(node.targets) == 1 and not isinstance(node.value, _DISPLAYS):
                key = _gradient_key(node.targets[0].target)
                if key is not None:
                    found.append((statements[-1], node, node.value, key))

        def visit_AugAssign(self, node: cst.AugAssign) -> None:
            key = _gradient_key(node.target)
            if key is not None:
                found.append((statements[-1], node, node.value, key))

        def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
            key = _gradient_key(node.target)
            if key is not None and node.value is not None:
                found.append((statements[-1], node, node.value, key))

        def visit_DictElement(self, node: cst.DictElement) -> None:
            key = _gradient_key(node.key)
            if key is not None and not isinstance(node.value, cst.Name) and statements:
                found.append((statements[-1], node, node.value, key))

    function.visit(Finder())
    return iter(found)


def _sites(function: cst.FunctionDef, source: FunctionSource,
           positions: Mapping[cst.CSTNode, Any]) -> Iterator[tuple[cst.BaseStatement, Site]]:
    """Every node of every gradient expression, with its context and its statement, in
    source order."""
    bound_at = _bound_lines(function, source)
    for statement, holder, root, target in _roots(function):
        line = positions[holder].start.line
        bound = frozenset(name for name, first in bound_at.items() if first < line)
        stack: list[tuple[cst.CSTNode, tuple[cst.CSTNode, ...]]] = [(root, (holder,))]
        while stack:
            node, ancestors = stack.pop()
            if isinstance(node, (cst.Lambda, cst.FunctionDef)):
                continue
            if node in positions:
                yield statement, Site(node, ancestors, is_root=node is root, target=target,
                                      bound=bound, numpy=source.numpy)
            children = list(node.children)
            stack.extend((child, (*ancestors, node)) for child in reversed(children))
