"""How surely k random directions catch a wrong gradient in a block.

Write the error of a block's gradient as ``δ = g - ∇J = α ∇J + δ⊥`` with ``δ⊥ ⊥ ∇J``,
and ``ρ = ‖δ⊥‖ / ‖∇J‖`` its relative size beside the gradient. The directional check
(:mod:`gcverify.directional`) judges the k projections ``a = Pg``, ``n ≈ P∇J`` (``P``
stacks the k directions) by the verdict's rule ``‖a - n‖ > t (‖a‖ + ‖n‖) + ‖e‖``.

* A scaling ``g = κ ∇J`` (ρ = 0) gives ``a = κ n`` on every direction: the block FAILs
  whichever directions are drawn as soon as ``|κ - 1| / (|κ| + 1) > t + r`` (``r`` the
  block's resolution ``‖e‖ / (‖a‖ + ‖n‖)``): a ×2 (1/3), a ×4 (0.6), a sign (1).
* Otherwise a block that passes has ``‖Pδ‖ ≤ t (‖Pg‖ + ‖P∇J‖) + ‖e‖``, hence (with
  ``‖Pg‖ ≤ ‖P∇J‖ + ‖Pδ‖``) ``‖Pδ‖ ≤ c ‖P∇J‖`` with ``c = 2 (t + r) / (1 - t - r)``
  (:func:`margin`). For Gaussian directions ``X = P∇J`` and ``Pδ⊥`` are independent
  normal vectors, so given ``X``, ``Pδ = αX + Pδ⊥`` must fall in a ball of radius
  ``c ‖X‖`` around ``-αX``; by Anderson's inequality that is at most as likely as the
  centred ball: ``P(χ²_k ≤ (c/ρ)² χ²_X) ≤ ((c/ρ)² χ²_X / 2)^{k/2} / Γ(k/2 + 1)``.
  Averaging over ``χ²_X`` (``E χ_k^k = 2^{k/2} Γ(k) / Γ(k/2)``)::

      P(the k directions all miss) ≤ C_k (c / ρ)^k,   C_k = Γ(k) / (Γ(k/2) Γ(k/2 + 1))

  (:func:`miss_probability`). ``C_1 = 2/π``: one direction alone misses with
  probability at most ``(2/π) c / ρ``; ``C_8 = 35``. Both bounds are tight for small
  ``c/ρ`` (for k = 1 the miss probability is ``(2/π) arctan(c/ρ)``).

With the notebook's ``t = 2e-7``, negligible error bars and k = 8, an error of relative
size ρ ≥ 1.5e-6 is missed with probability ≤ 0.1 % (:func:`smallest_caught`).

>>> f"{smallest_caught(8, margin(2e-7, 0.0)):.2g}"
'1.5e-06'
"""

from __future__ import annotations

import math

__all__ = ["QUOTED_MISS", "margin", "miss_probability", "smallest_caught"]

#: The miss probability a result quotes its smallest caught error for.
QUOTED_MISS = 1e-3


def _c_k(k: int) -> float:
    return math.exp(math.lgamma(k) - math.lgamma(k / 2) - math.lgamma(k / 2 + 1))


def margin(threshold: float, resolution: float) -> float:
    """``c = 2 (t + r) / (1 - t - r)``: a passing block's ``‖Pδ‖ / ‖P∇J‖`` is at most c.

    >>> round(margin(2e-7, 0.0), 12)
    4e-07
    """
    slack = threshold + (resolution if math.isfinite(resolution) else math.inf)
    return 2 * slack / (1 - slack) if slack < 1 else math.inf


def miss_probability(rho: float, k: int, c: float) -> float:
    """Upper bound on the probability that k Gaussian directions all miss an error of
    relative size ``rho`` (beside the gradient) in a block, with ``c`` from
    :func:`margin`: ``C_k (c / rho)^k`` (1 at most).

    >>> round(miss_probability(0.1, 1, 0.01), 4)           # (2/π) c/ρ
    0.0637
    >>> miss_probability(1e-3, 8, margin(2e-7, 0.0)) < 1e-20
    True
    """
    if not rho > 0 or not math.isfinite(c):
        return 1.0
    return min(1.0, _c_k(k) * (c / rho) ** k)


def smallest_caught(k: int, c: float, miss: float = QUOTED_MISS) -> float:
    """The smallest relative error ρ that k directions miss with probability ≤ ``miss``.

    >>> f"{smallest_caught(8, margin(2e-7, 0.0)):.2g}"
    '1.5e-06'
    """
    return c * (_c_k(k) / miss) ** (1 / k)

