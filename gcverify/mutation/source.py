"""Where a mutated function comes from, and how a version of it is compiled.

:class:`FunctionSource` holds the source of one top-level function (from a live
function, from a file that is read and never written, or from text) with what a mutant
needs to compile the way the original did: its file line, its indentation, numpy's
name in its module, its ``__future__`` flags. :func:`compile_source` turns a version
of that text into a function, in memory; :func:`display_path` names files in reports.
The engine reads the text with :func:`bound_lines` (where each local name is bound),
:func:`is_valid_python`, :func:`changed_lines` and :func:`unified_diff`.

>>> source = FunctionSource.from_text("def f(x):\\n    return x + 1\\n", "f")
>>> compile_source(source, "def f(x):\\n    return x * 2\\n", {})(3)
6
"""

from __future__ import annotations
import __future__

import ast
import difflib
import inspect
import linecache
import re
import textwrap
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gcverify.errors import invalid_argument

__all__ = [
    "FunctionSource",
    "bound_lines",
    "changed_lines",
    "compile_source",
    "display_path",
    "is_valid_python",
    "unified_diff",
    "with_newline",
]

_PACKAGE_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class FunctionSource:
    """The source of one top-level function, and where it lives.

    ``text`` is the function's code (decorators included), dedented, ending in a
    newline; ``first_line`` is the file line of its first line; ``path`` is how the
    file is shown in diffs and reports; ``numpy`` is the name the function's module
    gives numpy (``"np"``); ``future_flags`` the ``__future__`` compiler flags the
    module uses, so that a mutant compiles the way the original did.

    >>> from gcverify.models import notebook as nb
    >>> source = FunctionSource.from_function(nb.backward_propagation_n)
    >>> source.name, source.path, source.numpy
    ('backward_propagation_n', 'gcverify/models/notebook.py', 'np')
    """

    name: str
    text: str
    path: str = "<string>"
    first_line: int = 1
    indent: str = ""
    numpy: str | None = None
    future_flags: int = 0

    @classmethod
    def from_function(cls, function: Callable[..., Any], *, path: str | None = None
                      ) -> FunctionSource:
        """The source of ``function`` (a plain Python function defined in a file)."""
        if not isinstance(function, types.FunctionType):
            raise invalid_argument("function", function, "is not a plain Python function",
                                   "pass a function defined with def in a .py file")
        if function.__code__.co_freevars:
            raise invalid_argument("function", function,
                                   f"is a closure over {', '.join(function.__code__.co_freevars)}",
                                   "mutate a top-level function (its mutants are compiled "
                                   "in the module's namespace)")
        try:
            lines, first_line = inspect.getsourcelines(function)
        except (OSError, TypeError) as error:
            raise invalid_argument("function", function, f"has no source ({error})",
                                   "define it in a .py file, or use FunctionSource.from_text"
                                   ) from None
        raw = "".join(lines)
        text = textwrap.dedent(raw)
        indent = raw[: len(raw) - len(raw.lstrip())].split("\n")[-1] if raw != text else ""
        file = inspect.getsourcefile(function) or "<string>"
        module_text = "".join(linecache.getlines(file)) if file != "<string>" else ""
        return cls(
            name=function.__name__, text=with_newline(text),
            path=path if path is not None else display_path(file),
            first_line=max(first_line, 1), indent=indent,
            numpy=_numpy_alias(function.__globals__, text),
            future_flags=_future_flags(function.__code__.co_flags, module_text))

    @classmethod
    def from_file(cls, path: str | Path, name: str, *, shown_as: str | None = None,
                  namespace: Mapping[str, Any] | None = None) -> FunctionSource:
        """The top-level function ``name`` of the file at ``path`` (read, never written),
        or the method ``Class.method`` of a top-level class.

        >>> from gcverify.models import mlp
        >>> source = FunctionSource.from_file(mlp.__file__, "MLP.backward")
        >>> source.name, source.indent, source.text.splitlines()[0]
        ('backward', '    ', 'def backward(self, X: np.ndarray, Y: np.ndarray,')
        """
        file = Path(path)
        try:
            module_text = file.read_text(encoding="utf-8")
        except OSError as error:
            raise invalid_argument("path", str(path), f"cannot be read ({error.strerror})",
                                   "pass the path of an existing .py file") from None
        try:
            tree = ast.parse(module_text, filename=str(file))
        except SyntaxError as error:
            raise invalid_argument("path", str(path), f"is not valid Python ({error.msg}, "
                                   f"line {error.lineno})", "fix the file first") from None
        node = _definition(tree, name, path)
        first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        lines = module_text.splitlines(keepends=True)[first - 1: node.end_lineno]
        raw = "".join(lines)
        text = textwrap.dedent(raw)
        indent = raw[: len(raw) - len(raw.lstrip())].split("\n")[-1] if raw != text else ""
        return cls(name=node.name, text=with_newline(text),
                   path=shown_as if shown_as is not None else str(path), first_line=first,
                   indent=indent, numpy=_numpy_alias(namespace or {}, text),
                   future_flags=_future_flags(0, module_text))

    @classmethod
    def from_text(cls, text: str, name: str, **fields: Any) -> FunctionSource:
        """A function given as text (``path``, ``first_line``, ``numpy`` optional).

        >>> FunctionSource.from_text("def f(dZ):\\n    dW = dZ * 2\\n", "f").numpy is None
        True
        """
        text = with_newline(textwrap.dedent(text))
        fields.setdefault("numpy", _numpy_alias({}, text))
        return cls(name=name, text=text, **fields)


_Definition = ast.FunctionDef | ast.AsyncFunctionDef


def _definition(tree: ast.Module, name: str, path: str | Path) -> _Definition:
    """The function ``name`` (or ``Class.method``) defined at the top of ``tree``."""
    scope: list[ast.stmt] = tree.body
    *classes, function = name.split(".")
    for part in classes:
        found_classes = [n for n in scope if isinstance(n, ast.ClassDef) and n.name == part]
        if not found_classes:
            raise invalid_argument("name", name, f"is not a function of {path}: it has no "
                                   f"class {part}", "use Class.method for a method")
        scope = found_classes[-1].body
    found = [node for node in scope
             if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
             and node.name == function]
    if not found:
        names = sorted(node.name for node in scope
                       if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)))
        where = f"a method of {'.'.join(classes)}" if classes else "a top-level function"
        raise invalid_argument("name", name, f"is not {where} of {path}",
                               f"use one of {', '.join(names) or '(none defined)'}")
    return found[-1]  # the last definition wins, as when the module runs


def display_path(file: str) -> str:
    """How a file is named in reports: relative to gcverify's root if it ships with
    gcverify, else relative to the working directory if inside it, else absolute."""
    resolved = Path(file).resolve()
    for root in (_PACKAGE_ROOT, Path.cwd()):
        try:
            return resolved.relative_to(root).as_posix()
        except ValueError:
            continue
    return resolved.as_posix()


def with_newline(text: str) -> str:
    """``text``, ending in a newline."""
    return text if text.endswith("\n") else text + "\n"


def _numpy_alias(namespace: Mapping[str, Any], text: str) -> str | None:
    """The name under which numpy is reachable: from the namespace, else from the text."""
    import numpy

    aliases = sorted(name for name, value in namespace.items() if value is numpy)
    if aliases:
        return "np" if "np" in aliases else aliases[0]
    for alias in ("np", "numpy"):
        if re.search(rf"\b{alias}\.", text):
            return alias
    return None


def _future_flags(code_flags: int, module_text: str) -> int:
    flag = __future__.annotations.compiler_flag
    uses = bool(code_flags & flag) or bool(
        re.search(r"^from __future__ import [^\n]*\bannotations\b", module_text, re.M))
    return flag if uses else 0


def compile_source(source: FunctionSource, text: str, namespace: Mapping[str, Any], *,
                   label: str = "mutant") -> Callable[..., Any]:
    """Compile ``text`` (a version of ``source``'s function) into a function, in memory.

    The code is executed in a shallow copy of ``namespace`` (the original module's
    globals), so the module itself is not touched; it keeps the file's line numbers
    and its traceback lines show the mutated code.

    >>> source = FunctionSource.from_text("def f(x):\\n    return x + 1\\n", "f")
    >>> compile_source(source, "def f(x):\\n    return x - 1\\n", {})(3)
    2
    """
    filename = f"<gcverify {label} of {source.path}>"
    padded = "\n" * (source.first_line - 1) + text
    code = compile(padded, filename, "exec", flags=source.future_flags, dont_inherit=True)
    scope = dict(namespace)
    exec(code, scope)
    linecache.cache[filename] = (len(padded), None, padded.splitlines(keepends=True), filename)
    function = scope.get(source.name)
    if not callable(function):
        raise invalid_argument("text", text[:40], f"does not define {source.name}()",
                               "pass a version of the same function")
    return function


# --- reading a version of the text ------------------------------------------------------------

def is_valid_python(text: str) -> bool:
    """Does ``text`` parse?"""
    try:
        ast.parse(text)
    except SyntaxError:
        return False
    return True


def changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    """The lines removed from ``before`` and added in ``after``, stripped."""
    a, b = before.splitlines(), after.splitlines()
    removed, added = [], []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag != "equal":
            removed += [line.strip() for line in a[i1:i2]]
            added += [line.strip() for line in b[j1:j2]]
    return removed, added


def unified_diff(source: FunctionSource, mutated: str) -> str:
    """A unified diff of ``source`` and ``mutated``, with the file's line numbers and no
    context lines."""
    pad = ["\n"] * (source.first_line - 1)
    before = pad + textwrap.indent(source.text, source.indent).splitlines(keepends=True)
    after = pad + textwrap.indent(mutated, source.indent).splitlines(keepends=True)
    lines = difflib.unified_diff(before, after, fromfile=f"a/{source.path}",
                                 tofile=f"b/{source.path}", n=0)
    return "".join(lines).rstrip("\n")


def bound_lines(source: FunctionSource) -> dict[str, int]:
    """For every local name of the function: the (function-relative) line where it is
    first bound (0 for parameters). The parameters of a nested function the function
    returns (a factory's ``def loss(params): ...; return loss``) count from its ``def``.

    >>> text = "def f(X):\\n    def g(p):\\n        h = p\\n        return h\\n    return g\\n"
    >>> sorted(bound_lines(FunctionSource.from_text(text, "f")).items())
    [('X', 0), ('h', 3), ('p', 2)]
    """
    tree = ast.parse(source.text)
    definition = next(node for node in tree.body
                      if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                      and node.name == source.name)
    first: dict[str, int] = dict.fromkeys(_parameters(definition), 0)
    returned = {node.value.id for node in _own_returns(definition)
                if isinstance(node.value, ast.Name)}
    for statement in definition.body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)) \
                and statement.name in returned:
            for name in _parameters(statement):
                first.setdefault(name, statement.lineno)
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


def _parameters(definition: _Definition) -> list[str]:
    arguments = definition.args
    return [arg.arg for arg in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs,
                                *filter(None, (arguments.vararg, arguments.kwarg)))]


def _own_returns(definition: _Definition) -> list[ast.Return]:
    """The return statements of ``definition`` itself, not of functions nested in it."""
    found: list[ast.Return] = []
    stack: list[ast.AST] = list(definition.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Return):
            found.append(node)
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                                   ast.Lambda)):
            stack.extend(ast.iter_child_nodes(node))
    return found
