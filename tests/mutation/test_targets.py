"""Targets: the notebook by default, or functions of a user's file loaded in memory."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gcverify.errors import InvalidArgument
from gcverify.loading import load_module
from gcverify.mutation import NetworkExamples, file_target, notebook_target
from tests.mutation import tiny_network

TINY_FILE = Path(tiny_network.__file__)


@pytest.fixture
def tiny_file(tmp_path):
    path = tmp_path / "tiny.py"
    shutil.copy(TINY_FILE, path)
    return path


def test_the_notebook_target():
    target = notebook_target(seed=4)
    assert (target.source.name, target.forward_name, target.seed) == (
        "backward_propagation_n", "forward_propagation_n", 4)
    assert target.examples.seed == 4


def test_a_file_target_reads_the_file_and_writes_nothing(tiny_file):
    before = sorted(p.name for p in tiny_file.parent.iterdir()), tiny_file.read_bytes()
    target = file_target(tiny_file, forward="forward", backward="backward", case="case")
    assert target.source.path == str(tiny_file)
    assert target.source.first_line == 22 and target.label == "tiny.py::backward"
    assert (sorted(p.name for p in tiny_file.parent.iterdir()), tiny_file.read_bytes()) == before


def test_a_file_target_with_layers(tiny_file):
    target = file_target(tiny_file, forward="forward", backward="backward", layers=(3, 4, 1),
                         batch=5, seed=2)
    assert target.examples == NetworkExamples((3, 4, 1), seed=2, batch=5)
    assert target.examples(0)[0].shape == (3, 5)


@pytest.mark.parametrize(("arguments", "message"), [
    ({"backward": "backward", "case": "case"}, "forward='nope' is not a function defined in "),
    ({"forward": "forward", "backward": "backprop", "case": "case"},
     "backward='backprop' is not a function defined in"),
    ({"forward": "forward", "backward": "backward", "case": "kase"},
     "case='kase' is not a function defined in"),
    ({"forward": "forward", "backward": "backward"},
     "case=None and layers=None are both missing; pass exactly one"),
    ({"forward": "forward", "backward": "backward", "case": "case", "layers": (3, 1)},
     "case='case' and layers=(3, 1) are both given; pass exactly one"),
])
def test_file_target_errors_name_the_problem_and_the_fix(tiny_file, arguments, message):
    arguments = {"forward": "nope", **arguments}
    with pytest.raises(InvalidArgument) as raised:
        file_target(tiny_file, **arguments)
    assert message in str(raised.value)
    if "is not a function" in message:
        assert str(raised.value).endswith("use one of backward, case, forward")


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(InvalidArgument, match="does not exist or is not a file"):
        load_module(tmp_path / "missing.py")
    broken = tmp_path / "broken.py"
    broken.write_text("import numpy as np\nraise RuntimeError('no')\n")
    with pytest.raises(InvalidArgument, match=r"raised RuntimeError: no when imported; fix"):
        load_module(broken)


def test_a_backward_pass_imported_from_elsewhere_is_refused(tmp_path, tiny_file):
    other = tmp_path / "other.py"
    other.write_text("from tiny import forward, backward, case\n")
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        with pytest.raises(InvalidArgument, match=r"is imported into .*, not defined there"):
            file_target(other, forward="forward", backward="backward", case="case")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("tiny", None)
