"""One flat vector for a dict of parameter arrays, and back.

The notebook's ``dictionary_to_vector`` / ``vector_to_dictionary`` /
``gradients_to_vector`` hard-code six arrays and 47 numbers; :class:`ParamLayout`
does the same for any ordered mapping of arrays, and understands the notebook's
gradient-key convention (the gradient of ``"W1"`` is stored under ``"dW1"``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from gcverify.errors import invalid_argument

__all__ = ["ParamLayout", "gradient_key"]


def gradient_key(name: str) -> str:
    """The notebook's key for the gradient of parameter ``name``.

    >>> gradient_key("W1")
    'dW1'
    """
    return "d" + name


@dataclass(frozen=True)
class ParamLayout:
    """Names and shapes of parameter blocks, in order, laid end to end in one vector.

    Block ``names[k]`` occupies ``vector[offsets[k]:offsets[k + 1]]`` in C order,
    exactly as ``np.reshape(array, (-1, 1))`` followed by concatenation would put it.

    Examples
    --------
    >>> layout = ParamLayout.from_parameters({"W1": np.ones((2, 3)), "b1": np.zeros((2, 1))})
    >>> layout.size
    8
    >>> theta = layout.flatten({"W1": np.ones((2, 3)), "b1": np.zeros((2, 1))})
    >>> layout.unflatten(theta)["b1"].shape
    (2, 1)
    """

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]

    def __post_init__(self) -> None:
        if len(self.names) != len(self.shapes):
            raise invalid_argument(
                "shapes", self.shapes, f"has {len(self.shapes)} entries for "
                f"{len(self.names)} names", "give one shape per name")
        if len(set(self.names)) != len(self.names):
            raise invalid_argument("names", self.names, "contains duplicates",
                                   "give each parameter block a distinct name")

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any]) -> ParamLayout:
        """The layout of ``parameters``, in its iteration order."""
        names = tuple(parameters)
        return cls(names, tuple(tuple(np.shape(parameters[name])) for name in names))

    @cached_property
    def sizes(self) -> tuple[int, ...]:
        """Number of entries of each block."""
        return tuple(math.prod(shape) for shape in self.shapes)

    @cached_property
    def offsets(self) -> tuple[int, ...]:
        """Start of each block in the flat vector, then the total size."""
        return (0, *itertools.accumulate(self.sizes))

    @property
    def size(self) -> int:
        """Total number of parameters."""
        return self.offsets[-1]

    def slice_of(self, name: str) -> slice:
        """Where block ``name`` lives in the flat vector."""
        k = self.names.index(name)
        return slice(self.offsets[k], self.offsets[k + 1])

    @cached_property
    def block_ids(self) -> np.ndarray:
        """For every flat index, the position of its block in :attr:`names`."""
        return np.repeat(np.arange(len(self.names)), self.sizes)

    def entry_names(self) -> list[str]:
        """The block name of every flat index (the notebook's ``keys`` list)."""
        return [name for name, size in zip(self.names, self.sizes) for _ in range(size)]

    def locate(self, index: int) -> tuple[str, tuple[int, ...]]:
        """Block name and index inside the block of flat index ``index``.

        >>> ParamLayout(("W", "b"), ((2, 2), (2, 1))).locate(5)
        ('b', (1, 0))
        """
        k = int(np.searchsorted(self.offsets, index, side="right")) - 1
        inner = np.unravel_index(index - self.offsets[k], self.shapes[k])
        return self.names[k], tuple(int(i) for i in inner)

    def flatten(self, parameters: Mapping[str, Any], *, gradients: bool = False,
                out: np.ndarray | None = None) -> np.ndarray:
        """A new float64 vector holding the blocks of ``parameters`` in layout order
        (written into ``out`` instead, when given: a flat float64 vector of the size).

        With ``gradients=True`` each block ``name`` is looked up under ``name`` or,
        failing that, under the notebook's ``"d" + name``; other keys (``dZ1``,
        ``dA1``...) are ignored.
        """
        if out is None:
            out = np.empty(self.size, dtype=np.float64)
        for name, shape, start, stop in zip(self.names, self.shapes, self.offsets,
                                            self.offsets[1:]):
            array = np.asarray(self._lookup(parameters, name, gradients))
            if array.shape != shape:
                key = name if not gradients or name in parameters else gradient_key(name)
                raise invalid_argument(
                    f"{'gradients' if gradients else 'parameters'}[{key!r}].shape",
                    array.shape, f"does not match the layout's {shape}",
                    "give every block the shape of its parameter")
            out[start:stop] = array.reshape(-1)
        return out

    def flatten_gradients(self, gradients: Mapping[str, Any]) -> np.ndarray:
        """:meth:`flatten` for a gradient dict in either key convention."""
        return self.flatten(gradients, gradients=True)

    def unflatten(self, vector: np.ndarray) -> dict[str, np.ndarray]:
        """Blocks of ``vector`` (shape ``(P,)`` or the notebook's ``(P, 1)``) as a dict.

        The arrays are views into ``vector``: no copy is made, as in the notebook.
        """
        flat = self._as_flat(vector)
        return {name: flat[start:stop].reshape(shape)
                for name, shape, start, stop in zip(self.names, self.shapes, self.offsets,
                                                    self.offsets[1:])}

    def unflatten_batch(self, vectors: np.ndarray) -> dict[str, np.ndarray]:
        """Blocks of a ``(B, P)`` matrix of vectors, each shaped ``(B, *shape)`` (views)."""
        vectors = np.asarray(vectors)
        if vectors.ndim != 2 or vectors.shape[1] != self.size:
            raise invalid_argument("vectors.shape", vectors.shape,
                                   f"is not (B, {self.size})",
                                   "stack one flat parameter vector per row")
        return {name: vectors[:, start:stop].reshape((len(vectors), *shape))
                for name, shape, start, stop in zip(self.names, self.shapes, self.offsets,
                                                    self.offsets[1:])}

    def _as_flat(self, vector: np.ndarray) -> np.ndarray:
        vector = np.asarray(vector)
        if vector.size != self.size or vector.ndim > 2 or (
                vector.ndim == 2 and 1 not in vector.shape):
            raise invalid_argument("vector.shape", vector.shape,
                                   f"cannot hold this layout's {self.size} parameters",
                                   f"pass shape ({self.size},) or ({self.size}, 1)")
        return vector.reshape(-1)

    @staticmethod
    def _lookup(mapping: Mapping[str, Any], name: str, gradients: bool) -> Any:
        if name in mapping:
            return mapping[name]
        if gradients and gradient_key(name) in mapping:
            return mapping[gradient_key(name)]
        what = "gradients" if gradients else "parameters"
        keys = f"{name!r} or {gradient_key(name)!r}" if gradients else repr(name)
        raise invalid_argument(f"{what}.keys()", sorted(mapping), f"lacks {keys}",
                               f"add the {'gradient' if gradients else 'array'} of "
                               f"parameter {name!r}")
