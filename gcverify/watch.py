"""The forward's cache, watched for kinks at a small fraction of a forward call's cost.

:class:`CacheWatch` keeps the cache at ``theta`` and, for each of the four stencil
points, copies the cache's numeric values into a buffer reused from point to point (no
allocation per call). Values that cannot bend are left out: the parameter arrays and
``X`` and ``Y`` themselves, when the cache holds them (a parameter is linear in itself,
data do not move), so a cache ``(Z1, A1, W1, b1, ...)`` costs only its activations.
:meth:`CacheWatch.kink` is then exactly the test of
:func:`gcverify.evaluate.cache_moves_non_smoothly` on the watched values.

>>> import numpy as np
>>> from gcverify.evaluate import cache_scale
>>> W = np.array([[2.0]])
>>> cache_at = lambda t: (np.maximum(t, 0.0), W)            # a ReLU, and a parameter
>>> base = cache_at(np.array([5e-6]))
>>> watch = CacheWatch(base, cache_scale(base), skip={id(W)})
>>> watch.size                                              # W is not watched
1
>>> for slot, t in enumerate((-1.5e-5, -5e-6, 1.5e-5, 2.5e-5)):  # theta + (-2, -1, 1, 2) h
...     _ = watch.record(slot, cache_at(np.array([t])), skip={id(W)})
>>> watch.kink()                                            # the ReLU's kink is crossed
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from gcverify.evaluate import CACHE_ROUNDING
from gcverify.numdiff import fourth_differences

__all__ = ["CacheWatch", "numeric_leaves"]

# The buffer row of each stencil point (theta - 2h, theta - h, theta + h, theta + 2h),
# and of theta itself.
_ROW_OF_SLOT = (0, 1, 3, 4)
_BASE_ROW = 2


def numeric_leaves(obj: Any) -> list[Any]:
    """Numeric arrays and numbers inside a cache, depth first, in a stable order: those
    of :func:`gcverify.evaluate.cache_vector`, found with exact type tests first (a
    cache is nearly always tuples, lists, dicts and arrays).

    >>> [leaf.tolist() for leaf in numeric_leaves(({"a": np.ones(1)}, [2.0, "s"]))]
    [[1.0], 2.0]
    """
    out: list[Any] = []
    _leaves_into(obj, out)
    return out


def _leaves_into(obj: Any, out: list[Any]) -> None:
    kind = type(obj)
    if kind is tuple or kind is list:
        for value in obj:
            # Arrays, the usual members, are taken here: one call fewer per leaf.
            if type(value) is np.ndarray:
                if value.dtype.kind in "biuf":
                    out.append(value)
            else:
                _leaves_into(value, out)
    elif kind is dict:
        _leaves_into(list(obj.values()), out)
    elif kind is np.ndarray:
        if obj.dtype.kind in "biuf":
            out.append(obj)
    elif kind is float or kind is int or kind is bool:
        out.append(np.asarray(obj, dtype=np.float64))
    elif isinstance(obj, np.ndarray):
        if obj.dtype.kind in "biuf":
            out.append(obj)
    elif isinstance(obj, (np.bool_, np.integer, np.floating)):
        out.append(np.asarray(obj, dtype=np.float64))
    elif isinstance(obj, Mapping):
        _leaves_into(list(obj.values()), out)
    elif isinstance(obj, (tuple, list)):
        _leaves_into(list(obj), out)


class CacheWatch:
    """The watched values of a forward's cache at ``theta`` and at four stencil points.

    ``scale`` is, for each value of the whole cache vector, the scale its rounding is
    judged against (:attr:`gcverify.evaluate.ForwardEvaluator.rounding_scale`);
    ``skip`` holds the ``id`` of the arrays left out (the parameters, ``X``, ``Y`` as
    passed to the call that made ``base_cache``).
    """

    def __init__(self, base_cache: Any, scale: np.ndarray | None, skip: set[int]) -> None:
        leaves = numeric_leaves(base_cache)
        sizes = [int(np.size(leaf)) for leaf in leaves]
        kept = [id(leaf) not in skip for leaf in leaves]
        mask = np.repeat(np.array(kept, dtype=bool), sizes) if leaves else np.zeros(0, bool)
        watched = [np.asarray(leaf) for leaf, keep in zip(leaves, kept) if keep]
        self.shapes = [leaf.shape for leaf in watched]
        # Rows: theta - 2h, theta - h, theta, theta + h, theta + 2h, as the kink test
        # reads them; each leaf is copied into a view of its row in the leaf's shape.
        self._rows = np.zeros((len(_ROW_OF_SLOT) + 1, sum(sizes[k] for k, keep
                                                           in enumerate(kept) if keep)))
        self.size = self._rows.shape[1]
        offsets = np.cumsum([0, *(leaf.size for leaf in watched)]).tolist()
        self._views = [[self._rows[row, a:b].reshape(shape) for a, b, shape
                        in zip(offsets, offsets[1:], self.shapes)]
                       for row in range(self._rows.shape[0])]
        for view, leaf in zip(self._views[_BASE_ROW], watched):
            np.copyto(view, leaf, casting="unsafe")
        self.base = self._rows[_BASE_ROW]
        self.scale = np.abs(self.base) if scale is None or scale.shape != mask.shape \
            else np.asarray(scale, dtype=np.float64)[mask]
        self._least_bound = CACHE_ROUNDING * np.maximum(self.scale, np.abs(self.base))
        self._filled = np.zeros(len(_ROW_OF_SLOT), dtype=bool)

    def record(self, slot: int, cache: Any, skip: set[int]) -> bool:
        """Copy the cache at stencil point ``slot`` (0..3) into its buffer; False when its
        structure differs from the cache at ``theta`` (it cannot be compared)."""
        watched = [leaf for leaf in numeric_leaves(cache) if id(leaf) not in skip]
        same = [leaf.shape for leaf in watched] == self.shapes
        if same:
            for view, leaf in zip(self._views[_ROW_OF_SLOT[slot]], watched):
                np.copyto(view, leaf, casting="unsafe")
        self._filled[slot] = same
        return same

    def kink(self) -> bool:
        """The five-point kink test of
        :func:`gcverify.evaluate.cache_moves_non_smoothly` on the watched values (False
        when a cache cannot be compared, as there)."""
        if not self._filled.all() or self.size == 0:
            return False
        # cache_moves_non_smoothly's arithmetic, on the rows in place (no stacked copy).
        # Its bound grows with the values' magnitude over the five points, which is at
        # least their magnitude at theta: below that smaller bound, no kink anywhere,
        # and only the values above it need the magnitude over the five points.
        with np.errstate(invalid="ignore"):
            fourth = np.abs(fourth_differences(self._rows))
            above = np.flatnonzero(fourth > self._least_bound)
            if above.size == 0:
                return False
            magnitude = np.abs(self._rows[:, above]).max(axis=0)
            bound = CACHE_ROUNDING * np.maximum(self.scale[above], magnitude)
            return bool(np.any(fourth[above] > bound))
