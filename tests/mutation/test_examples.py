"""Example sources: seeded, independent of each other, in the checker's reliable domain."""

from __future__ import annotations

import numpy as np
import pytest

from gcverify import check_backprop
from gcverify.errors import InvalidArgument
from gcverify.models import MLP
from gcverify.models import notebook as nb
from gcverify.mutation import CaseExamples, NetworkExamples, NotebookExamples
from gcverify.mutation.examples import validate_example
from tests.mutation import tiny_network


def assert_same_example(first, second):
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert first[2].keys() == second[2].keys()
    for name in first[2]:
        np.testing.assert_array_equal(first[2][name], second[2][name])


def test_notebook_example_0_is_the_notebooks_test_case_and_leaves_the_global_state_alone():
    np.random.seed(123)
    expected_next = np.random.rand()
    np.random.seed(123)
    X, Y, parameters = NotebookExamples(seed=9)(0)
    assert np.random.rand() == expected_next
    assert_same_example((X, Y, parameters), nb.gradient_check_n_test_case())


def test_notebook_examples_are_seeded_and_independent_of_each_other():
    source = NotebookExamples(seed=1)
    later_first = [source(i) for i in (5, 2)]
    assert_same_example(later_first[0], NotebookExamples(seed=1)(5))
    assert_same_example(later_first[1], NotebookExamples(seed=1)(2))
    assert not np.array_equal(NotebookExamples(seed=2)(2)[0], later_first[1][0])


@pytest.mark.parametrize("index", range(1, 30))
def test_notebook_examples_are_notebook_shaped_with_moderate_logits(index):
    X, Y, parameters = NotebookExamples(seed=0)(index)
    m = X.shape[1]
    assert X.shape == (4, m) and Y.shape == (m,) and 2 <= m <= 6
    assert set(np.unique(Y)) <= {0, 1}
    assert {name: p.shape for name, p in parameters.items()} == dict(
        zip(nb.NOTEBOOK_LAYOUT.names, nb.NOTEBOOK_LAYOUT.shapes))
    cost, cache = nb.forward_propagation_n(X, Y, parameters)
    assert np.abs(cache[8]).max() <= 15 + 1e-12
    assert np.isfinite(cost)


def test_the_correct_backprop_passes_on_the_first_notebook_examples():
    source = NotebookExamples(seed=0)
    for index in range(12):
        result = check_backprop(nb.forward_propagation_n, nb.backward_propagation_n,
                                *source(index))
        assert result.verdict.value != "fail", result.summary()


def test_network_examples_fit_the_reference_network():
    source = NetworkExamples((3, 4, 2), seed=5)
    X, Y, parameters = source(3)
    net = MLP((3, 4, 2))
    assert X.shape[0] == 3 and Y.shape == (2, X.shape[1])
    assert {k: v.shape for k, v in parameters.items()} == dict(zip(net.layout.names,
                                                                   net.layout.shapes))
    assert check_backprop(net.forward, net.backward, X, Y, parameters).passed
    # One output unit: Y is (1, m) floats, as the notebook's (L-layer costs read Y.shape[1]).
    Y = NetworkExamples((3, 1), batch=4)(0)[1]
    assert Y.shape == (1, 4) and Y.dtype == np.float64


def test_network_examples_in_rows_fit_a_row_major_network():
    X, y, parameters = NetworkExamples((3, 4, 2), seed=5, batch=6, layout="rows")(1)
    assert X.shape == (6, 3) and y.shape == (6,) and y.dtype.kind == "i"
    assert set(np.unique(y)) <= {0, 1}
    assert {k: v.shape for k, v in parameters.items()} == {"W1": (3, 4), "b1": (4,),
                                                           "W2": (4, 2), "b2": (2,)}
    assert "examples in rows" in NetworkExamples((3, 2), layout="rows").description
    with pytest.raises(InvalidArgument,
                       match=r"^layout='cols' is not one of columns, rows; pass e\.g\. "
                             r"layout='rows'$"):
        NetworkExamples((3, 2), layout="cols")


def test_case_examples_start_with_the_case_and_jitter_the_rest():
    source = CaseExamples(tiny_network.case, seed=0)
    assert_same_example(source(0), validate_example(tiny_network.case()))
    X, Y, parameters = source(1)
    X0, Y0, parameters0 = tiny_network.case()
    np.testing.assert_array_equal(Y, Y0)
    assert X.shape == X0.shape and not np.array_equal(X, X0)
    assert all(not np.array_equal(parameters[k], parameters0[k]) for k in parameters0)
    assert "case()" in source.description


@pytest.mark.parametrize(("make", "message"), [
    (lambda: NotebookExamples(seed=-1), "seed=-1 is not a non-negative integer"),
    (lambda: NotebookExamples(logit_limit=0), "logit_limit=0 is not positive"),
    (lambda: NetworkExamples((4,)), r"layer_dims=\(4,\) is not a sequence of at least two"),
    (lambda: NetworkExamples((4, 1), batch=0), "batch=0 is not a positive integer"),
    (lambda: CaseExamples(42), "case=42 is not callable"),
    (lambda: NotebookExamples()(-1), "index=-1 is not a non-negative integer"),
    (lambda: CaseExamples(lambda: (1, 2))(0), r"case\(\)=\(1, 2\) is not a tuple"),
    (lambda: validate_example(([[1.0]], [1], [2.0])), r"example\[2\]=\[2.0\] is not a dict"),
])
def test_bad_example_sources(make, message):
    with pytest.raises(InvalidArgument, match=message):
        make()
