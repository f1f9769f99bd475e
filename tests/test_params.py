"""ParamLayout: exact round trips, the gradient-key convention, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gcverify import InvalidArgument, ParamLayout, gradient_key

shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@st.composite
def parameter_dicts(draw):
    names = draw(st.lists(st.text("abWZ", min_size=1, max_size=3), min_size=1, max_size=5,
                          unique=True))
    return {name: draw(hnp.arrays(np.float64, draw(shapes), elements=finite))
            for name in names}


@given(parameter_dicts())
def test_flatten_unflatten_round_trip_is_exact(parameters):
    layout = ParamLayout.from_parameters(parameters)
    vector = layout.flatten(parameters)
    assert vector.shape == (layout.size,)
    back = layout.unflatten(vector)
    assert list(back) == list(parameters)
    for name, array in parameters.items():
        np.testing.assert_array_equal(back[name], array)   # bitwise, -0.0 included
        assert np.array_equal(np.signbit(back[name]), np.signbit(array))
    np.testing.assert_array_equal(layout.flatten(back), vector)


@given(parameter_dicts())
def test_flatten_copies_and_leaves_the_input_alone(parameters):
    before = {name: array.copy() for name, array in parameters.items()}
    layout = ParamLayout.from_parameters(parameters)
    vector = layout.flatten(parameters)
    vector[:] = 7.0
    for name in parameters:
        np.testing.assert_array_equal(parameters[name], before[name])


@given(parameter_dicts(), st.data())
def test_locate_agrees_with_unflatten(parameters, data):
    layout = ParamLayout.from_parameters(parameters)
    index = data.draw(st.integers(0, layout.size - 1))
    vector = np.zeros(layout.size)
    vector[index] = 1.0
    name, inner = layout.locate(index)
    assert layout.unflatten(vector)[name][inner] == 1.0
    assert layout.names[layout.block_ids[index]] == name
    assert layout.entry_names()[index] == name


def test_gradients_in_either_key_convention():
    layout = ParamLayout(("W1", "b1"), ((2, 2), (2, 1)))
    plain = {"W1": np.ones((2, 2)), "b1": np.full((2, 1), 2.0)}
    notebook = {gradient_key(k): v for k, v in plain.items()} | {"dZ1": np.zeros(3)}
    np.testing.assert_array_equal(layout.flatten_gradients(plain),
                                  layout.flatten_gradients(notebook))


def test_notebook_column_vectors_are_accepted():
    layout = ParamLayout(("W",), ((2, 3),))
    column = np.arange(6.0).reshape(-1, 1)
    np.testing.assert_array_equal(layout.unflatten(column)["W"], column.reshape(2, 3))


def test_unflatten_batch_gives_views_per_row():
    layout = ParamLayout(("W", "b"), ((2, 3), (2, 1)))
    matrix = np.arange(16.0).reshape(2, 8)
    blocks = layout.unflatten_batch(matrix)
    assert blocks["W"].shape == (2, 2, 3) and blocks["b"].shape == (2, 2, 1)
    np.testing.assert_array_equal(blocks["b"][1].ravel(), [14.0, 15.0])


@pytest.mark.parametrize(("call", "message"), [
    (lambda: ParamLayout(("W",), ((2,), (3,))),
     "shapes=((2,), (3,)) has 2 entries for 1 names; give one shape per name"),
    (lambda: ParamLayout(("W", "W"), ((2,), (3,))),
     "names=('W', 'W') contains duplicates; give each parameter block a distinct name"),
    (lambda: ParamLayout(("W",), ((2,),)).flatten({"b": np.ones(2)}),
     "parameters.keys()=['b'] lacks 'W'; add the array of parameter 'W'"),
    (lambda: ParamLayout(("W",), ((2,),)).flatten_gradients({"db": np.ones(2)}),
     "gradients.keys()=['db'] lacks 'W' or 'dW'; add the gradient of parameter 'W'"),
    (lambda: ParamLayout(("W",), ((2,),)).flatten({"W": np.ones(3)}),
     "parameters['W'].shape=(3,) does not match the layout's (2,); "
     "give every block the shape of its parameter"),
    (lambda: ParamLayout(("W",), ((2,),)).flatten_gradients({"dW": np.ones(3)}),
     "gradients['dW'].shape=(3,) does not match the layout's (2,); "
     "give every block the shape of its parameter"),
    (lambda: ParamLayout(("W",), ((2,),)).unflatten(np.ones(3)),
     "vector.shape=(3,) cannot hold this layout's 2 parameters; pass shape (2,) or (2, 1)"),
    (lambda: ParamLayout(("W",), ((2,),)).unflatten_batch(np.ones(2)),
     "vectors.shape=(2,) is not (B, 2); stack one flat parameter vector per row"),
])
def test_errors_name_the_argument_and_the_fix(call, message):
    with pytest.raises(InvalidArgument) as info:
        call()
    assert str(info.value) == message
