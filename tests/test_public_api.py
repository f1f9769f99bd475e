"""The public API: everything in __all__ exists, and the docstring examples run."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import gcverify


def test_all_agrees_with_the_lazy_exports():
    assert set(gcverify.__all__) == set(gcverify._EXPORTS) | {"__version__"}


def test_all_names_exist_once():
    for name in gcverify.__all__:
        assert hasattr(gcverify, name), name
    assert len(set(gcverify.__all__)) == len(gcverify.__all__)


def test_public_callables_have_docstrings_with_an_example():
    for name in gcverify.__all__:
        obj = getattr(gcverify, name)
        is_exception = isinstance(obj, type) and issubclass(obj, BaseException)
        if callable(obj) and not is_exception:
            assert obj.__doc__, name
            assert ">>>" in obj.__doc__, f"{name} has no example in its docstring"


MODULES = sorted(info.name for info in pkgutil.walk_packages(gcverify.__path__, "gcverify.")
                 if not info.name.endswith("__main__"))


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples(module_name):
    module = importlib.import_module(module_name)
    # doctest.testmod, except that under mutmut a module also holds each function's
    # mutated copies (x_check__mutmut_7), docstrings and all: their examples would only
    # repeat the original's (through the same public name) hundreds of times.
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in doctest.DocTestFinder().find(module):
        if "__mutmut_" not in test.name:
            runner.run(test)
    assert runner.summarize(verbose=False).failed == 0
