"""Argument validation for the checker: every message is ``name=value problem; fix``.

Valid arguments come back as new arrays the checker owns, so nothing the checker
(or the user's code it calls) does can reach the caller's arrays.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from gcverify.errors import invalid_argument
from gcverify.params import ParamLayout, gradient_key

__all__ = [
    "callable_signature",
    "validate_callable",
    "validate_data",
    "validate_gradients",
    "validate_parameters",
]


def _dtype_problem(array: np.ndarray, kind_of_thing: str) -> tuple[str, str] | None:
    """Why ``array``'s dtype cannot be checked, and the fix; None if it is float64."""
    dtype = array.dtype
    if dtype == np.float64:
        return None
    if dtype.kind == "f" and dtype.itemsize < 8:
        return ("is too coarse for gradient checking (its rounding is near the 2e-7 "
                "threshold)", f"compute {kind_of_thing} in float64, e.g. .astype(np.float64)")
    if dtype.kind == "f":
        return ("is wider than float64, which the checker computes in",
                f"pass {kind_of_thing} as float64, e.g. .astype(np.float64)")
    if dtype.kind in "biu":
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
        array = value if isinstance(value, np.ndarray) else np.asarray(value)
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


def validate_gradients(gradients: Any, layout: ParamLayout,
                       source: str = "gradients") -> np.ndarray:
    """The analytic gradient as a new flat float64 vector in ``layout``'s order.

    Keys may be the parameter names (``"W1"``) or the notebook's (``"dW1"``);
    intermediate gradients (``"dZ1"``, ``"dA1"``) are ignored. A key that looks like
    the gradient of a parameter that does not exist (``"dW4"``) is an error.
    Non-finite values are *not* an error here: they make the check FAIL.
    """
    if not isinstance(gradients, Mapping):
        raise invalid_argument(source, gradients, "is not a dict of arrays",
                               "give a dict like {'dW1': dW1, 'db1': db1}, as the "
                               "notebook's backward_propagation_n returns")
    names = set(layout.names)
    for key in gradients:
        if not isinstance(key, str):
            raise invalid_argument("gradients.keys()", list(gradients),
                                   f"has a non-string key {key!r}",
                                   "key gradients like 'dW1' or 'W1'")
        stripped = key[1:] if key.startswith("d") else key
        if key in names or stripped in names:
            continue
        if not key.startswith("d") or stripped[:1] in ("W", "b"):
            raise invalid_argument(f"gradients[{key!r}]", gradients[key],
                                   f"has no parameter {stripped!r}",
                                   f"remove it, or add {stripped!r} to parameters")
    for name, shape in zip(layout.names, layout.shapes):
        key = name if name in gradients else gradient_key(name)
        if key not in gradients:
            raise invalid_argument("gradients.keys()", sorted(gradients),
                                   f"lacks {name!r} or {gradient_key(name)!r}",
                                   f"add the gradient of parameter {name!r}")
        array = np.asarray(gradients[key])
        problem = _dtype_problem(array, "gradients")
        if problem:
            raise invalid_argument(f"gradients[{key!r}].dtype", array.dtype, *problem)
        if array.shape != shape:
            raise invalid_argument(f"gradients[{key!r}].shape", array.shape,
                                   f"does not match parameters[{name!r}].shape={shape}",
                                   "give each gradient the shape of its parameter")
    return layout.flatten_gradients(gradients)


def validate_callable(name: str, value: Any, signature: str) -> None:
    if not callable(value):
        raise invalid_argument(name, value, "is not callable", f"pass a function {signature}")


def validate_data(name: str, value: Any) -> np.ndarray:
    """A new numeric, finite, non-empty array from ``X`` or ``Y``."""
    array = np.array(value, copy=True)
    if array.dtype.kind not in "biuf":
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

