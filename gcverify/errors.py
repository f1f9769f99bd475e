"""Exceptions raised by gcverify.

Every message about bad input has the same shape, borrowed from Hypothesis: what is
wrong in ``name=value`` form, then how to fix it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

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
    """


def describe_value(value: Any, limit: int = 60) -> str:
    """A short, readable rendering of ``value`` for an error message.

    Arrays are described by shape and dtype rather than printed; dtypes and shapes
    print as numpy writes them; everything else is a shortened ``repr``.

    >>> describe_value(np.zeros((2, 3), dtype=np.float32))
    'array(shape=(2, 3), dtype=float32)'
    >>> describe_value(np.dtype("int64"))
    'int64'
    """
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
    return InvalidArgument(f"{name}={describe_value(value)} {problem}; {fix}")
