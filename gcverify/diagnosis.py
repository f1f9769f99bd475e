"""What kind of mismatch a failing block shows, in words a person can act on.

A block whose analytic gradient ``g`` and numerical gradient ``n`` differ is diagnosed
from their norms, the least-squares factor ``k`` with ``g ≈ k n`` and what that factor
leaves unexplained: a missing or spurious term, a scaling or sign bug, a value off by a
factor (one coordinate cannot tell more), a transposed square block.

>>> diagnose_mismatch("dW2", 2.0, 1.0, 0.0, 2.0, 0.0, 2e-7, 6)
'dW2 ≈ 2.000 × numerical (scaling bug)'
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["diagnose_mismatch", "format_factor", "is_transposed", "transposed_diagnosis"]


def diagnose_mismatch(key: str, norm_g: float, norm_n: float, norm_e: float, scale: float | None,
              residual: float, threshold: float, size: int) -> str:
    """What kind of mismatch this is, in words a person can act on."""
    if norm_g <= norm_e:
        return f"{key} = 0 while numerical ≠ 0 (missing term)"
    if scale is None or norm_n <= norm_e:
        return f"{key} ≠ 0 while numerical = 0 (spurious term)"
    if size == 1:
        # One coordinate cannot tell a scaling from any other wrong value.
        what = "wrong sign" if _within(scale, -1.0, 1e-3) else "off by that factor"
        return f"{key} = {format_factor(scale)} × numerical ({what})"
    if residual <= threshold * (norm_g + norm_n) + norm_e + 1e-6 * norm_g:
        if _within(scale, -1.0, 1e-3):
            kind = "sign bug"
        elif scale < 0:
            kind = "sign and scaling bug"
        else:
            kind = "scaling bug"
        return f"{key} ≈ {format_factor(scale)} × numerical ({kind})"
    return (f"{key} does not match numerical, and not by a common factor (best fit "
            f"{format_factor(scale)} ×, leaving {residual / norm_g:.0%} unexplained)")


def transposed_diagnosis(key: str) -> str:
    """What a square block that equals the numerical one transposed is called.

    >>> transposed_diagnosis("dW2")
    'dW2 = numerical transposed (a transposed gradient)'
    """
    return f"{key} = numerical transposed (a transposed gradient)"


def is_transposed(analytic: np.ndarray, numerical: np.ndarray, tolerance: float) -> bool:
    """Is a square block the transpose of the numerical one (within ``tolerance``, the
    threshold's share plus the error bars), and not equal to it?

    >>> n = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> is_transposed(n.T, n, 1e-9), is_transposed(n, n, 1e-9)
    (True, False)
    """
    shape = analytic.shape
    if not (len(shape) == 2 and shape[0] == shape[1] >= 2):
        return False
    if not np.all(np.isfinite(analytic)):
        return False                         # (no transpose of it can be told)
    gap = float(np.linalg.norm(analytic - numerical.T))
    return gap <= tolerance < float(np.linalg.norm(analytic - numerical))


def format_factor(k: float) -> str:
    """Enough digits to tell ``k`` from 1: ``2.000``, ``1.001``, ``1.00001``.

    >>> format_factor(2.0), format_factor(1.001), format_factor(1.00001)
    ('2.000', '1.00100', '1.000010')
    """
    digits = 3
    if k != 1 and _within(k, 1.0, 1e-2):     # then -log10|k - 1| >= 2: at least 3 digits
        digits = math.ceil(-math.log10(abs(k - 1))) + 1
    return f"{k:.{digits}f}"


def _within(x: float, target: float, tolerance: float) -> bool:
    """``|x - target| <= tolerance`` (isclose's own relative tolerance, 1e-9 of ``|x|``,
    is below ``tolerance`` wherever ``x`` is that close to a target of size 1)."""
    return math.isclose(x, target, abs_tol=tolerance)
