"""Exceptions raised by gcverify.

Every message about bad input has the same shape, borrowed from Hypothesis: what is
wrong in ``name=value`` form, then how to fix it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["GCVerifyError", "InvalidArgument", "describe_value", "invalid_argument"]


class GCVerifyError(Exception):
    """Base class of every error gcverify raises on purpose."""


class InvalidArgument(GCVerifyError, TypeError, ValueError):
    """An argument is malformed: wrong type, shape, dtype, key or value.

    It subclasses both :class:`TypeError` and :class:`ValueError`, so code that
    already catches either keeps working.

    Examples
    --------
    >>> raise invalid_argument("epsilon", -1.0, "must be positive", "pass e.g. epsilon=1e-7")
    Traceback (most recent call last):
    ...
    gcverify.errors.InvalidArgument: epsilon=-1.0 must be positive; pass e.g. epsilon=1e-7

    The parts are kept (``argument``, ``value``, ``problem``, ``fix``), so that a front
    end can name the argument its own way (the CLI says ``--epsilon``).
    """

    def __init__(self, message: str, *, argument: str | None = None, value: str = "",
                 problem: str = "", fix: str = "") -> None:
        super().__init__(message)
        self.argument = argument
        self.value = value
        self.problem = problem
        self.fix = fix

    def renamed(self, names: Mapping[str, str]) -> InvalidArgument:
        """The same error with the argument (and its mentions in the fix) renamed.

        >>> error = invalid_argument("path", "x.py", "does not exist", "pass a file")
        >>> str(error.renamed({"path": "FILE"}))
        "FILE='x.py' does not exist; pass a file"
        """
        if self.argument is None:
            return self
        root = self.argument.split("[", 1)[0].split(".", 1)[0]
        if root not in names:
            return self
        name = names[root] + self.argument[len(root):]
        fix = self.fix
        for old, new in names.items():
            # "pass e.g. epsilon=1e-7" becomes "pass e.g. --epsilon 1e-7"
            separator = " " if new.startswith("-") else "="
            fix = re.sub(rf"\b{re.escape(old)}=", new + separator, fix)
        return invalid_argument(name, _Shown(self.value), self.problem, fix)


def describe_value(value: Any, limit: int = 60) -> str:
    """A short, readable rendering of ``value`` for an error message.

    Arrays are described by shape and dtype rather than printed; dtypes and shapes
    print as numpy writes them; everything else is a shortened ``repr``.

    >>> import numpy as np
    >>> describe_value(np.zeros((2, 3), dtype=np.float32))
    'array(shape=(2, 3), dtype=float32)'
    >>> describe_value(np.dtype("int64"))
    'int64'
    """
    import numpy as np  # here, so that importing gcverify.errors stays cheap

    if isinstance(value, np.ndarray):
        return f"array(shape={value.shape}, dtype={value.dtype})"
    if isinstance(value, (list, tuple)) and any(isinstance(v, np.ndarray) for v in value):
        shown = ", ".join(describe_value(v) for v in value[:2])
        more = ", ..." if len(value) > 2 else ""
        return f"[{shown}{more}]" if isinstance(value, list) else f"({shown}{more})"
    if isinstance(value, np.dtype):
        return str(value)
    if callable(value) and hasattr(value, "__qualname__"):
        return value.__qualname__
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def invalid_argument(name: str, value: Any, problem: str, fix: str) -> InvalidArgument:
    """Build an :class:`InvalidArgument` reading ``name=value problem; fix``."""
    shown = value.text if isinstance(value, _Shown) else describe_value(value)
    return InvalidArgument(f"{name}={shown} {problem}; {fix}", argument=name, value=shown,
                           problem=problem, fix=fix)


class _Shown:
    """A value already described (kept as is when an error is renamed)."""

    def __init__(self, text: str) -> None:
        self.text = text
