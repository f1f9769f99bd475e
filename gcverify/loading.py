"""Load a user's Python file and the functions named in it, writing nothing to disk.

Used by ``gcverify check`` and ``gcverify mutate``: the file is imported as a fresh,
privately named module with bytecode writing off, so the user's folder is left as it
was. While it is imported its folder comes first on the import path, as ``python
FILE.py`` puts it there, so that a file importing a module beside it (``from layers
import affine_backward``) imports. A file that raises when imported gives
:class:`ImportFailed` (an InvalidArgument for library callers); the command line runs
imports in a supervised child and reports the file's own exception instead
(:attr:`ImportFailed.original`), with its line.

:func:`load_function` picks a function the file defines; :func:`resolve` any callable
it holds, by a dotted name (``net.loss``, a bound method).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import sys
import types
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from gcverify.errors import InvalidArgument, invalid_argument

__all__ = ["ImportFailed", "load_function", "load_module", "resolve"]


class ImportFailed(InvalidArgument):
    """The file raised when imported; :attr:`original` is its own exception.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     file = Path(folder) / "net.py"
    ...     _ = file.write_text("1 / 0\\n")
    ...     try:
    ...         load_module(file)
    ...     except ImportFailed as error:
    ...         print(type(error.original).__name__)
    ZeroDivisionError
    """

    @property
    def original(self) -> BaseException:
        return self.__cause__ if self.__cause__ is not None else self


def load_module(path: str | Path) -> types.ModuleType:
    """Import the Python file at ``path`` as a fresh module, without writing anything.

    The module gets a private name (``gcverify_target_<stem>_<hash>``) and is
    registered in ``sys.modules`` under it, so that pickling and dataclasses work.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     file = Path(folder) / "net.py"
    ...     _ = file.write_text("WIDTH = 3\\n")
    ...     (load_module(file).WIDTH, [p.name for p in Path(folder).iterdir()])
    (3, ['net.py'])
    """
    file = Path(path)
    if not file.is_file():
        raise invalid_argument("path", str(path), "does not exist or is not a file",
                               "pass the path of the .py file that defines your functions")
    digest = hashlib.sha256(str(file.resolve()).encode()).hexdigest()[:8]
    stem = "".join(c if c.isalnum() else "_" for c in file.stem)
    name = f"gcverify_target_{stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise invalid_argument("path", str(path), "cannot be imported as a Python module",
                               "pass a .py file")
    module = importlib.util.module_from_spec(spec)
    writes_bytecode = sys.dont_write_bytecode
    sys.dont_write_bytecode = True  # leave the user's folder (and its neighbours') as it was
    sys.modules[name] = module
    try:
        with _first_on_path(file.resolve().parent):
            spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[name]
        failed = invalid_argument("path", str(path), f"raised {type(error).__name__}: {error} "
                                  "when imported", "fix the file so that it imports")
        raise ImportFailed(str(failed), argument=failed.argument, value=failed.value,
                           problem=failed.problem, fix=failed.fix) from error
    finally:
        sys.dont_write_bytecode = writes_bytecode
    return module


@contextlib.contextmanager
def _first_on_path(folder: Path) -> Iterator[None]:
    """``folder`` first on ``sys.path`` for the duration, as ``python FILE.py`` has it;
    the path is put back as it was (the modules imported from there stay imported)."""
    entry = str(folder)
    sys.path.insert(0, entry)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(entry)


def load_function(module: types.ModuleType, path: str | Path, option: str,
                  name: str) -> Callable[..., Any]:
    """The function ``name`` defined in ``module`` (loaded from ``path``), or an error
    naming ``option`` and listing the functions the file does define."""
    value = getattr(module, name, None)
    if not isinstance(value, types.FunctionType):
        defined = sorted(key for key, item in vars(module).items()
                         if isinstance(item, types.FunctionType)
                         and item.__module__ == module.__name__)
        raise invalid_argument(option, name, f"is not a function defined in {path}",
                               f"use one of {', '.join(defined) or '(none defined)'}")
    return value


def resolve(namespace: Mapping[str, Any], option: str, name: str,
            where: str = "the file") -> Callable[..., Any]:
    """The callable a dotted ``name`` reaches in ``namespace``: a function, a class, an
    object's bound method (``net.loss``); else an error naming ``option``.

    >>> class Net:
    ...     def loss(self, X, y):
    ...         return 0.0, {}
    >>> resolve({"net": Net()}, "forward", "net.loss").__name__
    'loss'
    >>> resolve({"net": Net()}, "forward", "net.los")
    Traceback (most recent call last):
    ...
    gcverify.errors.InvalidArgument: forward='net.los' is not in the file: net has no ...
    """
    head, *rest = name.split(".")
    if not all(part.isidentifier() for part in (head, *rest)):
        raise invalid_argument(option, name, "is not a name", f"pass a name, e.g. {option}="
                               "'backward' or 'net.loss'")
    if head not in namespace:
        defined = sorted(key for key, item in namespace.items()
                         if callable(item) and not key.startswith("_")
                         and getattr(item, "__module__", None) == namespace.get("__name__"))
        raise invalid_argument(option, name, f"is not a function defined in {where}",
                               f"use one of {', '.join(defined) or '(none defined)'}")
    value = namespace[head]
    for depth, part in enumerate(rest, start=1):
        if not hasattr(value, part):
            owner = ".".join([head, *rest[:depth - 1]])
            raise invalid_argument(option, name, f"is not in {where}: {owner} has no "
                                   f"attribute {part}", "check the spelling, e.g. "
                                   f"{option}='net.loss'")
        value = getattr(value, part)
    if not callable(value):
        raise invalid_argument(option, name, f"is a {type(value).__name__}, not a function",
                               "name a function or a method")
    return value
