"""Sensitivity certificates: what a check, at its point, would have caught.

A PASS says that the analytic gradient ``g`` of a block matched the numerical one ``n``
within the threshold ``t`` and the error bars ``e``. The certificate says how far ``g``
could have been off and still pass, from the very numbers the verdict used
(:func:`gcverify.verdict.judge_blocks` computes it from its per-block sums, so the two
can never disagree).

The rule (:mod:`gcverify.verdict`): a block FAILs when ``‖g - n‖ > t (‖g‖ + ‖n‖) + ‖e‖``
over its judged coordinates (Euclidean norms). Write ``d = g - n`` (the mismatch
measured) and ``M = t (‖g‖ + ‖n‖) + ‖e‖`` (the margin the rule allows).

**Any error, any direction.** Plant an error ``δ``: the check sees ``g + δ``. Since
``‖d + δ‖ ≥ ‖δ‖ - ‖d‖`` and ``‖g + δ‖ ≤ ‖g‖ + ‖δ‖``, it FAILs whenever
``‖δ‖ - ‖d‖ > t (‖g‖ + ‖δ‖) + t ‖n‖ + ‖e‖``, that is whenever

    ``‖δ‖ > (‖d‖ + M) / (1 - t)``                                  (caught)

whatever the direction of ``δ`` (``t < 0.5`` always: :class:`~gcverify.options.CheckOptions`
refuses larger thresholds). Relative to the block's gradient this is
:attr:`Sensitivity.relative_error` ``= (‖d‖ + M) / ((1 - t) ‖g‖)``. The other way,
``‖d + δ‖ ≤ ‖d‖ + ‖δ‖`` and ``‖g + δ‖ ≥ ‖g‖ - ‖δ‖`` give: the check lets ``g + δ`` through,
whatever the direction, whenever ``‖δ‖ ≤ (M - ‖d‖) / (1 + t)``
(:attr:`Sensitivity.tolerated`, 0 when the block already FAILs). Between the two, whether
an error is caught depends on its direction.

**Scalings.** ``k g`` passes iff ``‖k g - n‖ ≤ t (|k| ‖g‖ + ‖n‖) + ‖e‖``. With ``a = t ‖g‖``
and ``c = t ‖n‖ + ‖e‖`` both sides are non-negative, so squaring is exact. For ``k ≥ 0``,
put ``k = 1 + u`` and ``‖k g - n‖² = u² ‖g‖² + 2 u (g·d) + ‖d‖²``; the condition is the
quadratic ``(‖g‖² - a²) u² + 2 (g·d - a M) u + ‖d‖² - M² ≤ 0`` (written around ``k = 1``
so that a passing block's roots, ``1 ± ~t``, are found without cancellation). For
``k = -s < 0``: ``(‖g‖² - a²) s² + 2 (g·n - a c) s + ‖n‖² - c² ≤ 0``. Since
``‖g‖² - a² = (1 - t²) ‖g‖² > 0`` each side is an interval (or nothing);
:attr:`Sensitivity.scaling` is the smallest interval holding both, so every ``k`` outside
it is caught (exactly at its ends on the side of ``k = 1``).

**What certifies nothing.** When ``‖g‖ = 0`` no relative error is defined:
``relative_error`` and ``tolerated`` are ``inf`` and ``scaling`` is all of the line (every
``k g`` is ``0``) or None (no factor passes). A block that is zero within its error bars,
or too noisy (``informative`` False), gets the rule's true but useless numbers; reports
say it certifies nothing there and :attr:`gcverify.GradCheckResult.sensitivity` leaves it
out. A block with nothing judged or a non-finite gradient has no certificate (None).

The certificate is for these error bars. Before it believes a FAIL, the checker may
widen them (it probes the cost's noise, measures the backward pass's rounding), so a
planted error near the boundary can end up passing the full check: the certificate is
the verdict rule's, at the evidence the result reports.

>>> s = certificate(g2=1.0, n2=1.0, gn=1.0, gd=0.0, diff2=0.0, e2=0.0, threshold=0.01)
>>> round(s.relative_error, 6), round(s.tolerated, 6)
(0.020202, 0.019802)
>>> [round(k, 6) for k in s.scaling]
[0.980198, 1.020202]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Sensitivity", "certificate"]


@dataclass(frozen=True)
class Sensitivity:
    """What a block's check would have caught, relative to ``‖g‖`` (the block's analytic
    gradient): every error ``δ`` with ``‖δ‖ / ‖g‖ > relative_error``, in any direction;
    none with ``‖δ‖ / ‖g‖ ≤ tolerated``, in any direction; every scaling ``k g`` with ``k``
    outside ``scaling`` (None: no scaling passes, even ``k = 1``). See
    :mod:`gcverify.certificate` for the derivation.

    >>> Sensitivity(3.1e-7, (0.99999969, 1.00000031)).describe("dW2")
    'dW2: would catch any error ≥ 3.1e-07 of ‖dW2‖; a scaling outside [0.99999969, 1.00000031]'
    """

    relative_error: float
    scaling: tuple[float, float] | None
    tolerated: float = 0.0
    #: The probability with which an error of ``relative_error`` is caught: 1 when any
    #: direction is (coordinates), less when the block was judged along a few random
    #: directions (:mod:`gcverify.detection`), which an error can miss.
    confidence: float = 1.0

    def only_scalings(self) -> Sensitivity:
        """The certificate of a block checked on a sample of its coordinates: a scaling
        moves the sampled coordinates too and is caught as before, but an error elsewhere
        in the block is never seen (``relative_error`` inf, ``confidence`` 0).

        >>> sampled = Sensitivity(4e-7, (0.9999996, 1.0000004)).only_scalings()
        >>> sampled.describe("dW1").split("; ")
        ['dW1: would catch a scaling outside [0.99999960, 1.00000040]',
         'other errors only on the sampled coordinates']
        """
        return Sensitivity(math.inf, self.scaling, 0.0, 0.0)

    def describe(self, key: str) -> str:
        """One line, as the text report prints it.

        >>> line = Sensitivity(1.5e-6, (0.9999996, 1.0000004), confidence=0.999).describe("dW1")
        >>> line.split("; ")
        ['dW1: would catch an error ≥ 1.5e-06 of ‖dW1‖ with probability ≥ 99.9%',
         'a scaling outside [0.99999960, 1.00000040]']
        """
        if self.scaling is None:
            scaling = "any scaling"
        else:
            scaling = f"a scaling outside [{_factors(*self.scaling)}]"
        if self.confidence == 0:
            return f"{key}: would catch {scaling}; other errors only on the sampled coordinates"
        if not math.isfinite(self.relative_error):
            return f"{key}: certifies nothing (its gradient is zero here)"
        if self.confidence < 1:
            return (f"{key}: would catch an error ≥ {self.relative_error:.2g} of ‖{key}‖ "
                    f"with probability ≥ {self.confidence:.1%}; {scaling}")
        return f"{key}: would catch any error ≥ {self.relative_error:.2g} of ‖{key}‖; {scaling}"

    def as_dict(self) -> dict[str, object]:
        """Plain data (JSON-ready): infinities as None (JSON null)."""
        return {"relative_error": _finite(self.relative_error),
                "tolerated": _finite(self.tolerated),
                "scaling": None if self.scaling is None else [_finite(k) for k in self.scaling],
                "confidence": self.confidence}


def certificate(*, g2: float, n2: float, gn: float, gd: float, diff2: float, e2: float,
                threshold: float) -> Sensitivity:
    """The certificate of one block from the verdict's sums over its judged coordinates:
    ``g2 = ‖g‖²``, ``n2 = ‖n‖²``, ``gn = g·n``, ``gd = g·(g - n)``, ``diff2 = ‖g - n‖²``,
    ``e2 = ‖e‖²``, and the ``threshold`` t (module docstring: the derivation)."""
    t = threshold
    norm_g, norm_n, norm_d = math.sqrt(g2), math.sqrt(n2), math.sqrt(diff2)
    margin = t * (norm_g + norm_n) + math.sqrt(e2)
    if g2 == 0:
        scaling = (-math.inf, math.inf) if norm_d <= margin else None
        return Sensitivity(math.inf, scaling, math.inf)
    a, c = t * norm_g, t * norm_n + math.sqrt(e2)
    curvature = (1 - t * t) * g2
    around_one = _interval(curvature, gd - a * margin, diff2 - margin * margin)
    positive = None
    if around_one is not None and around_one[1] >= -1:
        positive = (max(1 + around_one[0], 0.0), 1 + around_one[1])
    flipped = _interval(curvature, gn - a * c, n2 - c * c)
    negative = None
    if flipped is not None and flipped[1] >= 0:
        negative = (-flipped[1], -max(flipped[0], 0.0))
    found = [part for part in (negative, positive) if part is not None]
    scaling = ((float(min(p[0] for p in found)), float(max(p[1] for p in found))) if found
               else None)
    return Sensitivity(float((norm_d + margin) / ((1 - t) * norm_g)), scaling,
                       float(max(margin - norm_d, 0.0) / ((1 + t) * norm_g)))


def _interval(a: float, half_b: float, c: float) -> tuple[float, float] | None:
    """Where ``a x² + 2 half_b x + c ≤ 0`` (``a > 0``), or None; roots found without
    cancellation (the larger-magnitude root first, the other from their product)."""
    discriminant = half_b * half_b - a * c
    if discriminant < 0:
        return None
    q = -(half_b + math.copysign(math.sqrt(discriminant), half_b))
    if q == 0:
        return (0.0, 0.0)
    roots = sorted((q / a, c / q))
    return (roots[0], roots[1])


def _factors(lo: float, hi: float) -> str:
    """Both ends with enough decimals to tell them apart (and from 1): two significant
    digits of the half-width."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return f"{lo:g}, {hi:g}"
    half = (hi - lo) / 2
    decimals = 3 if half <= 0 or half >= 1e-2 else min(17, 1 - math.floor(math.log10(half)))
    return f"{lo:.{decimals}f}, {hi:.{decimals}f}"


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None
