"""The mutation engine: the source of one function in, mutants out. No file is written.

The engine parses the function (its :class:`~gcverify.mutation.source.FunctionSource`)
with libcst (which keeps every space and comment, so a mutant's diff shows only the
change), finds its *gradient expressions* (and its *cost expressions*) and offers each
node of them to every operator of :data:`~gcverify.mutation.operators.OPERATORS`.
Each proposed change becomes a :class:`Mutant`: a stable id, its operator and family,
its line, a unified diff, and the mutated source, which :meth:`Mutant.compile` turns
into a function in memory.

What is mutated
---------------
The function is a top-level function or a method (``TwoLayerNet.loss``). Functions and
lambdas nested in it are left alone, except a nested function it returns (a factory,
``def make_loss(X, y): def loss(params): ...; return loss``), which is mutated with it.
Names are judged by :mod:`gcverify.mutation.operators.names`: a *gradient name* is
``d`` + a capital or ``_`` (``dW1``, ``dA_prev``), ``d`` + one letter and an optional
layer number (``db``, ``dx``, ``db1``), ``d`` + a lower-case word that is no common word
(``dscores``, ``dhidden``, ``dout``, ``dprev_h``; not ``data``, ``dims``, ``dtype``,
``done``, ``dropout``, ``delta``), ``delta`` + a layer number, ``dtheta``, or a name
containing ``grad``; a *gradient container* is a name containing ``grad`` (``grads``).

A *gradient expression* is

* the right-hand side of an assignment or an augmented assignment to a gradient name
  (``dW2 = ...``, ``dscores /= N``), to an attribute with such a name (``self.dW =
  ...``), to a part of one (``dscores[np.arange(N), y] -= 1``; in ``dx[x <= 0] = 0`` the
  index ``x <= 0`` is mutated, the literal 0 is not: every change of it is equivalent),
  to a gradient key (``grads["dW1"]``, ``grads[f"dW{l}"]``, ``grads["dW" + str(l)]``)
  or to any key of a container (``grads["W2"] = ...``);
* the value of a dict entry, not a bare name, with a gradient key (``{"dW1": ...}``),
  or with any string key in a dict assigned to a container (``grads = {"W2": ...}``) or
  returned by a backward or loss function (``return loss, {"W1": ...}``);
* the value assigned to a tuple holding a gradient (``dx, dw, db = affine_backward(dout,
  cache)``), element by element if it is a tuple display, else mutated *inside* only
  (its arguments: × 2 of a tuple is no gradient bug);
* what a *backward function* (its name contains ``backward``) returns, if not a bare
  name: ``return dout * (cache > 0)``, each element of ``return dx.T, dw``.

A call of a backward function that is returned, or assigned to a container (``grads =
L_model_backward(...)``), is mutated inside only: it returns several gradients. A key
being built (``"dA" + str(l + 1)``) is no arithmetic: its ``+`` is left alone, its
parts are not (``l + 1 -> l - 1``).

A *cost expression* is the value assigned to a cost name (``cost``, ``loss``,
``data_loss``, ``J``, ``log_probs``...) or to the name a *cost function* (its name
contains ``cost`` or ``loss``) returns first (``total`` in ``return total, grads``), or
what a cost function returns (``compute_cost``'s ``return``). Only the operators
registered for costs (:attr:`~gcverify.mutation.operators.Operator.roles`) see them:
the cross-entropy's ``(1 - Y)`` term and the regularisation term dropped. To plant
such a bug, mutate the function that computes the cost: the forward pass, the cost
function (``compute_cost``) or the loss-and-grads function (a ``loss`` method, or the
factory ``make_loss`` of a closure).

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

import difflib
import hashlib
import itertools
import re
import textwrap
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import libcst as cst
import libcst.metadata as metadata

from gcverify.errors import invalid_argument
from gcverify.mutation.operators import OPERATORS, Operator
from gcverify.mutation.operators.base import Site, parenthesized, precedence
from gcverify.mutation.operators.names import GRADIENT_NAME, is_gradient_name
from gcverify.mutation.operators.sites import expression_sites
from gcverify.mutation.source import (
    FunctionSource,
    changed_lines,
    compile_source,
    is_valid_python,
    unified_diff,
    with_newline,
)

__all__ = [
    "GRADIENT_NAME",
    "Mutant",
    "combine_mutants",
    "custom_mutant",
    "is_gradient_name",
    "mutate",
    "mutate_function",
]


# --- mutants -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Mutant:
    """One mutated version of a function.

    ``id`` is ``<operator>-L<line>-<hash>``, where the hash covers the function's
    name, the operator and the changed lines before and after: the same mutant gets
    the same id in every run, and keeps it when other lines of the file change
    (except its own line number). ``diff`` is a unified diff of the change with the
    file's line numbers; ``mutated`` is the whole mutated function. ``role`` is
    ``"cost"`` for a change of a cost expression: it shows in the numerical gradient,
    not in the function's analytic one (which stays the original's), so it is judged
    equivalent only if the cost is; else ``"gradient"``.

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
    role: str = "gradient"

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
    sites = list(expression_sites(function, source, positions))
    seen = {source.text}
    mutants = []
    for operator in operators:
        for statement, site in sites:
            if site.role not in operator.roles:
                continue
            for change in operator(site.node, site):
                replacement = _fit(site, change.replacement)
                changed = statement.deep_replace(site.node, cast(Any, replacement))
                mutated = partials[statement].get_modified_module_code(changed)
                if mutated in seen:
                    continue
                seen.add(mutated)
                if not is_valid_python(mutated):
                    warnings.warn(f"operator {operator.name} made invalid code at line "
                                  f"{source.first_line + positions[site.node].start.line - 1}"
                                  "; the mutant is skipped", RuntimeWarning, stacklevel=2)
                    continue
                start = positions[site.node].start
                mutants.append(_mutant(source, mutated, operator.name, operator.family,
                                       re.sub(r"\s*\n\s*", " ", change.description),
                                       source.first_line + start.line - 1,
                                       start.column + len(source.indent), site.role))
    return tuple(mutants)


def custom_mutant(source: FunctionSource, mutated: str, *, operator: str = "custom",
                  family: str = "custom", description: str = "") -> Mutant:
    """A hand-written mutant of ``source``: any code for the same function.

    >>> source = FunctionSource.from_text("def f(x):\\n    return x + 1\\n", "f")
    >>> custom_mutant(source, "def f(x):\\n    return x + 2\\n").line
    2
    """
    mutated = with_newline(textwrap.dedent(mutated))
    if not is_valid_python(mutated):
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


def _mutant(source: FunctionSource, mutated: str, operator: str, family: str,
            description: str, line: int, column: int, role: str = "gradient") -> Mutant:
    removed, added = changed_lines(source.text, mutated)
    digest = hashlib.sha256("\n".join([source.name, operator, *removed, "\0", *added])
                            .encode("utf-8")).hexdigest()[:8]
    return Mutant(id=f"{operator}-L{line}-{digest}", operator=operator, family=family,
                  line=line, column=column, description=description,
                  diff=unified_diff(source, mutated), mutated=mutated, original=source,
                  role=role)
