"""Where a mutated function comes from, and how a version of it is compiled.

:class:`FunctionSource` holds the source of one top-level function (from a live
function, from a file that is read and never written, or from text) with what a mutant
needs to compile the way the original did: its file line, its indentation, numpy's
name in its module, its ``__future__`` flags. :func:`compile_source` turns a version
of that text into a function, in memory; :func:`display_path` names files in reports.

>>> source = FunctionSource.from_text("def f(x):\\n    return x + 1\\n", "f")
>>> compile_source(source, "def f(x):\\n    return x * 2\\n", {})(3)
6
"""

from __future__ import annotations
import __future__

import ast
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

__all__ = ["FunctionSource", "compile_source", "display_path", "with_newline"]

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
        """The top-level function ``name`` of the file at ``path`` (read, never written)."""
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
        found = [node for node in tree.body
                 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                 and node.name == name]
        if not found:
            names = sorted(node.name for node in tree.body
                           if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)))
            raise invalid_argument("name", name, f"is not a top-level function of {path}",
                                   f"use one of {', '.join(names) or '(none defined)'}")
        node = found[-1]  # the last definition wins, as when the module runs
        first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        lines = module_text.splitlines(keepends=True)[first - 1: node.end_lineno]
        text = "".join(lines)
        return cls(name=name, text=with_newline(text),
                   path=shown_as if shown_as is not None else str(path), first_line=first,
                   numpy=_numpy_alias(namespace or {}, text),
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
