"""Targets in every convention: the function mutated need not be the backward pass it is
checked through (a layer function, a method, a factory, a cost function), and each of
the operators for students' bugs has a mutant that the campaign kills with the check."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from gcverify.conventions import Convention
from gcverify.errors import InvalidArgument
from gcverify.mutation import custom_mutant, file_target, mutate, run_campaign
from gcverify.mutation.results import Outcome
from gcverify.mutation.targets import unloaded_file_target

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

ROW_MAJOR = {"convention": Convention("loss-and-grads", forward="loss"), "layers": (4, 5, 3),
             "layout": "rows"}
MODEL = {"convention": Convention("model", model="TwoLayerNet(4, 5, 3)"), "case": "make_data"}
SQUARE_MODEL = {"convention": Convention("model", model="TwoLayerNet(4, 4, 3)"),
                "case": "make_data"}
L_LAYER = {"convention": Convention("l-layer", forward="L_model_forward", cost="compute_cost",
                                    backward="L_model_backward"), "layers": (5, 4, 3, 1)}
DROPOUT = {**L_LAYER, "convention": Convention(
    "l-layer", forward="L_model_forward", cost="compute_cost", backward="L_model_backward",
    keep_prob=0.8)}
L2 = {"convention": Convention("l-layer", forward="L_model_forward",
                               cost="compute_cost_with_regularization",
                               backward="L_model_backward_with_regularization", lambd=0.7),
      "layers": (5, 4, 3, 1)}
LOSS_AND_GRADS = {"convention": Convention("loss-and-grads", forward="make_loss"),
                  "case": "make_case"}
NOTEBOOK = {"forward": "forward_propagation", "backward": "backward_propagation",
            "case": "make_case"}


def target(example: str, mutated: str | None = None, **options):
    return file_target(EXAMPLES / f"{example}.py", mutate=mutated, **options)


@pytest.mark.parametrize(("example", "options", "mutated", "expected"), [
    ("row_major", ROW_MAJOR, None, ("loss", "loss", "loss (loss-and-grads)")),
    ("row_major", ROW_MAJOR, "affine_backward",
     ("affine_backward", "affine_backward", "loss (loss-and-grads)")),
    ("class_based", MODEL, None,
     ("loss", "TwoLayerNet.loss", "net.loss of TwoLayerNet(4, 5, 3) (model)")),
    ("l_layer", L_LAYER, None,
     ("L_model_backward", "L_model_backward", "L_model_forward and compute_cost (l-layer)")),
    ("l_layer", L_LAYER, "compute_cost",
     ("compute_cost", "compute_cost", "L_model_forward and compute_cost (l-layer)")),
    ("loss_and_grads", LOSS_AND_GRADS, None,
     ("make_loss", "make_loss", "make_loss (loss-and-grads)")),
    ("notebook_style", NOTEBOOK, None,
     ("backward_propagation", "backward_propagation", "forward_propagation")),
])
def test_the_function_mutated_and_what_it_is_checked_against(example, options, mutated,
                                                             expected):
    made = target(example, mutated, **options)
    assert (made.source.name, made.mutated, made.forward_name) == expected
    X, Y, parameters = made.examples(0)
    loss = made.forward(X, Y, parameters)[0]
    assert np.isfinite(loss) and set(made.backward(X, Y, made.forward(X, Y, parameters)[1]))


def test_a_models_case_is_completed_with_the_models_own_parameters():
    made = target("class_based", **MODEL)
    X, y, parameters = made.examples(0)
    assert X.shape == (7, 4) and y.shape == (7,) and parameters["W1"].shape == (4, 5)
    _, _, jittered = made.examples(1)
    assert not np.array_equal(jittered["W1"], parameters["W1"])


@pytest.mark.parametrize(("files", "mutated", "message"), [
    ({"net.py": "from layers_elsewhere import affine_backward\n"
                "def loss(X, y, p):\n    return 0.0, {}\n",
      "layers_elsewhere.py": "def affine_backward(dout):\n    return dout\n"},
     "affine_backward",
     "mutate='affine_backward' is imported into {path}, not defined there"),
    ({"net.py": "import numpy as np\ndef loss(X, y, p):\n    return 0.0, {}\n"}, "np",
     "mutate='np' is a module, not a function"),
    ({"net.py": "def make():\n    def inner(p):\n        return 0.0, {}\n    return inner\n"
                "inner = make()\ndef loss(X, y, p):\n    return 0.0, {}\n"}, "inner",
     "mutate='inner' is no function or method the file defines at its top level"),
    ({"net.py": "def loss(X, y, p):\n    return 0.0, {}\n"}, "los",
     "mutate='los' is not a function defined in {path}; use one of loss"),
])
def test_what_cannot_be_mutated_is_named(tmp_path, files, mutated, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    path = tmp_path / "net.py"
    try:
        with pytest.raises(InvalidArgument) as raised:
            file_target(path, convention=Convention("loss-and-grads", forward="loss"),
                        layers=(2, 2), mutate=mutated)
    finally:
        sys.modules.pop("layers_elsewhere", None)  # imported by net.py
    assert message.replace("{path}", str(path)) in str(raised.value)


def test_several_functions_are_mutated_in_one_target_loaded_or_not():
    layers = ("loss", "affine_backward", "relu_backward")
    loaded = target("row_major", layers, **ROW_MAJOR)
    unloaded = unloaded_file_target(EXAMPLES / "row_major.py", mutate=layers, **ROW_MAJOR)
    for made in (loaded, unloaded):
        assert [name for name, _ in made.sources] == list(layers)
        assert made.label == "row_major.py::loss, affine_backward, relu_backward"
        assert made.function_names == "loss, affine_backward, relu_backward"
        assert made.mutated == "loss" and made.source.name == "loss"
        lines = [source.first_line for _, source in made.sources]
        assert made.located_names == (f"loss (line {lines[0]}), affine_backward (line "
                                      f"{lines[1]}), relu_backward (line {lines[2]})")
        assert made.summary().endswith(f"row_major.py::{made.located_names}, checked against "
                                       f"{made.forward_name}")
        assert len(set(lines)) == 3
    alone = [m for name in layers for m in target("row_major", name, **ROW_MAJOR).mutants()]
    assert [m.id for m in loaded.mutants()] == [m.id for m in alone]
    # Unloaded, a source has no numpy alias: ``np.zeros_like(x)`` mutants read ``0``, so
    # some ids differ; the mutants are the same ones.
    assert [m.description for m in unloaded.mutants()] == [m.description for m in alone]


@pytest.mark.parametrize("mutated", [(), ("loss", "loss"), ("loss", 3)])
def test_mutate_must_name_distinct_functions(mutated):
    with pytest.raises(InvalidArgument, match="is not a name or a sequence of distinct names"):
        target("row_major", mutated, **ROW_MAJOR)


def test_an_unloaded_model_target_reads_the_method_from_the_text():
    made = unloaded_file_target(EXAMPLES / "class_based.py", **MODEL)
    assert (made.source.name, made.mutated, made.forward_name) == (
        "loss", "TwoLayerNet.loss", "net.loss of TwoLayerNet(4, 5, 3) (model)")
    loaded = target("class_based", **MODEL).source
    assert (made.source.text, made.source.first_line) == (loaded.text, loaded.first_line)
    assert [m.id for m in mutate(made.source)] == [m.id for m in mutate(loaded)]


# Each new operator, and where the campaign kills one of its mutants with the check.
KILLED = [
    ("activation_for_upstream", "row_major", None, ROW_MAJOR),
    ("activation_for_upstream", "l_layer", None, L_LAYER),
    ("flip_sigmoid_derivative", "l_layer", "sigmoid_backward", L_LAYER),
    ("normalise_twice", "class_based", None, MODEL),
    ("normalise_twice", "row_major", "softmax_loss", ROW_MAJOR),
    ("drop_cross_entropy_complement", "l_layer", None, L_LAYER),
    ("drop_cross_entropy_complement", "l_layer", "compute_cost", L_LAYER),
    ("drop_cross_entropy_complement", "notebook_style", "forward_propagation", NOTEBOOK),
    ("drop_regularization", "class_based", None, MODEL),
    ("drop_regularization", "loss_and_grads", None, LOSS_AND_GRADS),
    ("drop_regularization", "l_layer", "compute_cost_with_regularization", L2),
    ("drop_regularization", "l_layer", None, L2),
    ("drop_dropout_mask", "l_layer", None, DROPOUT),
    ("drop_keep_prob_division", "l_layer", None, DROPOUT),
    ("transpose_weight_gradient", "class_based", None, SQUARE_MODEL),
]


@pytest.mark.parametrize(("operator", "example", "mutated", "options"), KILLED,
                         ids=[f"{o}:{e}.{m or 'default'}" for o, e, m, _ in KILLED])
def test_each_new_operator_has_a_mutant_the_campaign_kills_with_the_check(
        operator, example, mutated, options):
    made = target(example, mutated, **options)
    mutants = [m for m in mutate(made.source) if m.operator == operator]
    assert mutants
    result = run_campaign(made, examples=2, mutants=mutants, jobs=2)
    outcomes = {r.mutant.description: r.outcome for r in result.results}
    assert Outcome.KILLED in outcomes.values(), outcomes
    assert Outcome.SURVIVED not in outcomes.values(), outcomes


def test_dropout_mutants_need_the_check_to_run_with_dropout():
    without = target("l_layer", **L_LAYER)
    mutants = [m for m in mutate(without.source) if m.family == "dropout"]
    result = run_campaign(without, examples=2, mutants=mutants, jobs=2)
    assert [r.outcome for r in result.results] == [Outcome.EQUIVALENT] * 2


def test_a_cost_mutant_is_judged_by_its_cost_not_by_the_unchanged_gradients():
    made = target("l_layer", "compute_cost", **L_LAYER)
    assert made.source.name == "compute_cost"

    def changed(new_line: str, description: str):
        text = made.source.text.replace(
            "    cost = -np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) / m",
            textwrap.indent(new_line, "    "))
        return custom_mutant(made.source, text, description=description)

    # Too small a change for the check to see, and the gradients are the original's:
    # only the cost tells it is no equivalent mutant.
    tiny = changed("cost = -np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) / m"
                   " * (1 + 1e-11)", "cost × (1 + 1e-11)")
    same = changed("cost = np.sum(-(Y * np.log(AL) + (1 - Y) * np.log(1 - AL))) / m",
                   "the minus moved inside the sum")
    result = run_campaign(made, examples=2, mutants=[tiny, same], jobs=2)
    by_description = {r.mutant.description: r for r in result.results}
    survivor = by_description["cost × (1 + 1e-11)"]
    assert survivor.outcome is Outcome.SURVIVED
    assert survivor.evidence.startswith("its gradients differ from the original's on 2 of 2")
    assert by_description["the minus moved inside the sum"].outcome is Outcome.EQUIVALENT
