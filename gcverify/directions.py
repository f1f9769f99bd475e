"""Random directions inside a parameter block, and the cost along them.

A :class:`Direction` is drawn again from its seed whenever it is needed, so the
directions of a block of a million parameters cost no memory between uses;
:func:`stencil_costs` evaluates the user's cost at ``theta + t h v``, moving ``theta``
itself and restoring it after each point (:mod:`gcverify.direction_probe` runs the
backward pass along directions).

>>> d = Direction(0, 4, "signs", (0, 1))
>>> v = np.empty(4); d.fill(v, 1.0); float(v @ v)
1.0
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from gcverify.evaluate import Evaluator, as_cost_value
from gcverify.numdiff import DEFAULT_STEP, STENCIL, step_sizes
from gcverify.options import CheckOptions
from gcverify.params import ParamLayout

__all__ = [
    "Direction",
    "ParametersMoved",
    "PointEvaluator",
    "block_directions",
    "restorer",
    "restoring",
    "stencil_costs",
]

# Directions of at most this many entries (2 MB) are drawn once per stencil.
_STORED_DIRECTION = 2**18
# Directions are projected and added a chunk at a time: an eighth of the direction,
# between these many entries (32 KB and 512 KB), so a chunk stays small beside the
# parameters and a million-entry direction takes 16 chunks.
_CHUNKS = (2**12, 2**16)


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

    def drawn(self) -> np.ndarray:
        """The direction's entries as a new vector (``fill(v, 1.0)``)."""
        values = np.empty(self.size)
        self.fill(values, 1.0)
        return values

    def add_to(self, out: np.ndarray, length: float) -> None:
        """``out += length * v`` (``size`` entries), a chunk at a time: the same values
        as adding ``length`` times a vector filled by ``fill(v, 1.0)``, without a vector
        of the direction's size.

        >>> d, theta = Direction(0, 10**5, "gaussian", (3,)), np.ones(10**5)
        >>> v = np.empty(d.size); d.fill(v, 1.0); v *= 1e-5
        >>> moved = theta.copy(); d.add_to(moved, 1e-5)
        >>> bool(np.array_equal(moved, v + theta))
        True
        """
        if self.kind == "unit":
            out[0] += length
            return
        if self.transposed is not None:
            values = self.drawn()
            values *= length
            out += values
            return
        rng = np.random.default_rng(list(self.seed))
        chunk, scale = np.empty(self._chunk()), 1.0 / math.sqrt(self.size)
        for lo in range(0, self.size, chunk.size):
            part = chunk[:min(chunk.size, self.size - lo)]
            rng.standard_normal(out=part)       # the stream of one draw of ``size``
            if self.kind == "signs":
                np.sign(part, out=part)
            part *= scale
            part *= length
            out[lo:lo + part.size] += part

    def project(self, vector: np.ndarray, offset: int = 0) -> float:
        """``vector · v`` for a flat ``vector`` in the layout's order that starts at
        flat index ``offset`` (0: the whole vector; a block's offset: that block)."""
        start, stop = self.start - offset, self.stop - offset
        if self.kind == "unit":
            return float(vector[start])
        if self.transposed is not None:
            with np.errstate(invalid="ignore", over="ignore"):
                return float(vector[start:stop] @ self.drawn())
        # A generator's stream does not depend on how it is split into calls: the
        # direction is drawn a chunk at a time (the same entries, a chunk of memory).
        rng = np.random.default_rng(list(self.seed))
        chunk, total = np.empty(self._chunk()), 0.0
        with np.errstate(invalid="ignore", over="ignore"):
            for lo in range(start, stop, chunk.size):
                part = chunk[:min(chunk.size, stop - lo)]
                rng.standard_normal(out=part)
                if self.kind == "signs":
                    np.sign(part, out=part)
                total += float(vector[lo:lo + part.size] @ part)
        return total / math.sqrt(self.size)

    def _chunk(self) -> int:
        low, high = _CHUNKS
        return min(self.size, max(low, min(high, self.size // 8)))

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


def stencil_costs(evaluator: PointEvaluator, theta: np.ndarray, direction: Direction,
                  h: float, offsets: Sequence[float] = tuple(STENCIL.tolist())) -> np.ndarray:
    """``J(theta + t h v)`` for each ``t`` in ``offsets``.

    Each point is made in ``theta`` itself, whose blocks the user's code receives (as
    views: it may modify them), and ``evaluator.restore(theta)`` writes the parameters
    back after each call: the check needs no vector of its own per point. A direction of
    up to :data:`_STORED_DIRECTION` entries, and an eighth of the parameters, is drawn
    once for all the points; a larger one is drawn again for each, a chunk at a time."""
    costs = np.empty(len(offsets))
    stored = None
    if direction.kind != "unit" and direction.size <= min(_STORED_DIRECTION,
                                                          theta.size // 8):
        stored = direction.drawn()
    span = theta[direction.start:direction.stop]
    for s, t in enumerate(offsets):
        with restoring(evaluator.restore, theta):
            if stored is not None:
                span += stored * (t * h)
            else:
                direction.add_to(span, t * h)
            costs[s] = evaluator.cost_of(theta)
    return costs


class ParametersMoved(Exception):
    """The caller's parameter arrays changed during the check (the code under test
    wrote into them): the point the check restores to is no longer the one it began at.
    """


def restorer(layout: ParamLayout, parameters: Mapping[str, Any]
             ) -> Callable[[np.ndarray], None]:
    """``restore(vector)``: writes the caller's ``parameters`` back into a flat vector,
    and raises :class:`ParametersMoved` when their sum is not, bit for bit, what it was
    when the restorer was made (the same values always give the same sum). Code that
    writes the check's points into them is caught at the first point that changes the
    sum: almost surely the first point along a Gaussian direction (a point along
    balanced ±1 signs may leave it unchanged).

    >>> p = {"W": np.array([1.0, 2.0])}
    >>> restore = restorer(ParamLayout.from_parameters(p), p)
    >>> v = np.zeros(2); restore(v); v.tolist()
    [1.0, 2.0]
    >>> p["W"][0] += 1e-7; restore(v)
    Traceback (most recent call last):
    gcverify.directions.ParametersMoved: the parameter arrays passed to the check changed during it
    """
    start = float(np.sum(layout.flatten(parameters)))

    def restore(vector: np.ndarray) -> None:
        layout.flatten(parameters, out=vector)
        now = float(np.sum(vector))
        if now != start and not (math.isnan(now) and math.isnan(start)):
            raise ParametersMoved("the parameter arrays passed to the check changed "
                                  "during it")
    return restore


@contextmanager
def restoring(restore: Callable[[np.ndarray], Any], theta: np.ndarray) -> Iterator[None]:
    """Restores ``theta`` after the block. The caller's arrays are checked
    (:class:`ParametersMoved`) only when the block ended normally: an exception on its
    way out (the user's error, Ctrl-C) goes on as it was, after a plain restore.

    >>> p = {"w": np.array([1.0])}
    >>> theta = np.array([1.0])
    >>> with restoring(restorer(ParamLayout.from_parameters(p), p), theta):
    ...     theta += 1
    >>> theta.tolist()
    [1.0]
    """
    try:
        yield
    except BaseException:
        with suppress(ParametersMoved):
            restore(theta)
        raise
    restore(theta)


class PointEvaluator(Evaluator):
    """The user's cost at a flat vector: ``at(vector) -> (cost, cache)`` receives blocks
    that are views of the check's own vector (it may modify them, and blocks it keeps
    change after the call), and ``restore(vector)`` writes the parameters under check
    back into a vector, exactly, from the caller's own arrays (:func:`restorer`).
    Directional mode calls :meth:`cost_of` on ``theta`` itself and restores it after
    each call; the :class:`Evaluator` interface (used for the repeat-cost test) copies.
    """

    def __init__(self, layout: ParamLayout, function: Any,
                 at: Callable[[np.ndarray], tuple[Any, Any]],
                 restore: Callable[[np.ndarray], Any], *, role: str = "cost",
                 cost_name: str = "cost(parameters)", name: str = "loop") -> None:
        super().__init__(layout, function)
        self.at, self.restore = at, restore
        self.role, self.cost_name, self.name = role, cost_name, name

    def evaluate(self, vector: np.ndarray) -> tuple[Any, Any]:
        return self.at(vector.copy())

    def base(self, theta: np.ndarray) -> float:
        """The cost at ``theta``, the parameters under check (on them, then restored).

        >>> p = {"w": np.array([3.0])}
        >>> layout = ParamLayout.from_parameters(p)
        >>> def at(vector):
        ...     vector *= 2                         # the user's code may write into it
        ...     return float(vector[0]), None
        >>> theta = layout.flatten(p)
        >>> PointEvaluator(layout, at, at, restorer(layout, p)).base(theta), theta.tolist()
        (6.0, [3.0])
        """
        with restoring(self.restore, theta):
            return self.cost_of(theta)

    def cost_of(self, vector: np.ndarray) -> float:
        return as_cost_value(self.at(vector)[0], self.cost_name)
