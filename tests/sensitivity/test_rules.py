"""Each rule's criterion, at its boundary, on hand-made numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gcverify.sensitivity.rules import (
    GCVERIFY,
    JAX,
    NOTEBOOK,
    RULES,
    SCIPY,
    SCIPY_STEP,
    TORCH,
    Numbers,
    rule_named,
)


def test_the_notebook_rule_is_its_global_difference_over_2e_7():
    g = np.array([3.0, 4.0])                                   # |g| = 5
    n = g * (1 - 2e-6)
    numbers = Numbers(central={1e-7: n})
    difference = np.linalg.norm(g - n) / (np.linalg.norm(g) + np.linalg.norm(n))
    assert NOTEBOOK.score(numbers, g) == pytest.approx(difference / 2e-7, rel=1e-9)
    assert NOTEBOOK.fails(numbers, g) and not NOTEBOOK.fails(numbers, g, scale=10)


def test_torch_is_allclose_entry_by_entry_with_its_defaults():
    n = np.array([1.0, 100.0])
    at_the_line = n + np.array([1e-5 + 1e-3, 0.0])              # exactly atol + rtol |n|
    assert TORCH.score(Numbers(central={1e-6: n}), at_the_line) == pytest.approx(1.0)
    beyond = n + np.array([0.0, 0.2])                           # 0.2 > 1e-5 + 0.1
    assert TORCH.fails(Numbers(central={1e-6: n}), beyond)


def test_jax_compares_one_directional_derivative():
    numbers = Numbers(direction=np.array([1.0, -1.0]), directional=2.0)
    assert JAX.score(numbers, np.array([3.0, 1.0])) == 0.0      # g . v = 2
    assert JAX.score(numbers, np.array([3.0, 1.0 - 3e-5])) == pytest.approx(
        3e-5 / (1e-5 + 2e-5))


def test_scipy_takes_the_two_norm_of_forward_differences_against_1e_5():
    assert SCIPY_STEP == pytest.approx(1.4901161193847656e-08)
    numbers = Numbers(forward=np.zeros(2))
    assert SCIPY.score(numbers, np.array([3e-6, 4e-6])) == pytest.approx(0.5)


def test_gcverify_takes_the_worst_block_beyond_its_error_bars():
    offsets = (0, 2, 3)
    n = np.array([1.0, 1.0, 2.0])
    e = np.array([0.0, 0.0, 0.1])
    numbers = Numbers(gcverify=(offsets, n, e))
    g = np.array([1.0, 1.0, 2.3])                               # block 2: (0.3 - 0.1) / 4.3
    assert GCVERIFY.score(numbers, g) == pytest.approx((0.2 / 4.3) / 2e-7)
    assert GCVERIFY.score(numbers, n) == 0.0
    assert GCVERIFY.score(numbers, np.array([1.0, np.nan, 2.0])) == math.inf


def test_the_rules_are_five_and_named():
    assert [rule.name for rule in RULES] == ["notebook", "torch", "jax", "scipy", "gcverify"]
    assert rule_named("jax") is JAX
    with pytest.raises(ValueError, match="is not a rule"):
        rule_named("autograd")
