"""Load a user's Python file and the functions named in it, writing nothing to disk.

The file is read and compiled in memory (no ``__pycache__`` next to the user's
source), executed as a fresh module, and looked up by name.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gcverify.errors import invalid_argument

__all__ = ["load_function", "load_module"]


def load_module(path: str | Path, option: str = "FILE") -> types.ModuleType:
    """Execute the Python file at ``path`` as a new module and return it.

    The file's folder is put on ``sys.path`` while it runs, so that it can import
    its neighbours, as ``python FILE`` would.

    >>> import tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> with open(os.path.join(folder, "net.py"), "w") as f:
    ...     _ = f.write("def forward(X, Y, p):\\n    return 0.0, None\\n")
    >>> load_module(os.path.join(folder, "net.py")).forward(None, None, None)
    (0.0, None)
    >>> os.listdir(folder)
    ['net.py']
    """
    file = Path(path)
    if not file.is_file():
        raise invalid_argument(option, str(path), "is not a file",
                               "give the path of a Python file that defines your functions")
    try:
        source = file.read_text(encoding="utf-8")
        code = compile(source, str(file), "exec", dont_inherit=True)
    except (OSError, UnicodeDecodeError, SyntaxError) as error:
        raise invalid_argument(option, str(path), f"cannot be loaded ({error})",
                               "fix the file so that `python FILE` runs") from None
    module = types.ModuleType(f"gcverify_user_{file.stem}")
    module.__file__ = str(file)
    folder = str(file.resolve().parent)
    sys.path.insert(0, folder)
    try:
        exec(code, module.__dict__)
    finally:
        if sys.path and sys.path[0] == folder:
            sys.path.pop(0)
    return module


def load_function(module: types.ModuleType, name: str, option: str) -> Callable[..., Any]:
    """The callable ``name`` defined in ``module``, or a clear error naming ``option``."""
    function = getattr(module, name, None)
    if function is None:
        defined = sorted(n for n, v in vars(module).items()
                         if callable(v) and not n.startswith("_") and not isinstance(v, type)
                         and getattr(v, "__module__", None) == module.__name__)
        raise invalid_argument(option, name, f"is not defined in {module.__file__}",
                               f"use one of: {', '.join(defined) or '(no functions found)'}")
    if not callable(function):
        raise invalid_argument(option, name, "is not a function", "name a function")
    return function
