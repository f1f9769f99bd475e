"""Which coordinates need the second stencil (``theta ± 2h``), and the error bars of those
that do not.

The points ``theta ± 2h`` double the cost of a check, and a coordinate uses them for
three things only: its error bar (``|D1 - D2|``), the cost's noise (pooled from fourth
differences) and the kink test. A coordinate is *settled* after ``theta ± h`` when its
central difference ``D1`` agrees with its analytic derivative ``g``:

    ``|g - D1| <= threshold * ||g_B|| / (8 sqrt(n_B))``

for its block ``B`` of ``n_B`` evaluated coordinates. All settled coordinates of a block
together move its mismatch ``||g - n||`` by at most ``threshold * ||g_B|| / 8``, a
sixteenth of what a FAIL needs (``threshold * (||g_B|| + ||n_B||)``): no FAIL can come
from them, and none can hide in them (they agree). Whether a kink lies between ``-h``
and ``h`` cannot matter there either: a kink that moves ``D1`` away from the one-sided
derivative backprop takes leaves the coordinate unsettled, and the kink test runs.

Every other coordinate (a mismatch, a kink that moves ``D1``, a non-finite value) gets
the full stencil and the kink test, exactly as before. So does an *audit* of each
block, ``max(32, n_B / 32)`` coordinates drawn with the check's seed (all of a block of
32 or fewer, so small networks are checked exactly as before): the cost's noise is
pooled over them, and each block's truncation error ``|D1 - D2|`` is pooled (root mean
square) over its fully evaluated smooth coordinates. A settled coordinate's error bar
is that pooled truncation (at most its own settling tolerance: together the settled
coordinates widen a block's margin by at most an eighth of the threshold's) plus
``3 sigma / h`` and one unit in the last place of the cost, as for any other
(:func:`gcverify.numdiff.central_derivatives`).

>>> from gcverify.params import ParamLayout
>>> layout = ParamLayout(("w",), ((100,),))
>>> tolerance = settling_tolerances(layout, np.arange(100), np.ones(100), 2e-7, seed=0)
>>> int((tolerance < 0).sum()), float(tolerance.max())       # 32 audited
(32, 2.5e-08)
"""

from __future__ import annotations

import math

import numpy as np

from gcverify.numdiff import EPS, Derivatives, central_derivatives, central_difference
from gcverify.params import ParamLayout

__all__ = ["AUDITED_AT_LEAST", "merge_settled", "settling_tolerances"]

#: Coordinates of each block always evaluated in full (all of a smaller block).
AUDITED_AT_LEAST = 32
# ... and at least this fraction of a larger one.
_AUDITED_SHARE = 1 / 32
# The settled coordinates of a block may move its mismatch by 1 / _SETTLED_SHARE of the
# threshold times the block's gradient norm.
_SETTLED_SHARE = 8.0


def settling_tolerances(layout: ParamLayout, index: np.ndarray, analytic: np.ndarray,
                        threshold: float, seed: int) -> np.ndarray:
    """For each evaluated coordinate ``index[r]``, how close its central difference must
    come to ``analytic[r]`` (its analytic derivative) to be settled; -1 for the audited
    coordinates and those with a non-finite analytic value (never settled)."""
    blocks = layout.block_ids[index]
    count = len(layout.names)
    finite = np.isfinite(analytic)
    squares = np.bincount(blocks, weights=np.where(finite, analytic, 0.0) ** 2,
                          minlength=count)
    sizes = np.bincount(blocks, minlength=count)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_block = threshold * np.sqrt(squares) / (_SETTLED_SHARE * np.sqrt(sizes))
    tolerance = np.where(finite, per_block[blocks], -1.0)
    rng = np.random.default_rng([seed, 11])
    for k in range(count):
        rows = np.flatnonzero(blocks == k)
        audited = min(rows.size, max(AUDITED_AT_LEAST, math.ceil(rows.size * _AUDITED_SHARE)))
        tolerance[rng.choice(rows, size=audited, replace=False)] = -1.0
    return tolerance


def merge_settled(J0: float, costs: np.ndarray, h: np.ndarray, kinks: np.ndarray | None,
                  settled: np.ndarray, audited: np.ndarray, blocks: np.ndarray,
                  tolerance: np.ndarray | None = None) -> Derivatives:
    """Central derivatives of every row: those of the full stencil as
    :func:`central_derivatives` gives them (the noise pooled over the ``audited`` rows
    when some rows are settled), the settled ones with the pooled error bars above.
    ``blocks`` gives each row's block; ``tolerance`` each row's settling tolerance, which
    caps a settled row's truncation bar: its ``|g - D1|`` is within it already, so a wider
    bar (one curved audited coordinate makes the pool wide) would only widen the block's
    margin, and could hide a mismatch elsewhere in the block."""
    if kinks is None or not settled.any():      # only a watched cache can settle
        return central_derivatives(J0, costs, h, None if kinks is None else ~kinks)
    full = ~settled
    known = central_derivatives(J0, costs[full], h[full], ~kinks[full] & audited[full])
    smooth = known.finite & ~kinks[full]
    with np.errstate(invalid="ignore", over="ignore"):
        truncation = np.abs(known.value - central_difference(costs[full, 0], costs[full, 3],
                                                              2 * h[full]))
    bar = _pooled_by_block(truncation, smooth, blocks[full], blocks[settled])
    if tolerance is not None:
        bar = np.minimum(bar, tolerance[settled])
    value = np.empty(len(h))
    error = np.empty(len(h))
    value[full], error[full] = known.value, known.error
    near = costs[settled]
    with np.errstate(invalid="ignore", over="ignore"):
        value[settled] = central_difference(near[:, 1], near[:, 2], h[settled])
    error[settled] = bar + 3 * known.noise / h[settled] + EPS * max(1.0, abs(J0))
    rough = np.zeros(len(h), dtype=bool)
    rough[full] = known.rough
    finite = np.ones(len(h), dtype=bool)
    finite[full] = known.finite
    finite[settled] = np.isfinite(near[:, 1:3]).all(axis=1) & np.isfinite(J0)
    fourth = np.zeros(len(h))
    fourth[full] = known.fourth
    return Derivatives(value, error, rough, finite, fourth, known.noise)


def _pooled_by_block(truncation: np.ndarray, smooth: np.ndarray, blocks: np.ndarray,
                     wanted: np.ndarray) -> np.ndarray:
    """Root mean square of ``truncation`` over the smooth rows of each block in ``wanted``
    (over all smooth rows for a block that has none)."""
    count = int(max(blocks.max(initial=0), wanted.max(initial=0))) + 1
    weights = np.where(smooth, truncation, 0.0) ** 2
    sums = np.bincount(blocks, weights=weights, minlength=count)
    counts = np.bincount(blocks, weights=smooth, minlength=count)
    overall = math.sqrt(weights.sum() / smooth.sum()) if smooth.any() else 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        rms = np.where(counts > 0, np.sqrt(sums / np.maximum(counts, 1)), overall)
    return rms[wanted]
