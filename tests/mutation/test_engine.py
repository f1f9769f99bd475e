"""The engine: sites, stable ids, diffs, in-memory compilation, and the notebook's bugs."""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import io
import os
import re
import subprocess
import sys
import textwrap
import traceback
from pathlib import Path

import numpy as np
import pytest

from gcverify.errors import InvalidArgument
from gcverify.models import notebook as nb
from gcverify.mutation import (
    FAMILIES,
    FunctionSource,
    combine_mutants,
    compile_source,
    custom_mutant,
    mutate,
    mutate_function,
    operator_named,
)
from gcverify.mutation.engine import is_gradient_name

NOTEBOOK_FILE = Path(inspect.getsourcefile(nb))


@pytest.fixture(scope="module")
def notebook_mutants():
    return mutate_function(nb.backward_propagation_n)


def by_description(mutants, description):
    (mutant,) = [m for m in mutants if m.description == description]
    return mutant


# --- the notebook ---------------------------------------------------------------------------

def test_the_two_engine_mutants_together_are_the_notebooks_buggy_backprop(notebook_mutants):
    pick = [by_description(notebook_mutants, "dW2 × 2"),
            by_description(notebook_mutants, "1. / m → 4. / m in db1")]
    assert [m.family for m in pick] == ["scale", "factor"]
    buggy = compile_source(pick[0].original, combine_mutants(pick), vars(nb))
    X, Y, parameters = nb.gradient_check_n_test_case()
    _, cache = nb.forward_propagation_n(X, Y, parameters)
    with contextlib.redirect_stdout(io.StringIO()):
        difference = nb.gradient_check_n(parameters, buggy(X, Y, cache), X, Y)
        seed = nb.gradient_check_n(parameters, nb.backward_propagation_n_buggy(X, Y, cache), X, Y)
    assert difference == seed
    assert difference == pytest.approx(0.2850931567761623, rel=5e-10)   # BLAS-stable digits


def test_the_combined_source_is_the_seeds_buggy_function_line_for_line(notebook_mutants):
    pick = [by_description(notebook_mutants, "dW2 × 2"),
            by_description(notebook_mutants, "1. / m → 4. / m in db1")]
    combined = combine_mutants(pick)
    buggy = inspect.getsource(nb.backward_propagation_n_buggy)

    def body(text):
        return text[text.index("    m = X.shape[1]"):]

    assert body(combined) == body(buggy)


def test_the_notebook_gives_at_least_40_mutants_in_at_least_8_families(notebook_mutants):
    assert len(notebook_mutants) >= 40
    families = {m.family for m in notebook_mutants}
    assert len(families) >= 8
    # The notebook's backward pass has no cost, no regularisation and no dropout in it.
    assert families == set(FAMILIES) - {"loss", "regularization", "dropout"}


def test_the_notebooks_mutants_are_the_142_of_before_and_11_of_the_students_operators(
        notebook_mutants):
    # Pinned (campaign verified: 153 mutants, 119 killed by the check, 32 by an error, the
    # same 2 equivalents, no survivor): the new operators add mutants, change none.
    new = {"activation_for_upstream": 7, "normalise_twice": 1, "transpose_weight_gradient": 3}
    counts = {name: sum(m.operator == name for m in notebook_mutants) for name in new}
    assert counts == new
    assert len(notebook_mutants) == 142 + sum(new.values()) == 153
    assert [m.description for m in notebook_mutants if m.operator in new] == [
        "dZ3 → Z3 in dW3", "dZ3 → Z3 in dA2", "dA2 → A2 in dZ2", "dZ2 → Z2 in dW2",
        "dZ2 → Z2 in dA1", "dA1 → A1 in dZ1", "dZ1 → Z1 in dW1",
        "dZ3 / m: 1 / m applied twice",
        "dW3 transposed", "dW2 transposed", "dW1 transposed"]


def test_diff_is_unified_with_the_files_line_numbers(notebook_mutants):
    mutant = by_description(notebook_mutants, "dW2 × 2")
    line = NOTEBOOK_FILE.read_text().splitlines()[mutant.line - 1]
    assert line == "    dW2 = 1. / m * np.dot(dZ2, A1.T)"
    assert mutant.diff == textwrap.dedent(f"""\
        --- a/gcverify/models/notebook.py
        +++ b/gcverify/models/notebook.py
        @@ -{mutant.line} +{mutant.line} @@
        -    dW2 = 1. / m * np.dot(dZ2, A1.T)
        +    dW2 = 1. / m * np.dot(dZ2, A1.T) * 2""")


def test_each_mutant_changes_one_line_where_it_says(notebook_mutants):
    lines = NOTEBOOK_FILE.read_text().splitlines()
    for mutant in notebook_mutants:
        removed = [line[1:] for line in mutant.diff.splitlines()
                   if line.startswith("-") and not line.startswith("---")]
        assert removed == [lines[mutant.line - 1]], mutant.id


# --- ids ----------------------------------------------------------------------------------

ID = re.compile(r"^[a-z_]+-L\d+-[0-9a-f]{8}$")


def test_ids_are_unique_and_well_formed(notebook_mutants):
    ids = [m.id for m in notebook_mutants]
    assert len(set(ids)) == len(ids)
    assert all(ID.match(i) for i in ids)
    assert all(m.id.startswith(f"{m.operator}-L{m.line}-") for m in notebook_mutants)


def test_ids_are_the_same_in_another_process_with_another_hash_seed(notebook_mutants):
    script = ("from gcverify.mutation import mutate_function\n"
              "from gcverify.models import notebook as nb\n"
              "print('\\n'.join(m.id for m in mutate_function(nb.backward_propagation_n)))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True, env={**os.environ, "PYTHONHASHSEED": "12345"})
    assert done.stdout.split() == [m.id for m in notebook_mutants]


def test_an_id_survives_changes_elsewhere_in_the_function():
    text = "def f(dZ, A, m):\n    dW = 1. / m * np.dot(dZ, A.T)\n    return dW\n"
    before = {m.description: m.id for m in mutate(FunctionSource.from_text(text, "f"))}
    edited = text.replace("    return dW\n", "    # a comment\n    return {'dW': dW}\n")
    after = {m.description: m.id for m in mutate(FunctionSource.from_text(edited, "f"))}
    assert before == after


def test_a_known_id(notebook_mutants):
    # Pinned: the hash covers the function name, operator and changed lines only.
    mutant = by_description(notebook_mutants, "dW2 × 2")
    digest = hashlib.sha256("\n".join([
        "backward_propagation_n", "scale_by_two", "dW2 = 1. / m * np.dot(dZ2, A1.T)", "\0",
        "dW2 = 1. / m * np.dot(dZ2, A1.T) * 2"]).encode()).hexdigest()[:8]
    assert mutant.id == f"scale_by_two-L{mutant.line}-{digest}"


# --- compiling in memory --------------------------------------------------------------------

def test_compiling_a_mutant_touches_neither_the_file_nor_the_module(notebook_mutants):
    before = NOTEBOOK_FILE.read_bytes()
    original = nb.backward_propagation_n
    mutant = by_description(notebook_mutants, "dZ3 × −1")
    function = mutant.compile(vars(nb))
    assert NOTEBOOK_FILE.read_bytes() == before
    assert nb.backward_propagation_n is original
    assert function is not original and function.__globals__ is not vars(nb)
    X, Y, parameters = nb.gradient_check_n_test_case()
    _, cache = nb.forward_propagation_n(X, Y, parameters)
    np.testing.assert_array_equal(function(X, Y, cache)["dW1"],
                                  -original(X, Y, cache)["dW1"])


def test_a_mutant_keeps_the_files_line_numbers_and_shows_its_code_in_tracebacks():
    source = FunctionSource.from_function(nb.backward_propagation_n)
    mutated = source.text.replace("    dZ3 = A3 - Y\n", "    dZ3 = A3 - Y\n    1 / 0\n")
    function = compile_source(source, mutated, vars(nb), label="boom")
    assert function.__code__.co_firstlineno == source.first_line
    X, Y, parameters = nb.gradient_check_n_test_case()
    _, cache = nb.forward_propagation_n(X, Y, parameters)
    with pytest.raises(ZeroDivisionError) as raised:
        function(X, Y, cache)
    frame = traceback.extract_tb(raised.value.__traceback__)[-1]
    assert frame.line == "1 / 0"
    assert frame.filename == "<gcverify boom of gcverify/models/notebook.py>"


def test_compile_rejects_text_that_defines_something_else():
    source = FunctionSource.from_text("def f(x):\n    return x\n", "f")
    with pytest.raises(InvalidArgument, match=r"does not define f\(\)"):
        compile_source(source, "def g(x):\n    return x\n", {})


# --- sources --------------------------------------------------------------------------------

def test_from_file_equals_from_function_for_the_notebook():
    from_file = FunctionSource.from_file(NOTEBOOK_FILE, "backward_propagation_n",
                                         shown_as="gcverify/models/notebook.py",
                                         namespace=vars(nb))
    assert from_file == FunctionSource.from_function(nb.backward_propagation_n)


def test_from_file_names_the_functions_it_has(tmp_path):
    path = tmp_path / "net.py"
    path.write_text("def forward(X, Y, p):\n    pass\n\ndef backward(X, Y, c):\n    pass\n")
    with pytest.raises(InvalidArgument) as raised:
        FunctionSource.from_file(path, "backprop")
    assert str(raised.value) == (f"name='backprop' is not a top-level function of {path}; "
                                 "use one of backward, forward")
    with pytest.raises(InvalidArgument, match=r"cannot be read"):
        FunctionSource.from_file(tmp_path / "missing.py", "f")


@pytest.mark.parametrize(("function", "problem"), [
    (len, "is not a plain Python function"),
    ((lambda k: lambda x: x * k)(2), "is a closure over k"),
])
def test_from_function_rejects_what_it_cannot_mutate(function, problem):
    with pytest.raises(InvalidArgument, match=problem):
        FunctionSource.from_function(function)


def test_a_method_keeps_its_indentation_in_the_diff(tmp_path):
    path = tmp_path / "layered.py"
    path.write_text(textwrap.dedent("""\
        import numpy as np


        class Layer:
            def backward(self, dZ, A, m):
                dW = 1. / m * np.dot(dZ, A.T)
                return dW
        """))
    from gcverify.loading import load_module

    module = load_module(path)
    (mutant,) = [m for m in mutate_function(module.Layer.backward) if m.description == "dW × 2"]
    assert mutant.line == 6 and mutant.column == 13
    assert mutant.diff.splitlines()[2:] == [
        "@@ -6 +6 @@", "-        dW = 1. / m * np.dot(dZ, A.T)",
        "+        dW = 1. / m * np.dot(dZ, A.T) * 2"]
    assert not (tmp_path / "__pycache__").exists()


# --- what counts as a gradient expression ----------------------------------------------------

@pytest.mark.parametrize(("name", "expected"), [
    ("dW1", True), ("db1", True), ("dZ", True), ("dA_prev", True), ("db", True),
    ("dtheta", True), ("grads", True), ("W_grad", True),
    ("data", False), ("m", False), ("cost", False), ("do", True), ("dims", False),
    # d + a lower-case word: the row-major and CS231n styles
    ("dscores", True), ("dhidden", True), ("dout", True), ("dx", True), ("dw", True),
    ("dprobs", True), ("dactivated", True), ("dlogits", True), ("dnext_h", True),
    ("dhidden2", True), ("d_out", True), ("delta3", True),
    # ...but not the ordinary words that start with d
    ("dim", False), ("dtype", False), ("done", False), ("dist", False), ("dropout", False),
    ("dict", False), ("delta", False), ("data_loss", False), ("dropout_mask", False),
    ("decay_rate", False), ("diff", False), ("dot", False),
])
def test_gradient_names(name, expected):
    assert is_gradient_name(name) is expected


def sites_of(body: str) -> list[str]:
    """The gradients whose expressions were mutated by scale_by_two."""
    text = "def f(X, dZ, A, m, grads, W):\n" + textwrap.indent(textwrap.dedent(body), "    ")
    from gcverify.mutation import operator_named

    return [m.description for m in mutate(FunctionSource.from_text(text, "f"),
                                          operators=[operator_named("scale_by_two")])]


def test_gradient_expressions_are_assignments_entries_and_updates():
    assert sites_of("""\
        m = X.shape[1]
        cost = np.sum(A)
        dW = np.dot(dZ, A.T)
        grads["db"] = np.sum(dZ, axis=1)
        dW += W
        dA: float = dZ
        gradients = {"dZ": dZ, "dX": np.dot(W.T, dZ), "cost": cost}
        return {"dW": dW / m}
        """) == ["dW × 2", "db × 2", "dW × 2", "dA × 2", "dX × 2", "dW × 2"]


def targets_of(body: str, *, name: str = "f", whole: bool = True) -> list[str]:
    """The gradients (and costs) whose expressions the engine found, in source order."""
    import libcst as cst
    import libcst.metadata as metadata

    from gcverify.mutation.operators.sites import expression_sites

    text = f"def {name}(X, y, dZ, A, m, W, cache, dout, N, reg, probs):\n" + textwrap.indent(
        textwrap.dedent(body), "    ")
    source = FunctionSource.from_text(text, name)
    wrapper = metadata.MetadataWrapper(cst.parse_module(source.text))
    positions = wrapper.resolve(metadata.PositionProvider)
    found: dict[tuple[int, str], None] = {}    # one entry per statement and target
    for statement, site in expression_sites(wrapper.module.body[0], source, positions):
        shown = site.target if site.role == "gradient" else f"cost {site.target}"
        if site.is_root or not whole:
            found[id(statement), shown] = None
    return [shown for _, shown in found]


def test_row_major_names_dict_containers_and_updates_of_parts_are_gradients():
    assert targets_of("""\
        data = X.T
        dims = X.shape
        dscores = probs
        dscores[np.arange(N), y] -= 1
        dscores /= N
        grads = {}
        grads["W"] = X.T.dot(dscores) + reg * W
        self.dW = X.T.dot(dscores)
        gradients = {"W": X.T.dot(dscores), "b": np.sum(dscores, axis=0)}
        dhidden = dscores.dot(W.T)
        dhidden[X <= 0] = 0
        """) == ["dscores", "dscores", "dscores", 'grads["W"]', "self.dW", 'gradients["W"]',
                 'gradients["b"]', "dhidden"]


def test_the_index_of_an_update_to_part_of_a_gradient_is_mutated_not_its_literal_0():
    assert targets_of("dx = dout.copy()\ndx[cache <= 0] = 0\n", whole=False) == ["dx", "dx"]
    source = FunctionSource.from_text(
        "def f(dout, cache):\n    dx = dout.copy()\n    dx[cache <= 0] = 0\n    return dx\n",
        "f")
    assert [m.description for m in mutate(source) if m.line == 3] == [
        "cache <= 0 → cache < 0 in dx"]


def test_a_tuple_of_gradients_is_mutated_inside_or_element_by_element():
    assert targets_of("dx, dw, db = affine_backward(dout, cache)\n") == []
    assert targets_of("dx, dw, db = affine_backward(dout, cache)\n", whole=False) == [
        "dx, dw, db"]
    assert targets_of("dx, dw = dout * 2, X.T.dot(dout)\n") == ["dx", "dw"]
    assert targets_of("hidden, cache1 = affine_forward(X, W)\n", whole=False) == []


def test_what_a_backward_function_returns_is_a_gradient_expression():
    assert targets_of("return dout * (cache > 0)\n", name="relu_backward") == [
        "relu_backward()"]
    assert targets_of("return dout.dot(W.T), X.T.dot(dout), dZ\n", name="affine_backward") == [
        "affine_backward()[0]", "affine_backward()[1]"]
    assert targets_of("return dout * (cache > 0)\n", name="relu_forward") == []
    # a call of another backward function: inside only (it returns several gradients)
    assert targets_of("return linear_backward(dZ, cache)\n", name="act_backward") == []
    assert targets_of("return linear_backward(dZ, cache)\n", name="act_backward",
                      whole=False) == ["act_backward()"]
    assert targets_of("grads = L_model_backward(A, y, cache)\n", whole=False) == ["grads"]
    assert targets_of("grads = L_model_backward(A, y, cache)\n") == []


def test_costs_are_the_cost_names_and_what_a_cost_function_returns_first():
    assert targets_of("""\
        J = np.sum(A) / m
        data_loss = -np.log(probs).mean()
        total = data_loss + reg * np.sum(W * W)
        loss += reg * np.sum(W * W)
        return total, {"W": X.T.dot(dZ), "b": dZ.sum(0)}
        """, name="loss") == ["cost J", "cost data_loss", "cost total", "cost loss",
                              'loss()["W"]', 'loss()["b"]']
    assert targets_of("total = reg * np.sum(W * W)\nreturn total, cache\n",
                      name="forward") == []
    assert targets_of("return -np.sum(y * np.log(A)) / m\n", name="compute_cost") == [
        "cost compute_cost()"]
    source = FunctionSource.from_text(
        "def loss(X, W, reg):\n    dW = X.T.dot(X) + reg * W\n"
        "    loss = np.sum(X) + reg * np.sum(W * W)\n    return loss, {'W': dW}\n", "loss")
    roles = {(m.line, m.role) for m in mutate(source)
             if m.operator == "drop_regularization"}
    assert roles == {(2, "gradient"), (3, "cost")}   # a cost mutant shows in the cost only


def test_a_factorys_returned_closure_is_mutated_with_it():
    text = textwrap.dedent("""\
        def make_loss(X, y):
            def helper(dZ):
                dW = dZ * 3
                return dW
            def loss(params):
                dscores = params["W"] * X
                return 0.0, {"W": dscores * 2}
            return loss
        """)
    mutants = mutate(FunctionSource.from_text(text, "make_loss"),
                     operators=[operator_named("scale_by_two")])
    assert [m.description for m in mutants] == ["dscores × 2", 'loss()["W"] × 2']
    function = mutants[0].compile({"np": np})
    assert function(np.ones(2), None)({"W": np.ones(2)})[1]["W"].tolist() == [4.0, 4.0]


def test_a_key_being_built_is_not_arithmetic():
    text = "def f(grads, l):\n    dA = grads['dA' + str(l + 1)]\n"
    descriptions = [m.description for m in mutate(FunctionSource.from_text(text, "f"))
                    if m.family == "sign"]
    assert descriptions == ["l + 1 → l - 1 in dA", "l + 1 → -l + 1 in dA"]


def test_a_method_is_found_in_its_file_by_class_and_name(tmp_path):
    path = tmp_path / "net.py"
    path.write_text("class Net:\n    def loss(self, X, W):\n        dW = X.T.dot(X)\n"
                    "        return 0.0, {'W': dW}\n")
    source = FunctionSource.from_file(path, "Net.loss")
    assert (source.name, source.first_line, source.indent) == ("loss", 2, "    ")
    (mutant,) = [m for m in mutate(source) if m.description == "dW × 2"]
    assert mutant.diff.splitlines()[2:] == ["@@ -3 +3 @@", "-        dW = X.T.dot(X)",
                                            "+        dW = X.T.dot(X) * 2"]
    with pytest.raises(InvalidArgument, match=r"name='Nope.loss' is not a function of .*: "
                                              r"it has no class Nope"):
        FunctionSource.from_file(path, "Nope.loss")
    with pytest.raises(InvalidArgument, match=r"is not a method of Net of .*; use one of loss"):
        FunctionSource.from_file(path, "Net.backward")


def test_nested_functions_and_lambdas_are_left_alone():
    assert sites_of("""\
        def helper(dZ):
            dW = dZ * 3
            return dW
        scale = lambda dZ: dZ * 3
        dW = helper(dZ)
        """) == ["dW × 2"]


def test_a_change_that_gives_back_the_original_is_no_mutant():
    text = "def f(A3):\n    dZ3 = A3 - A3\n    return dZ3\n"
    from gcverify.mutation import operator_named

    assert mutate(FunctionSource.from_text(text, "f"),
                  operators=[operator_named("swap_subtraction")]) == ()


def test_formatting_and_comments_elsewhere_are_kept():
    text = ("def f(dZ, A, m):\n"
            "    # the weights' gradient\n"
            "    dW = 1./m*np.dot( dZ,A.T )   # keep me\n"
            "    return dW\n")
    (mutant,) = [m for m in mutate(FunctionSource.from_text(text, "f"))
                 if m.description == "dW × 2"]
    assert mutant.mutated == text.replace("A.T )   #", "A.T ) * 2   #")


# --- combining and hand-written mutants -------------------------------------------------------

def test_combine_refuses_mutants_of_the_same_line(notebook_mutants):
    pick = [by_description(notebook_mutants, "dW2 × 2"),
            by_description(notebook_mutants, "dW2 × 4")]
    with pytest.raises(InvalidArgument, match="change the same lines"):
        combine_mutants(pick)
    with pytest.raises(InvalidArgument, match="is empty"):
        combine_mutants([])


def test_combine_refuses_mutants_of_different_functions(notebook_mutants):
    other = mutate(FunctionSource.from_text("def f(dZ):\n    dW = dZ\n", "f"))[0]
    with pytest.raises(InvalidArgument, match="mutate different functions"):
        combine_mutants([notebook_mutants[0], other])


def test_custom_mutant():
    source = FunctionSource.from_function(nb.backward_propagation_n)
    mutant = custom_mutant(source, source.text.replace("dZ3 = A3 - Y", "dZ3 = A3 - 2 * Y"),
                           description="Y doubled")
    assert mutant.operator == "custom" and mutant.family == "custom"
    assert mutant.line == source.first_line + source.text.splitlines().index("    dZ3 = A3 - Y")
    assert mutant.summary() == f"{mutant.id}: Y doubled (custom, line {mutant.line})"
    with pytest.raises(InvalidArgument, match="is not valid Python"):
        custom_mutant(source, "def backward_propagation_n(:\n")
