"""Argument validation's dtype rules, pinned: what float64 is, and what "wider" says.

These tests were written to kill mutmut's survivors in ``gcverify/validate.py``
(``.ci/mutmut``); each states a rule of ``_dtype_problem``: a float64 is accepted in
either byte order (a big-endian ``>f8``, as some files store it, holds the same numbers:
one survivor showed it was called "wider than float64"), and a float wider than float64
gets its own exact message and fix, for parameters and for gradients alike.
"""

from __future__ import annotations

import numpy as np
import pytest

from gcverify import InvalidArgument
from gcverify.params import ParamLayout
from gcverify.validate import validate_gradients, validate_parameters

SWAPPED = np.dtype(np.float64).newbyteorder()      # ">f8" on a little-endian machine
WIDE = np.dtype(np.longdouble)


def test_a_float64_in_the_other_byte_order_is_float64():
    W = np.array([[1.5, -2.0], [0.25, 3.0]], dtype=SWAPPED)
    layout, theta = validate_parameters({"W": W, "b": np.array([7.0])})
    assert theta.dtype == np.float64 and theta.dtype.isnative
    assert theta.tolist() == [1.5, -2.0, 0.25, 3.0, 7.0]
    found = validate_gradients({"dW": W, "db": np.array([1.0], dtype=SWAPPED)}, layout)
    assert found.vector.tolist() == [1.5, -2.0, 0.25, 3.0, 1.0]
    assert found.missing == ()


@pytest.mark.skipif(WIDE.itemsize == 8, reason="this platform's long double is float64")
def test_a_wider_float_has_its_own_message_and_fix():
    with pytest.raises(InvalidArgument) as info:
        validate_parameters({"w": np.ones(2, dtype=WIDE)})
    assert str(info.value) == (f"parameters['w'].dtype={WIDE} is wider than float64, which "
                               "the checker computes in; pass parameters as float64, e.g. "
                               ".astype(np.float64)")
    layout = ParamLayout(("w",), ((2,),))
    with pytest.raises(InvalidArgument) as info:
        validate_gradients({"dw": np.ones(2, dtype=WIDE)}, layout)
    assert str(info.value) == (f"gradients['dw'].dtype={WIDE} is wider than float64, which "
                               "the checker computes in; pass gradients as float64, e.g. "
                               ".astype(np.float64)")


def test_a_coarse_float_in_the_other_byte_order_is_still_too_coarse():
    coarse = np.dtype(np.float32).newbyteorder()
    with pytest.raises(InvalidArgument) as info:
        validate_parameters({"w": np.ones(2, dtype=coarse)})
    assert str(info.value).startswith(f"parameters['w'].dtype={coarse} is too coarse for "
                                      "gradient checking")
