"""The backward pass along random directions: its own rounding, and its gradient again.

Directional mode believes a FAIL only after it has measured how much the analytic
projections ``g·v`` themselves round (:func:`probe_backward`): the backward pass runs
at points ``theta + t r`` along a short random direction ``r`` (``t = -2, -1, 0, 1, 2``);
a smooth gradient's projections have a negligible fourth difference there, so what
remains is rounding, pooled over the directions of each block. Three probe lengths are
tried and the smallest estimate kept: a probe that crosses a kink only overstates the
rounding.

Memory: the probe points are made in ``theta`` itself and ``restore(theta)`` writes the
parameters back (exactly, from the caller's arrays) after each; each gradient is read
where the backward put it, never flattened. The centre ``t = 0`` is ``theta`` itself for
every length, so it runs once, last, and its gradient is returned (validated as the
first one was): the check lets go of its own copy of the gradient while the probe runs,
so the probe's gradients take its place in memory instead of adding to it.

>>> from gcverify import MLP
>>> from gcverify.directions import block_directions
>>> from gcverify.options import CheckOptions
>>> from gcverify.params import ParamLayout
>>> net = MLP((4, 3, 1))
>>> X, Y = net.make_batch(5, seed=0)
>>> p = net.init_parameters(seed=1)
>>> layout = ParamLayout.from_parameters(p)
>>> theta = layout.flatten(p)
>>> directions = [d for block in block_directions(layout, CheckOptions()) for d in block]
>>> probed = probe_backward(net.forward, net.backward, X, Y, layout, theta, 0,
...                         ["d" + name for name in layout.names], directions,
...                         lambda vector: layout.flatten(p, out=vector))
>>> bool(np.all(probed.sigma < 1e-12)), probed.centre.keys[0]
(True, 'dW1')
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gcverify.directions import Direction, restoring
from gcverify.numdiff import EPS, NOISE_IN_FOURTH, fourth_differences
from gcverify.params import ParamLayout
from gcverify.validate import AnalyticGradient, validate_gradients

__all__ = ["ProbedBackward", "backward_changed", "probe_backward"]

# Relative lengths of the probe, all tried: the smallest estimate wins, since a probe
# that crosses a kink only overstates the rounding.
_ROUNDING_PROBES = (1e-5, 1e-7, 1e-9)
# The probe's points besides its centre, in the order they run.
_OFF_CENTRE = (-2.0, -1.0, 1.0, 2.0)
# A probe point is made this many entries at a time (two 32 KB scratch buffers).
_PROBE_CHUNK = 2**12
# The gradient read again may differ from the first by this many units in the last
# place (beside 3 sigma of the rounding the probe measured) and be the same.
_SAME_ULPS = 8
# The user's code failing at a probe point: the probe stops there.
_USER_ERRORS = (LookupError, ArithmeticError, ValueError, TypeError)


@dataclass(frozen=True)
class ProbedBackward:
    """What :func:`probe_backward` found.

    ``sigma``: the rounding sigma of each direction's analytic projection (None: not
    measured, because the user's code failed before one probe length was complete or
    no length gave a finite estimate). ``centre``: the backward's gradient at ``theta``
    itself, validated as the first one was (None: the user's code failed there).
    """

    sigma: np.ndarray | None
    centre: AnalyticGradient | None


def probe_backward(forward: Callable[..., Any], backward: Callable[..., Any],
                   X: np.ndarray, Y: np.ndarray, layout: ParamLayout, theta: np.ndarray,
                   seed: int, keys: Sequence[str], directions: list[Direction],
                   restore: Callable[[np.ndarray], Any],
                   source: str = "backward(X, Y, cache)") -> ProbedBackward:
    """The rounding of the analytic projections along ``directions`` (the gradient's
    blocks read under ``keys``), and the gradient at ``theta`` (see the module)."""
    # (layout.block_ids would cache a vector as long as the parameters)
    blocks = [layout.names.index(layout.locate(d.start)[0]) for d in directions]
    # Drawn once for the 13 gradients when they take at most a quarter of the
    # parameters' memory.
    stored: list[np.ndarray | None] = [None] * len(directions)
    if sum(d.size for d in directions) <= theta.size // 4:
        stored = [d.drawn() for d in directions]

    def projections(returned: Any) -> np.ndarray:
        return np.array(_projections(returned, keys, layout, directions, blocks, stored))

    off_centre = []                          # per probe length: its four rows
    for attempt, relative in enumerate(_ROUNDING_PROBES):
        rows = []
        for t in _OFF_CENTRE:
            row = _at_point(theta, (seed, attempt), relative * t, forward, backward, X, Y,
                            layout, restore, projections)
            if row is None:
                break
            rows.append(row)
        if len(rows) < len(_OFF_CENTRE):
            break
        off_centre.append(rows)
    centre = _at_point(theta, (seed,), 0.0, forward, backward, X, Y, layout, restore,
                       lambda returned: (projections(returned),
                                         validate_gradients(returned, layout, source)))
    if centre is None:
        return ProbedBackward(None, None)
    middle, gradient = centre      # (projected first: one vector of the gradient at a time)
    return ProbedBackward(_smallest_rounding(off_centre, middle, blocks), gradient)


def backward_changed(probed: ProbedBackward, directions: Sequence[Direction],
                     first: np.ndarray) -> str | None:
    """Why the backward pass is not deterministic, or None: the gradient the probe read
    again at ``theta`` must project on ``directions`` as the first one did (``first``,
    computed the same way by :meth:`Direction.project`, so a deterministic backward
    gives the same bits), to within the rounding the probe measured.

    >>> from gcverify.directions import Direction
    >>> from gcverify.validate import AnalyticGradient
    >>> d = [Direction(0, 2, "gaussian", (1,))]
    >>> g = AnalyticGradient(np.array([0.5, -1.0]), ("dW",))
    >>> backward_changed(ProbedBackward(None, g), d, np.array([d[0].project(g.vector)]))
    >>> backward_changed(ProbedBackward(None, g), d, np.array([0.0]))[:39]
    'the backward pass is not deterministic:'
    """
    fix = ("make backward deterministic: seed the random number generator inside it, or "
           "fix the dropout mask")
    if probed.centre is None:
        return ("the backward pass is not deterministic: it failed at the parameters it "
                f"had run at before; {fix}")
    again = np.array([d.project(probed.centre.vector) for d in directions])
    sigma = 0.0 if probed.sigma is None else 3 * probed.sigma
    finite = np.isfinite(first)
    with np.errstate(invalid="ignore"):
        near = np.abs(again - first) <= _SAME_ULPS * EPS * np.abs(first) + sigma
    same = (again == first) | (finite & near) | (np.isnan(again) & np.isnan(first))
    if np.all(same):
        return None
    worst = int(np.argmin(same))
    return ("the backward pass is not deterministic: at the same parameters it gave "
            f"gradients whose projections on a direction were {first[worst]:.17g} and "
            f"{again[worst]:.17g}, so no verdict on them can be trusted; {fix}")


def _smallest_rounding(off_centre: list[list[np.ndarray]], middle: np.ndarray,
                       blocks: list[int]) -> np.ndarray | None:
    """The smallest finite estimate over the probe lengths, pooled per block."""
    best: np.ndarray | None = None
    for rows in off_centre:
        sigma = np.abs(fourth_differences(np.array([*rows[:2], middle, *rows[2:]])))
        sigma /= NOISE_IN_FOURTH
        if not np.all(np.isfinite(sigma)):
            continue
        pooled = sigma.copy()
        for k in set(blocks):
            mine = np.array(blocks) == k
            pooled[mine] = np.maximum(sigma[mine], np.sqrt(np.mean(sigma[mine] ** 2)))
        best = pooled if best is None else np.minimum(best, pooled)
    return best


def _at_point(theta: np.ndarray, seed: tuple[int, ...], length: float,
              forward: Callable[..., Any], backward: Callable[..., Any],
              X: np.ndarray, Y: np.ndarray, layout: ParamLayout,
              restore: Callable[[np.ndarray], Any], read: Callable[[Any], Any]) -> Any:
    """``read(gradients)`` for the backward's gradients at ``theta`` moved by ``length``
    (0: theta itself), read before ``theta`` is restored (a gradient may be a view of
    the parameters); None when the user's code fails there."""
    try:
        with restoring(restore, theta):      # (also when the user's code raises)
            if length:
                _move_to_probe_point(theta, seed, length)
            x, y = X.copy(), Y.copy()
            _, cache = forward(x, y, layout.unflatten(theta))
            if not (np.array_equal(x, X) and np.array_equal(y, Y)):
                x, y = X.copy(), Y.copy()   # (the forward wrote into them)
            returned = backward(x, y, cache)   # (the cache often holds x: one copy)
            del cache
            return read(returned)
    except _USER_ERRORS:                     # (InvalidArgument is a ValueError)
        return None


def _projections(gradients: Any, keys: Sequence[str], layout: ParamLayout,
                 directions: list[Direction], blocks: list[int],
                 stored: list[np.ndarray | None]) -> list[float]:
    """``g·v`` for each direction, read from the backward's own arrays."""
    row = []
    for d, k, v in zip(directions, blocks, stored):
        block = np.asarray(gradients[keys[k]], dtype=np.float64).reshape(-1)
        row.append(d.project(block, layout.offsets[k]) if v is None else
                   float(block[d.start - layout.offsets[k]:d.stop - layout.offsets[k]] @ v))
    return row


def _move_to_probe_point(theta: np.ndarray, seed: tuple[int, ...], length: float) -> None:
    """``theta += length * r * max(1, |theta|)`` with ``r`` drawn from ``seed``, in place
    and a chunk at a time: a probe point costs no vector of its own."""
    rng = np.random.default_rng(list(seed))
    drawn, scale = np.empty(_PROBE_CHUNK), np.empty(_PROBE_CHUNK)
    for lo in range(0, theta.size, _PROBE_CHUNK):
        part = theta[lo:lo + _PROBE_CHUNK]
        r, s = drawn[:part.size], scale[:part.size]
        rng.standard_normal(out=r)      # the same stream as one draw of theta.size
        np.abs(part, out=s)
        np.maximum(s, 1.0, out=s)
        r *= s
        r *= length
        part += r
