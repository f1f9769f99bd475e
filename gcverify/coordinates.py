"""Which coordinates a sampled check evaluates, and how much of each block they cover.

``sample=k`` checks ``k`` coordinates per block. Picked blindly they can all have a zero
gradient (dead ReLU units, inputs of zero), and then a ``dW2 × 2`` has nothing to show
itself on: measured on the notebook's network (47 parameters), a blind pick of one
coordinate per block PASSed that bug in 7 of 10 seeds. So the analytic gradient, known
before anything is evaluated, guides the pick (:func:`sampled_coordinates`): in each
block

1. the coordinate with the largest ``|g|``;
2. then, alternately, a coordinate drawn with probability proportional to ``|g|`` (where
   the gradient is) and one drawn uniformly (where a bug that *zeroes* the analytic
   gradient would hide: there ``|g|`` is 0 and only the numerical derivative is not),
   without replacement, with the check's seed.

A scaling bug shows on any coordinate whose gradient is not zero, so the first pick
alone catches it. What a sampled block's verdict covers is stated with it: its judged
coordinates and their share of the block's gradient norm, ``||g_sampled|| / ||g_B||``
(:func:`gradient_share`). A sampled block whose sampled coordinates carry no gradient
(analytic and numerical zero within the error bars) is never a PASS: the verdict rules
make it INCONCLUSIVE (:mod:`gcverify.verdict`).

>>> from gcverify.params import ParamLayout
>>> layout = ParamLayout(("W",), ((6,),))
>>> g = np.array([0.0, 0.0, 0.0, 5.0, 0.0, 0.0])
>>> sampled_coordinates(layout, g, 1, seed=0).tolist()        # the one that carries it
[3]
>>> float(gradient_share(layout, g, np.array([3]))[0])
1.0
"""

from __future__ import annotations

import numpy as np

from gcverify.params import ParamLayout

__all__ = ["gradient_share", "sampled_coordinates"]


def sampled_coordinates(layout: ParamLayout, analytic: np.ndarray, sample: int | None,
                        seed: int) -> np.ndarray:
    """All flat indices (``sample=None``), or ``sample`` per block chosen as above, sorted.

    >>> from gcverify.params import ParamLayout
    >>> layout = ParamLayout(("W", "b"), ((3,), (2,)))
    >>> sampled_coordinates(layout, np.ones(5), None, seed=0).tolist()
    [0, 1, 2, 3, 4]
    >>> sampled_coordinates(layout, np.ones(5), 5, seed=0).tolist()    # k >= size: all
    [0, 1, 2, 3, 4]
    """
    if sample is None:
        return np.arange(layout.size)
    rng = np.random.default_rng(seed)
    weights = np.abs(np.where(np.isfinite(analytic), analytic, 0.0))
    # A non-finite analytic value is a FAIL whatever the numbers: always pick it.
    broken = ~np.isfinite(analytic)
    chosen = []
    for start, size in zip(layout.offsets, layout.sizes):
        chosen.append(start + _pick(weights[start:start + size], broken[start:start + size],
                                    min(size, sample), rng))
    return np.concatenate(chosen) if chosen else np.arange(0)


def _pick(weights: np.ndarray, broken: np.ndarray, count: int,
          rng: np.random.Generator) -> np.ndarray:
    size = weights.size
    if count >= size:
        return np.arange(size)
    picked: list[int] = [int(i) for i in np.flatnonzero(broken)[:count]]
    if len(picked) < count and weights.max(initial=0.0) > 0:
        largest = int(np.argmax(np.where(broken, -1.0, weights)))
        if largest not in picked:
            picked.append(largest)
    weighted_turn = True
    while len(picked) < count:
        free = np.ones(size, dtype=bool)
        free[picked] = False
        mass = np.where(free, weights, 0.0)
        if weighted_turn and mass.sum() > 0:
            picked.append(int(rng.choice(size, p=mass / mass.sum())))
        else:
            picked.append(int(rng.choice(np.flatnonzero(free))))
        weighted_turn = not weighted_turn
    return np.sort(np.array(picked, dtype=np.int64))


def gradient_share(layout: ParamLayout, analytic: np.ndarray,
                   index: np.ndarray) -> np.ndarray:
    """For each block, ``||g over index|| / ||g over the block||``: 1.0 when every
    coordinate is in ``index``, NaN when the block's gradient is zero (and some are not).
    Non-finite values count as zero."""
    finite = np.where(np.isfinite(analytic), analytic, 0.0)
    count = len(layout.names)
    every = np.bincount(layout.block_ids, weights=finite**2, minlength=count)
    taken = np.bincount(layout.block_ids[index], weights=finite[index] ** 2, minlength=count)
    evaluated = np.bincount(layout.block_ids[index], minlength=count)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.sqrt(taken / every)
    return np.where(evaluated == np.asarray(layout.sizes), 1.0, share)
