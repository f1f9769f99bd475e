"""Random directions inside a parameter block, and the cost along them.

A :class:`Direction` is drawn again from its seed whenever it is needed, so the
directions of a block of a million parameters cost no memory between uses;
:func:`stencil_costs` evaluates the user's cost at ``theta + t h v`` on a fresh vector
per point; :func:`projected_rounding` measures the backward pass's own rounding along
directions, one gradient in memory at a time.

>>> d = Direction(0, 4, "signs", (0, 1))
>>> v = np.empty(4); d.fill(v, 1.0); float(v @ v)
1.0
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from gcverify.evaluate import Evaluator, as_cost_value
from gcverify.numdiff import DEFAULT_STEP, NOISE_IN_FOURTH, STENCIL, fourth_differences, step_sizes
from gcverify.options import CheckOptions
from gcverify.params import ParamLayout

__all__ = [
    "Direction",
    "PointCost",
    "PointEvaluator",
    "block_directions",
    "projected_rounding",
    "stencil_costs",
]

# Directions of at most this many entries (2 MB) are drawn once per stencil.
_STORED_DIRECTION = 2**18
# Larger directions are projected a chunk of this many entries at a time.
_CHUNK = 2**16
# Relative lengths of the backward pass's rounding probe, all tried: the smallest
# estimate wins, since a probe that crosses a kink only overstates the rounding.
_ROUNDING_PROBES = (1e-5, 1e-7, 1e-9)
# A probe point is made this many entries at a time (two 32 KB scratch buffers).
_PROBE_CHUNK = 2**12

#: ``cost(vector) -> float`` for a flat parameter vector the cost may keep.
PointCost = Callable[[np.ndarray], float]


@dataclass(frozen=True)
class Direction:
    """A direction supported on ``theta[start:stop]`` (inside one block).

    ``kind``: "gaussian" (entries N(0, 1/size)), "signs" (±1/sqrt(size), unit norm) or
    "unit" (the coordinate ``start``). Its entries are drawn again from ``seed`` each
    time they are needed, so a direction costs no memory between uses. ``transposed``:
    the block's 2-D shape, when the direction is to be laid out transposed.

    >>> d = Direction(0, 9, "gaussian", (1,))
    >>> v, w = np.empty(9), np.empty(9)
    >>> d.fill(v, 1.0); d.transpose((3, 3)).fill(w, 1.0)
    >>> bool(np.array_equal(v.reshape(3, 3).T, w.reshape(3, 3)))
    True
    """

    start: int
    stop: int
    kind: str
    seed: tuple[int, ...] = ()
    transposed: tuple[int, int] | None = None

    @property
    def size(self) -> int:
        return self.stop - self.start

    def fill(self, out: np.ndarray, length: float) -> None:
        """Write ``length * v`` into ``out`` (``size`` entries)."""
        if self.kind == "unit":
            out[0] = length
            return
        np.random.default_rng(list(self.seed)).standard_normal(out=out)
        if self.kind == "signs":
            np.sign(out, out=out)
        out *= length / math.sqrt(self.size)
        if self.transposed is not None:
            _transpose_in_place(out.reshape(self.transposed))

    def project(self, vector: np.ndarray, offset: int = 0) -> float:
        """``vector · v`` for a flat ``vector`` in the layout's order that starts at
        flat index ``offset`` (0: the whole vector; a block's offset: that block)."""
        start, stop = self.start - offset, self.stop - offset
        if self.kind == "unit":
            return float(vector[start])
        if self.transposed is not None or self.size <= _CHUNK:
            values = np.empty(self.size)
            self.fill(values, 1.0)
            with np.errstate(invalid="ignore", over="ignore"):
                return float(vector[start:stop] @ values)
        # A generator's stream does not depend on how it is split into calls: a large
        # direction is drawn a chunk at a time (the same entries, a chunk of memory).
        rng = np.random.default_rng(list(self.seed))
        chunk, total = np.empty(_CHUNK), 0.0
        with np.errstate(invalid="ignore", over="ignore"):
            for lo in range(start, stop, _CHUNK):
                part = chunk[:min(_CHUNK, stop - lo)]
                rng.standard_normal(out=part)
                if self.kind == "signs":
                    np.sign(part, out=part)
                total += float(vector[lo:lo + part.size] @ part)
        return total / math.sqrt(self.size)

    def step(self, theta: np.ndarray, epsilon: float | None, factor: float = 1.0) -> float:
        """The step along the direction: a coordinate's for a unit direction, else
        ``DEFAULT_STEP * max(1, rms θ)`` over its support (a random unit direction moves
        the cost like an average coordinate does); ``epsilon`` when given."""
        if self.kind == "unit":
            return float(step_sizes(theta[self.start:self.start + 1], epsilon, factor)[0])
        if epsilon is not None:
            return float(epsilon)
        part = theta[self.start:self.stop]
        return factor * DEFAULT_STEP * max(1.0, math.sqrt(float(part @ part) / part.size))

    def transpose(self, shape: tuple[int, ...]) -> Direction:
        """The same direction laid out as the transpose of a square block."""
        return replace(self, transposed=(shape[0], shape[1]))


def _transpose_in_place(square: np.ndarray) -> None:
    """Transpose a square array in place, a row at a time (no copy of the whole)."""
    for i in range(square.shape[0] - 1):
        row = square[i, i + 1:].copy()
        square[i, i + 1:] = square[i + 1:, i]
        square[i + 1:, i] = row


def block_directions(layout: ParamLayout, options: CheckOptions) -> list[list[Direction]]:
    """The directions of each block: its unit vectors if it has at most
    ``options.directions`` entries, else that many Gaussian directions."""
    found = []
    for k, (start, size) in enumerate(zip(layout.offsets, layout.sizes)):
        if size <= options.directions:
            found.append([Direction(start + i, start + i + 1, "unit") for i in range(size)])
        else:
            found.append([Direction(start, start + size, "gaussian", (options.seed, k, j))
                          for j in range(options.directions)])
    return found


def stencil_costs(cost: PointCost, theta: np.ndarray, direction: Direction, h: float,
                  offsets: Sequence[float] = tuple(STENCIL.tolist())) -> np.ndarray:
    """``J(theta + t h v)`` for each ``t`` in ``offsets``; each call receives a fresh
    vector, which the user's code may keep or modify.

    A direction of up to :data:`_STORED_DIRECTION` entries, and an eighth of the
    parameters, is drawn once for all the points; a larger one is drawn again for each
    (memory stays at one vector of parameters beside the user's copy)."""
    costs = np.empty(len(offsets))
    span = slice(direction.start, direction.stop)
    stored = None
    if direction.kind != "unit" and direction.size <= min(_STORED_DIRECTION,
                                                          theta.size // 8):
        stored = np.empty(direction.size)
        direction.fill(stored, 1.0)
    for s, t in enumerate(offsets):
        work = theta.copy()
        part = work[span]
        if stored is not None:
            np.multiply(stored, t * h, out=part)
        else:
            direction.fill(part, 1.0)
            part *= t * h
        part += theta[span]
        del part                 # the user's code may keep the vector; we do not
        costs[s] = cost(work)
        del work
    return costs


class PointEvaluator(Evaluator):
    """The user's cost at a flat vector: ``at(vector) -> (cost, cache)`` receives a vector
    it owns. Directional mode calls :meth:`cost_of` with a fresh vector (no second copy);
    the :class:`Evaluator` interface (used for the repeat-cost test) copies."""

    def __init__(self, layout: ParamLayout, function: Any,
                 at: Callable[[np.ndarray], tuple[Any, Any]], *, role: str = "cost",
                 cost_name: str = "cost(parameters)", name: str = "loop") -> None:
        super().__init__(layout, function)
        self.at, self.role, self.cost_name, self.name = at, role, cost_name, name

    def evaluate(self, vector: np.ndarray) -> tuple[Any, Any]:
        return self.at(vector.copy())

    def cost_of(self, vector: np.ndarray) -> float:
        return as_cost_value(self.at(vector)[0], self.cost_name)



def projected_rounding(forward: Callable[..., Any], backward: Callable[..., Any],
                       X: np.ndarray, Y: np.ndarray, layout: ParamLayout, theta: np.ndarray,
                       seed: int, keys: Sequence[str], directions: list[Direction],
                       restore: Callable[[np.ndarray], Any]) -> np.ndarray | None:
    """Rounding sigma of the analytic projections ``g·v`` for ``directions``.

    The backward pass runs at five points along a short random direction; a smooth
    gradient's projections have a negligible fourth difference there, so what remains
    is rounding (pooled over the directions of each block). Three probe lengths are
    tried and the smallest estimate kept: a probe that crosses a kink only overstates
    the rounding. Memory: one gradient at a time, read where the backward put it
    (under ``keys``), never flattened; the probe points are made in ``theta`` itself,
    and ``restore(theta)`` writes the parameters back (exactly) after each.
    """
    # (layout.block_ids would cache a vector as long as the parameters)
    blocks = [layout.names.index(layout.locate(d.start)[0]) for d in directions]
    # Drawn once for the 15 gradients when they take at most a quarter of the
    # parameters' memory.
    stored: list[np.ndarray | None] = [None] * len(directions)
    if sum(d.size for d in directions) <= theta.size // 4:
        stored = [_drawn(d) for d in directions]
    best: np.ndarray | None = None
    for attempt, relative in enumerate(_ROUNDING_PROBES):
        rows = []
        for t in (-2.0, -1.0, 0.0, 1.0, 2.0):
            try:
                row = _projections_at(theta, (seed, attempt), relative * t, forward,
                                      backward, X, Y, layout, keys, directions, blocks, stored)
            finally:
                restore(theta)          # (outside what the user's errors may stop)
            if row is None:
                return best
            rows.append(row)
        sigma = np.abs(fourth_differences(np.array(rows))) / NOISE_IN_FOURTH
        if not np.all(np.isfinite(sigma)):
            continue
        pooled = sigma.copy()
        for k in set(blocks):
            mine = np.array(blocks) == k
            pooled[mine] = np.maximum(sigma[mine], np.sqrt(np.mean(sigma[mine] ** 2)))
        best = pooled if best is None else np.minimum(best, pooled)
    return best


def _projections_at(theta: np.ndarray, seed: tuple[int, ...], length: float,
                    forward: Callable[..., Any], backward: Callable[..., Any],
                    X: np.ndarray, Y: np.ndarray, layout: ParamLayout, keys: Sequence[str],
                    directions: list[Direction], blocks: list[int],
                    stored: list[np.ndarray | None]) -> list[float] | None:
    """The backward's projections at the probe point ``theta`` moved by ``length``
    (left moved: the caller restores it); None when the user's code fails there."""
    try:
        _move_to_probe_point(theta, seed, length)
        _, cache = forward(X.copy(), Y.copy(), layout.unflatten(theta))
        returned = backward(X.copy(), Y.copy(), cache)
        del cache
        # (read before the restore: a gradient may be a view of the parameters)
        return _projections(returned, keys, layout, directions, blocks, stored)
    except (LookupError, ArithmeticError, ValueError, TypeError):
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


def _drawn(direction: Direction) -> np.ndarray:
    values = np.empty(direction.size)
    direction.fill(values, 1.0)
    return values


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
