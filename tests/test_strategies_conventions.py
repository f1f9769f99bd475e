"""The strategies with each adapter and each example: data drawn in the shapes the code
expects (``layout``, ``labels``) passes the check on the correct example code.

Before ``labels="matrix"`` existed, ``cases(net)`` drew ``Y`` as ``(m,)`` integers, and
the course's ``compute_cost`` (``m = Y.shape[1]``) crashed under ``l_layer``; before
``layout="rows"``, nothing drew CS231n's ``X (m, n)``, ``y (m,)`` class labels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given

from gcverify import MLP, InvalidArgument, Verdict, check_backprop, check_loss_and_grads
from gcverify.adapters import key_map, l_layer, loss_and_grads, model, model_backprop
from gcverify.loading import load_module
from gcverify.mutation.examples import NetworkExamples
from gcverify.sampling import Domain, sample_case
from gcverify.strategies import batches, cases

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def example(name):
    return load_module(EXAMPLES / f"{name}.py")


notebook_style = example("notebook_style")
deep = example("l_layer")
scipy_style = example("loss_and_grads")
class_based = example("class_based")
row_major = example("row_major")

# The widths (and hidden activations, which bound the logits) of each example network.
NOTEBOOK_NET = MLP((3, 4, 1), "tanh")
DEEP_NET = MLP((5, 4, 3, 1), "relu")
ROWS_NET = MLP((4, 5, 3), "relu")        # the row examples' 4 features, 5 hidden, 3 classes


def passes(result):
    assert result.verdict is Verdict.PASS, result
    return True


# --- column layout --------------------------------------------------------------------------

@pytest.mark.parametrize("labels", ["flat", "matrix"])
def test_the_notebook_style_passes_in_either_label_form(labels):
    # tanh is smooth: Hypothesis's own hard cases (zeros, ties, one example) are fine.
    @given(cases(NOTEBOOK_NET, labels=labels))
    def property_(case):
        assert passes(check_backprop(notebook_style.forward_propagation,
                                     notebook_style.backward_propagation, *case))

    property_()


L_LAYER_VARIANTS = {
    "plain": lambda: l_layer(deep.L_model_forward, deep.compute_cost, deep.L_model_backward),
    "L2": lambda: l_layer(deep.L_model_forward, deep.compute_cost_with_regularization,
                          deep.L_model_backward_with_regularization, lambd=0.7),
    "dropout": lambda: l_layer(deep.L_model_forward, deep.compute_cost,
                               deep.L_model_backward, keep_prob=0.8),
}


@pytest.mark.parametrize("variant", sorted(L_LAYER_VARIANTS))
def test_the_l_layer_functions_pass_on_matrix_labels(variant):
    """The combination docs/ci-recipe.md recommends; it crashed at ``Y.shape[1]``."""
    backprop = L_LAYER_VARIANTS[variant]()

    @given(cases(DEEP_NET, labels="matrix", generic=True))   # generic: no exact ReLU kinks
    def property_(case):
        X, Y, parameters = case
        assert Y.shape == (1, X.shape[1]) and Y.dtype == np.float64
        assert passes(check_backprop(*backprop, X, Y, parameters))

    property_()


# --- row layout ------------------------------------------------------------------------------

@given(cases(ROWS_NET, layout="rows", generic=True))
def test_the_row_major_layer_functions_pass(case):
    assert passes(check_backprop(*loss_and_grads(row_major.loss, data=True), *case))


@given(cases(ROWS_NET, layout="rows", generic=True))
def test_a_loss_and_grads_closure_passes(case):
    X, y, parameters = case
    assert passes(check_loss_and_grads(scipy_style.make_loss(X, y), parameters))


@given(cases(ROWS_NET, layout="rows", generic=True))
def test_a_class_based_model_passes_with_drawn_parameters(case):
    assert passes(check_backprop(*model_backprop(class_based.TwoLayerNet(4, 5, 3)), *case))


@given(batches(ROWS_NET, layout="rows", generic=True))
def test_a_class_based_model_passes_on_drawn_batches_with_its_own_parameters(batch):
    X, y = batch
    assert passes(check_backprop(*model(class_based.TwoLayerNet(4, 5, 3), X, y)))


@given(cases(ROWS_NET, layout="rows", generic=True))
def test_gradients_under_other_names_pass_through_key_map(case):
    def loss_with_suffixed_grads(X, y, params):     # grads as "W1_grad", "b1_grad", ...
        loss, grads = row_major.loss(X, y, params)
        return loss, {f"{name}_grad": value for name, value in grads.items()}

    renamed = key_map(loss_with_suffixed_grads, lambda key: key.removesuffix("_grad"))
    assert passes(check_backprop(*loss_and_grads(renamed, data=True), *case))


# --- the shapes, and the CLI's ---------------------------------------------------------------

@pytest.mark.parametrize(("layout", "labels"), [("columns", "matrix"), ("rows", "flat")])
def test_sample_case_draws_what_the_command_line_generates(layout, labels):
    """``gcverify check --layers ... --layout L`` builds its data with NetworkExamples: the
    same shapes and dtypes, so a file checked from the command line takes these too."""
    for widths in [(4, 5, 3, 1), (4, 5, 3)]:
        X, Y, parameters = sample_case(MLP(widths), 7, Domain(min_examples=3, max_examples=3),
                                       layout=layout, labels=labels)
        X_cli, Y_cli, parameters_cli = NetworkExamples(widths, batch=3, layout=layout)(0)
        assert (X.shape, Y.shape, Y.dtype.kind) == (X_cli.shape, Y_cli.shape, Y_cli.dtype.kind)
        assert {k: v.shape for k, v in parameters.items()} == \
            {k: v.shape for k, v in parameters_cli.items()}


def test_the_row_layout_draws_class_labels_and_transposes_the_column_case():
    columns = sample_case(ROWS_NET, 3)
    X, y, parameters = sample_case(ROWS_NET, 3, layout="rows")
    assert np.array_equal(X, columns[0].T)
    assert y.dtype.kind == "i" and set(y.tolist()) <= {0, 1, 2}
    assert parameters["W1"].shape == (4, 5) and parameters["b2"].shape == (3,)


def test_the_default_is_unchanged_the_notebooks_flat_labels():
    X, Y, _ = sample_case(NOTEBOOK_NET, 3, Domain(min_examples=5, max_examples=5))
    assert Y.shape == (5,) and Y.dtype.kind == "i"
    matrix = sample_case(NOTEBOOK_NET, 3, Domain(min_examples=5, max_examples=5),
                         labels="matrix")
    assert np.array_equal(matrix[1], Y.reshape(1, 5).astype(float))


@pytest.mark.parametrize(("strategy", "text"), [
    (cases(ROWS_NET, layout="rows"), f"cases({ROWS_NET!r}, layout='rows')"),
    (batches(DEEP_NET, labels="matrix", generic=True),
     f"batches({DEEP_NET!r}, labels='matrix', generic=True)"),
])
def test_repr_shows_the_shape_options_when_changed(strategy, text):
    assert repr(strategy) == text


@pytest.mark.parametrize(("build", "message"), [
    (lambda: cases(ROWS_NET, layout="diagonal"),
     "layout='diagonal' is not one of columns, rows; pass e.g. layout='rows'"),
    (lambda: batches(ROWS_NET, labels="one-hot"),
     "labels='one-hot' is not one of flat, matrix; pass e.g. labels='matrix'"),
    (lambda: cases(ROWS_NET, layout="rows", labels="matrix"),
     "labels='matrix' is for the column layout: in the row layout y is one integer label "
     "per example; drop labels=, or pass layout='columns'"),
    (lambda: sample_case(ROWS_NET, 0, layout="Rows"),
     "layout='Rows' is not one of columns, rows; pass e.g. layout='rows'"),
])
def test_bad_shape_options_are_rejected_naming_the_argument(build, message):
    with pytest.raises(InvalidArgument) as info:
        build()
    assert str(info.value) == message
