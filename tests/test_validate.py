"""Argument validation, called directly: what ``gcverify.validate`` accepts and returns.

``tests/test_check_errors.py`` pins 35 messages through the public API; here the
functions are called on their own, for what that table does not show: the copies they
return (the caller's arrays are never reachable from the checker), the order of the
flat vectors, which inputs are accepted, and the messages for the dtypes, shapes and
positions that table does not try.
"""

from __future__ import annotations

import re
from types import MappingProxyType

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gcverify import InvalidArgument
from gcverify.params import ParamLayout
from gcverify.validate import (
    callable_signature,
    validate_callable,
    validate_data,
    validate_gradients,
    validate_parameters,
)

LAYOUT = ParamLayout(("W1", "b1", "W2"), ((2, 3), (2, 1), (1, 2)))


def parameters():
    return {"W1": np.arange(6.0).reshape(2, 3), "b1": np.array([[0.5], [-0.5]]),
            "W2": np.array([[7.0, 8.0]])}


def gradients(**changes):
    base = {"dW1": np.ones((2, 3)), "db1": np.full((2, 1), 2.0), "dW2": np.full((1, 2), 3.0)}
    return {**base, **changes}


def message(call):
    with pytest.raises(InvalidArgument) as info:
        call()
    return str(info.value)


# --- validate_parameters ------------------------------------------------------------------

def test_parameters_come_back_as_a_layout_and_a_new_flat_float64_copy():
    callers = parameters()
    layout, theta = validate_parameters(callers)
    assert layout == LAYOUT
    assert theta.dtype == np.float64 and theta.shape == (10,)
    assert theta.tolist() == [0, 1, 2, 3, 4, 5, 0.5, -0.5, 7, 8]
    theta[:] = -1.0
    for name, array in parameters().items():
        assert callers[name].tobytes() == array.tobytes()


def test_the_flat_order_is_the_dicts_order_and_each_block_is_in_c_order():
    fortran = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    layout, theta = validate_parameters({"b": np.array([9.0]), "W": fortran,
                                         "v": np.arange(8.0)[::2]})
    assert layout.names == ("b", "W", "v")
    assert theta.tolist() == [9, 0, 1, 2, 3, 4, 5, 0, 2, 4, 6]


@given(st.lists(hnp.arrays(np.float64, hnp.array_shapes(max_dims=3, max_side=3),
                           elements=st.floats(-1e6, 1e6)), min_size=1, max_size=4))
def test_unflattening_the_copy_gives_back_the_callers_arrays(arrays):
    callers = {f"p{k}": array for k, array in enumerate(arrays)}
    layout, theta = validate_parameters(callers)
    assert not any(np.shares_memory(theta, array) for array in arrays)
    for name, block in layout.unflatten(theta).items():
        assert np.array_equal(block, callers[name])


@pytest.mark.parametrize(("value", "shape"), [
    pytest.param([1.0, 2.0], (2,), id="a list of floats"),
    pytest.param(3.0, (), id="a Python float"),
    pytest.param(np.float64(3.0), (), id="a numpy scalar"),
    pytest.param(np.ones((2, 2))[:, 0], (2,), id="a strided view"),
])
def test_float64_values_in_any_container_are_accepted(value, shape):
    layout, theta = validate_parameters({"p": value})
    assert layout.shapes == (shape,) and theta.tolist() == np.ravel(value).tolist()


def test_any_mapping_is_accepted():
    layout, _ = validate_parameters(MappingProxyType({"W": np.ones(2)}))
    assert layout.names == ("W",)


# The dtypes test_check_errors.py does not try; each kind has its own message and fix.
NOT_FLOAT = "is not floating point; pass {0} as float64, e.g. .astype(np.float64)"
COARSE = ("is too coarse for gradient checking (its rounding is near the 2e-7 threshold); "
          "compute {0} in float64, e.g. .astype(np.float64)")
COMPLEX = "is complex; pass real {0} as float64"
NOT_NUMERIC = "is not numeric; pass {0} as float64 arrays, e.g. np.asarray(value, dtype=np.float64)"

DTYPES = [
    pytest.param(np.int32, NOT_FLOAT, id="int32"),
    pytest.param(np.uint8, NOT_FLOAT, id="uint8"),
    pytest.param(np.bool_, NOT_FLOAT, id="bool"),
    pytest.param(np.float16, COARSE, id="float16"),
    pytest.param(np.complex64, COMPLEX, id="complex64"),
    pytest.param("U3", NOT_NUMERIC, id="strings"),
    pytest.param("datetime64[s]", NOT_NUMERIC, id="datetimes"),
]


@pytest.mark.parametrize(("dtype", "problem"), DTYPES)
def test_each_kind_of_parameter_dtype_has_its_message(dtype, problem):
    array = np.zeros((2, 2), dtype=dtype)
    assert message(lambda: validate_parameters({"W": np.ones(1), "V": array})) == (
        f"parameters['V'].dtype={array.dtype} " + problem.format("parameters"))


@pytest.mark.parametrize("shape", [(0,), (3, 0), (2, 0, 4)])
def test_an_empty_block_is_rejected_with_its_shape(shape):
    assert message(lambda: validate_parameters({"W": np.ones(2), "b": np.ones(shape)})) == (
        f"parameters['b'].shape={shape} is empty; every block needs at least one entry")


@pytest.mark.parametrize(("blocks", "where"), [
    pytest.param({"b": [1.0, np.inf, -np.inf]}, "parameters['b'][1]=inf", id="1-d"),
    pytest.param({"W": np.where(np.arange(24).reshape(2, 3, 4) == 14, -np.inf, 1.0)},
                 "parameters['W'][1, 0, 2]=-inf", id="3-d"),
    pytest.param({"W": np.ones((2, 2)), "b": np.array([[0.0], [np.nan]])},
                 "parameters['b'][1, 0]=nan", id="second block"),
    pytest.param({"W": np.array([[1.0, np.nan], [np.inf, 1.0]]), "b": [np.nan]},
                 "parameters['W'][0, 1]=nan", id="the first in flat order"),
])
def test_a_non_finite_parameter_is_located_by_block_and_index(blocks, where):
    assert message(lambda: validate_parameters(blocks)) == (
        f"{where} is not finite; pass finite parameters")


# --- validate_gradients -------------------------------------------------------------------

@pytest.mark.parametrize("keys", [
    pytest.param({"W1": "dW1", "b1": "db1", "W2": "dW2"}, id="the notebook's dW1"),
    pytest.param({"W1": "W1", "b1": "b1", "W2": "W2"}, id="the parameters' W1"),
    pytest.param({"W1": "W1", "b1": "db1", "W2": "dW2"}, id="mixed"),
])
def test_gradients_are_flattened_in_the_layouts_order_under_either_key(keys):
    values = {"W1": np.ones((2, 3)), "b1": np.full((2, 1), 2.0), "W2": np.full((1, 2), 3.0)}
    callers = {keys[name]: values[name] for name in reversed(LAYOUT.names)}
    found = validate_gradients(callers, LAYOUT)
    vector = found.vector
    assert vector.tolist() == [1] * 6 + [2] * 2 + [3] * 2 and vector.dtype == np.float64
    assert found.keys == tuple(keys[name] for name in LAYOUT.names)   # each block's name
    assert (found.missing, found.stray) == ((), ())
    vector[:] = 0.0
    assert all(np.all(array != 0) for array in callers.values())      # a copy


def test_both_the_parameters_name_and_the_notebooks_key_are_ambiguous():
    given = gradients(W2=np.full((1, 2), 9.0))
    assert message(lambda: validate_gradients(given, LAYOUT)) == (
        "gradients.keys()=['W2', 'dW1', 'dW2', 'db1'] has both 'W2' and 'dW2'; keep one "
        "gradient per parameter")


@pytest.mark.parametrize("extra", ["dZ1", "dA1", "dA0", "dZ9", "dX", "dAL"])
def test_intermediate_gradients_are_ignored(extra):
    found = validate_gradients(gradients(**{extra: "anything"}), LAYOUT)
    assert found.vector.size == LAYOUT.size and (found.missing, found.stray) == ((), ())


@pytest.mark.parametrize("key", ["dW4", "db3", "W4", "b1x", "db_1", "dw1", ("db", 1), 7])
def test_a_key_that_names_no_parameter_is_stray_not_an_error(key):
    found = validate_gradients({**gradients(), key: 0.0}, LAYOUT)
    assert (found.missing, found.stray) == ((), (repr(key),))


@pytest.mark.parametrize("key", ["cost", "loss", "dZ1"])
def test_keys_far_from_any_parameter_are_neither_stray_nor_errors(key):
    assert validate_gradients({**gradients(), key: 0.0}, LAYOUT).stray == ()


@pytest.mark.parametrize(("key", "value", "shape", "expected"), [
    pytest.param("db1", np.ones(2), (2,), (2, 1), id="a bias as a vector"),
    pytest.param("dW2", np.ones((2, 1)), (2, 1), (1, 2), id="transposed"),
    pytest.param("dW1", 1.0, (), (2, 3), id="a scalar"),
])
def test_a_gradient_of_the_wrong_shape_names_both_shapes(key, value, shape, expected):
    name = key[1:]
    assert message(lambda: validate_gradients(gradients(**{key: value}), LAYOUT)) == (
        f"gradients[{key!r}].shape={shape} does not match parameters[{name!r}].shape="
        f"{expected}; give each gradient the shape of its parameter")


@pytest.mark.parametrize(("dtype", "problem"), DTYPES)
def test_each_kind_of_gradient_dtype_has_its_message(dtype, problem):
    array = np.zeros((2, 1), dtype=dtype)
    assert message(lambda: validate_gradients(gradients(db1=array), LAYOUT)) == (
        f"gradients['db1'].dtype={array.dtype} " + problem.format("gradients"))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_gradients_are_returned_for_the_check_to_fail(bad):
    vector = validate_gradients(gradients(dW2=np.array([[1.0, bad]])), LAYOUT).vector
    assert np.array_equal(vector[-2:], [1.0, bad], equal_nan=True)


def test_a_missing_gradient_is_not_an_error_but_a_zero_block_named_missing():
    # The check FAILs it (a backward pass that forgets a gradient has a bug).
    callers = gradients(dZ1=0, db_1=np.ones((2, 1)))
    del callers["db1"]
    found = validate_gradients(callers, LAYOUT)
    assert (found.missing, found.stray, found.keys) == (("b1",), ("'db_1'",),
                                                        ("dW1", "db1", "dW2"))
    assert found.vector[6:8].tolist() == [0.0, 0.0]


def test_the_source_of_the_gradients_names_them_when_they_are_not_a_dict():
    assert message(lambda: validate_gradients((1, 2), LAYOUT, "backward(X, Y, cache)")) == (
        "backward(X, Y, cache)=(1, 2) is not a dict of arrays; give a dict like {'dW1': dW1, "
        "'db1': db1}, as the notebook's backward_propagation_n returns")


# --- validate_data --------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "dtype"), [
    pytest.param(np.ones((3, 2)), np.float64, id="float64"),
    pytest.param(np.array([1, 0, 1], dtype=np.int64), np.int64, id="integer labels"),
    pytest.param([[1.0, 2.0]], np.float64, id="nested lists"),
    pytest.param(np.array([True, False]), np.bool_, id="booleans"),
    pytest.param(np.float32([0.5]), np.float32, id="float32 stays float32"),
])
def test_data_comes_back_as_an_array_of_its_own_dtype(value, dtype):
    array = validate_data("X", value)
    assert array.dtype == dtype and np.array_equal(array, value)


def test_an_array_is_not_copied_and_a_list_becomes_one():
    # (directional mode's memory: the user's code gets copies, the check keeps none)
    X = np.ones((2, 2))
    assert validate_data("X", X) is X
    assert isinstance(validate_data("X", [[1.0]]), np.ndarray)


def numeric_fix(name):
    return f"pass {name} as a float64 array, e.g. np.asarray({name}, dtype=np.float64)"


@pytest.mark.parametrize(("name", "value", "expected"), [
    pytest.param("Y", "abc", "Y='abc' is not a numeric array; " + numeric_fix("Y"), id="string"),
    pytest.param("X", None, "X=None is not a numeric array; " + numeric_fix("X"), id="None"),
    pytest.param("X", [1.0, None], "X=[1.0, None] is not a numeric array; " + numeric_fix("X"),
                 id="a missing value"),
    pytest.param("Y", np.zeros((2, 0, 3)), "Y.shape=(2, 0, 3) is empty; pass at least one "
                 "example", id="empty"),
    pytest.param("X", np.array(np.nan), "X=nan is not finite; pass finite inputs (drop or "
                 "impute missing values)", id="a scalar nan"),
    pytest.param("Y", np.full((2, 2, 2), -np.inf), "Y[0, 0, 0]=-inf is not finite; pass finite "
                 "inputs (drop or impute missing values)", id="3-d"),
    pytest.param("X", [[0.0, 1.0], [2.0, np.inf]], "X[1, 1]=inf is not finite; pass finite "
                 "inputs (drop or impute missing values)", id="the last entry"),
])
def test_bad_data_is_rejected_with_its_name_and_position(name, value, expected):
    assert message(lambda: validate_data(name, value)) == expected


# --- validate_callable and callable_signature ------------------------------------------------

class CallableObject:
    def __call__(self):
        return 0.0


@pytest.mark.parametrize("value", [len, lambda p: 0.0, CallableObject(), CallableObject, np.sum],
                         ids=["builtin", "lambda", "callable object", "class", "numpy function"])
def test_anything_callable_is_accepted(value):
    assert validate_callable("cost", value, callable_signature("cost")) is None


@pytest.mark.parametrize(("kind", "signature"), [
    ("cost", "cost(parameters) -> float"),
    ("forward", "forward(X, Y, parameters) -> (cost, cache)"),
    ("backward", "backward(X, Y, cache) -> gradients"),
])
def test_a_value_that_is_not_callable_is_rejected_with_the_expected_signature(kind, signature):
    assert callable_signature(kind) == signature
    assert message(lambda: validate_callable(kind, {"not": "callable"}, signature)) == (
        f"{kind}={{'not': 'callable'}} is not callable; pass a function {signature}")


def test_an_unknown_kind_of_function_has_no_signature():
    with pytest.raises(KeyError, match=re.escape("'loss'")):
        callable_signature("loss")


def test_a_wider_float_is_not_called_too_coarse():
    wide = np.longdouble if np.dtype(np.longdouble).itemsize > 8 else None
    if wide is None:
        pytest.skip("this platform's long double is float64")
    with pytest.raises(InvalidArgument) as info:
        validate_parameters({"w": np.ones(2, dtype=wide)})
    assert "is wider than float64" in str(info.value)


def test_a_non_finite_scalar_block_is_named_without_an_empty_index():
    with pytest.raises(InvalidArgument) as info:
        validate_parameters({"s": np.array(np.nan)})
    assert str(info.value).startswith("parameters['s']=nan is not finite")
