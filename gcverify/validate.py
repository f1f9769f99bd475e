"""Argument validation for the checker: every message is ``name=value problem; fix``.

Valid parameters come back as a new flat vector the checker owns; valid data (X, Y)
come back as the caller's own arrays when they are arrays, which the checker never
writes into and never hands to the user's code (that gets copies).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from gcverify.errors import invalid_argument
from gcverify.params import ParamLayout, gradient_key

__all__ = [
    "AnalyticGradient",
    "callable_signature",
    "validate_callable",
    "validate_data",
    "validate_gradients",
    "validate_parameters",
]


# numpy's dtype kinds of the booleans and integers, and of every real number.
_INTEGER_KINDS, _REAL_KINDS = "biu", "biuf"


def _dtype_problem(array: np.ndarray, kind_of_thing: str) -> tuple[str, str] | None:
    """Why ``array``'s dtype cannot be checked, and the fix; None if it is float64.

    A float64 in the other byte order (``>f8`` on a little-endian machine, as read from
    some files) holds the same numbers: it is float64, not "wider".
    """
    dtype = array.dtype
    if dtype.kind == "f":
        if dtype.itemsize < 8:
            return ("is too coarse for gradient checking (its rounding is near the 2e-7 "
                    "threshold)", f"compute {kind_of_thing} in float64, e.g. "
                    ".astype(np.float64)")
        if dtype.itemsize != 8:
            return ("is wider than float64, which the checker computes in",
                    f"pass {kind_of_thing} as float64, e.g. .astype(np.float64)")
        return None
    if dtype.kind in _INTEGER_KINDS:
        return ("is not floating point", f"pass {kind_of_thing} as float64, "
                "e.g. .astype(np.float64)")
    if dtype.kind == "c":
        return ("is complex", f"pass real {kind_of_thing} as float64")
    return ("is not numeric", f"pass {kind_of_thing} as float64 arrays, "
            "e.g. np.asarray(value, dtype=np.float64)")


def validate_parameters(parameters: Any) -> tuple[ParamLayout, np.ndarray]:
    """The layout of ``parameters`` and a new flat float64 copy of them.

    Raises :class:`InvalidArgument` for anything that cannot be checked. The copy is
    what the checker perturbs and hands to the user's code; the caller's arrays are
    only read.
    """
    if not isinstance(parameters, Mapping):
        raise invalid_argument("parameters", parameters, "is not a dict of arrays",
                               "pass e.g. {'W1': W1, 'b1': b1}")
    if not parameters:
        raise invalid_argument("parameters", parameters, "is empty",
                               "pass at least one parameter array")
    arrays = {}
    for name, value in parameters.items():
        if not isinstance(name, str):
            raise invalid_argument("parameters.keys()", list(parameters),
                                   f"has a non-string key {name!r}",
                                   "name each block with a string such as 'W1'")
        array = np.asarray(value)       # the array itself, or a base-class view
        where = f"parameters[{name!r}]"
        problem = _dtype_problem(array, "parameters")
        if problem:
            raise invalid_argument(f"{where}.dtype", array.dtype, *problem)
        if array.size == 0:
            raise invalid_argument(f"{where}.shape", array.shape, "is empty",
                                   "every block needs at least one entry")
        arrays[name] = array
    layout = ParamLayout.from_parameters(arrays)
    theta = layout.flatten(arrays)
    finite = np.isfinite(theta)
    if not finite.all():
        name, index = layout.locate(int(np.argmin(finite)))
        where = f"[{', '.join(map(str, index))}]" if index else ""
        raise invalid_argument(f"parameters[{name!r}]{where}",
                               float(theta[np.argmin(finite)]), "is not finite",
                               "pass finite parameters")
    return layout, theta


@dataclass(frozen=True)
class AnalyticGradient:
    """The analytic gradient as the checker reads it.

    ``vector``: a new flat float64 vector in the layout's order, 0 where a block is
    missing (a forgotten gradient is, in effect, zero). ``keys``: the key each block
    was found under (``"dW1"`` or ``"W1"``; ``"dW1"`` when missing), the block's one name
    in every report. ``missing``: the blocks with no gradient. ``stray``: keys that name
    no parameter and are not intermediates such as ``dZ1`` (a typo like ``"db_3"``, a
    tuple), as ``repr`` strings.
    """

    vector: np.ndarray
    keys: tuple[str, ...]
    missing: tuple[str, ...] = ()
    stray: tuple[str, ...] = ()


def validate_gradients(gradients: Any, layout: ParamLayout,
                       source: str = "gradients") -> AnalyticGradient:
    """The analytic gradient of each block, read from ``gradients``.

    Keys may be the parameter names (``"W1"``) or the notebook's (``"dW1"``);
    intermediate gradients (``"dZ1"``, ``"dA1"``) are ignored. A block with no gradient
    is not an error here: it makes the check FAIL (a backward pass that forgets a
    gradient has a bug), and so do non-finite values. Keys naming both ``"W1"`` and
    ``"dW1"`` are ambiguous: an error naming both.

    >>> layout = ParamLayout(("W1", "b1"), ((1, 2), (1, 1)))
    >>> found = validate_gradients({"dW1": np.ones((1, 2)), "db_1": np.ones((1, 1))}, layout)
    >>> found.vector.tolist(), found.keys, found.missing, found.stray
    ([1.0, 1.0, 0.0], ('dW1', 'db1'), ('b1',), ("'db_1'",))
    """
    if not isinstance(gradients, Mapping):
        raise invalid_argument(source, gradients, "is not a dict of arrays",
                               "give a dict like {'dW1': dW1, 'db1': db1}, as the "
                               "notebook's backward_propagation_n returns")
    vector = np.zeros(layout.size)
    keys, missing = [], []
    for name, shape, start, stop in zip(layout.names, layout.shapes, layout.offsets,
                                        layout.offsets[1:]):
        found = [key for key in (name, gradient_key(name)) if key in gradients]
        if len(found) == 2:
            raise invalid_argument(f"{source}.keys()", _shown_keys(gradients),
                                   f"has both {name!r} and {gradient_key(name)!r}",
                                   "keep one gradient per parameter")
        if not found:
            keys.append(gradient_key(name))
            missing.append(name)
            continue
        key = found[0]
        keys.append(key)
        array = np.asarray(gradients[key])
        problem = _dtype_problem(array, "gradients")
        if problem:
            raise invalid_argument(f"{source}[{key!r}].dtype", array.dtype, *problem)
        if array.shape != shape:
            raise invalid_argument(f"{source}[{key!r}].shape", array.shape,
                                   f"does not match parameters[{name!r}].shape={shape}",
                                   "give each gradient the shape of its parameter")
        vector[start:stop] = array.ravel()
    return AnalyticGradient(vector, tuple(keys), tuple(missing),
                            _stray_keys(gradients, layout))


def _stray_keys(gradients: Mapping[Any, Any], layout: ParamLayout) -> tuple[str, ...]:
    """Keys that name no parameter: not strings, or strings that look like a parameter's
    gradient (``dW4``, ``db_3``, ``W 1``) rather than an intermediate (``dZ1``, ``dA1``)."""
    known = set(layout.names) | {gradient_key(name) for name in layout.names}
    stray = []
    for key in gradients:
        if not isinstance(key, str):
            stray.append(repr(key))
        elif key not in known and _looks_like_a_parameter(key, layout):
            stray.append(repr(key))
    return tuple(stray)


def _looks_like_a_parameter(key: str, layout: ParamLayout) -> bool:
    plain = key[1:] if key.startswith("d") else key
    if plain[:1] in ("W", "b"):
        return True
    targets = [name.lower() for name in (*layout.names, *map(gradient_key, layout.names))]
    return bool(difflib.get_close_matches(key.lower(), targets, cutoff=0.75))


def _shown_keys(gradients: Mapping[Any, Any]) -> list[str]:
    return sorted(map(str, gradients))


def validate_callable(name: str, value: Any, signature: str) -> None:
    if not callable(value):
        raise invalid_argument(name, value, "is not callable", f"pass a function {signature}")


def validate_data(name: str, value: Any) -> np.ndarray:
    """A numeric, finite, non-empty array from ``X`` or ``Y``: the caller's own array
    when it is one (no copy: the check never writes into it, and the user's code only
    ever receives copies of it)."""
    array = np.asarray(value)
    if array.dtype.kind not in _REAL_KINDS:
        raise invalid_argument(name, value, "is not a numeric array",
                               f"pass {name} as a float64 array, e.g. "
                               f"np.asarray({name}, dtype=np.float64)")
    if array.size == 0:
        raise invalid_argument(f"{name}.shape", array.shape, "is empty",
                               "pass at least one example")
    _require_finite(name, array, "pass finite inputs (drop or impute missing values)")
    return array


def _require_finite(name: str, array: np.ndarray, fix: str) -> None:
    finite = np.isfinite(array)
    if not finite.all():
        where = np.unravel_index(int(np.argmin(finite)), array.shape)
        index = ", ".join(str(int(i)) for i in where)
        raise invalid_argument(f"{name}[{index}]" if array.ndim else name,
                               float(array[where]), "is not finite", fix)


def callable_signature(kind: str) -> str:
    return {"cost": "cost(parameters) -> float",
            "forward": "forward(X, Y, parameters) -> (cost, cache)",
            "backward": "backward(X, Y, cache) -> gradients"}[kind]

