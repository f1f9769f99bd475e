"""A module's namespace with one function replaced: its callers call the replacement,
methods included, and the module itself is untouched."""

from __future__ import annotations

import re
import types

import pytest

from gcverify.errors import InvalidArgument
from gcverify.mutation.dispatch import portable_namespace
from gcverify.mutation.rebuild import namespace_with

SOURCE = '''
SCALE = 10

def helper(x):
    return x + 1

def caller(x, *, k=2):
    return k * helper(x) * SCALE

class Base:
    def value(self):
        return helper(1)

class Model(Base):
    def __init__(self, w):
        self.w = w

    def loss(self, x):
        return self.w * helper(x)

    def total(self, x):
        return self.loss(x) + self.value()

    @staticmethod
    def twice(x):
        return 2 * helper(x)

    @classmethod
    def made(cls):
        return cls(3)

    @property
    def doubled(self):
        return 2 * helper(self.w)

def factory(k):
    def inner(x):
        return helper(x) * k
    return inner

net = Model(5)
closure = factory(100)
'''


@pytest.fixture
def module() -> types.ModuleType:
    made = types.ModuleType("user_module")
    exec(compile(SOURCE, "user_module.py", "exec"), vars(made))
    return made


def test_callers_of_a_replaced_function_call_the_replacement(module):
    copy = namespace_with(vars(module), "helper", lambda x: x - 1)
    assert copy["caller"](3) == 2 * 2 * 10 and module.caller(3) == 2 * 4 * 10
    assert copy["caller"](3, k=1) == 20                       # keyword defaults kept
    assert copy["net"].total(2) == 5 * 1 + 0 and module.net.total(2) == 5 * 3 + 2
    assert copy["Model"].twice(2) == 2 and copy["Model"].made().w == 3
    assert copy["Model"](4).doubled == 6
    assert copy["closure"](2) == 100 and module.closure(2) == 300  # its cell k kept
    assert module.helper(3) == 4 and copy["Model"] is not module.Model
    assert issubclass(copy["Model"], copy["Base"]) and isinstance(copy["net"], copy["Model"])


def test_a_method_is_replaced_in_the_rebuilt_class_only(module):
    def loss(self, x):
        return -self.w * helper(x)   # noqa: F821 (compiled in the module's namespace)
    loss = types.FunctionType(loss.__code__, vars(module), "loss")
    copy = namespace_with(vars(module), "Model.loss", loss)
    assert copy["Model"](2).loss(1) == -4 and copy["net"].total(1) == -10 + 2
    assert module.Model(2).loss(1) == 4 and module.net.total(1) == 12
    twice = namespace_with(vars(module), "Model.twice", lambda x: 0)
    assert twice["Model"].twice(5) == 0                        # still a staticmethod


def test_a_namespace_sent_without_its_builtins_still_runs(module):
    # A Dask worker gets the namespace without __builtins__ (portable_namespace).
    copy = namespace_with(portable_namespace(vars(module)), "helper",
                          lambda x: abs(x) + len("ab"))
    assert copy["caller"](-3) == 2 * 5 * 10
    assert copy["Model"](1).loss(-1) == 3


def test_a_method_of_no_class_is_an_error(module):
    with pytest.raises(InvalidArgument, match=re.escape("name='Nope.loss' names no class of "
                                                        "the module user_module")):
        namespace_with(vars(module), "Nope.loss", lambda self: 0)
