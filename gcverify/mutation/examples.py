"""Seeded examples for a mutation campaign: ``source(index) -> (X, Y, parameters)``.

A campaign checks every mutant on the same examples ``source(0), ..., source(N - 1)``.
Any callable with that signature is an example source; the ones here are seeded, so
the same seed always gives the same examples, and each one draws example ``i`` from
its own generator ``numpy.random.default_rng([seed, i])``, so that example ``i`` does
not depend on how many examples are asked for.

Examples
--------
>>> source = NotebookExamples(seed=0)
>>> X, Y, parameters = source(1)
>>> X.shape[0], Y.ndim, parameters["W2"].shape
(4, 1, (3, 5))
>>> bool(np.array_equal(source(1)[0], X))
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gcverify.errors import invalid_argument
from gcverify.models import notebook as nb
from gcverify.models.mlp import MLP
from gcverify.params import ParamLayout
from gcverify.sampling import DataShape, Domain, sample_case

__all__ = [
    "CaseExamples",
    "Example",
    "ExampleSource",
    "ModelCase",
    "NetworkExamples",
    "NotebookExamples",
    "validate_example",
]

Example = tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]
#: ``source(index) -> (X, Y, parameters)``; a ``description`` attribute, if present,
#: is shown in reports.
ExampleSource = Callable[[int], Example]

# Batch sizes drawn for random examples: at least 2, so that 1 / m and 1 / (m - 1),
# or a sum and a mean, never coincide.
_BATCH_SIZES = (2, 7)
_NOTEBOOK_NETWORK = MLP((4, 5, 3, 1), "relu", "naive")


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise invalid_argument("seed", seed, "is not a non-negative integer",
                               "pass e.g. seed=0")
    return int(seed)


def _rng(seed: int, index: int) -> np.random.Generator:
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or index < 0:
        raise invalid_argument("index", index, "is not a non-negative integer",
                               "ask for examples 0, 1, 2, ...")
    return np.random.default_rng([seed, int(index)])


def _batch_size(rng: np.random.Generator, batch: int | None) -> int:
    return int(rng.integers(*_BATCH_SIZES)) if batch is None else batch


@dataclass(frozen=True)
class NotebookExamples:
    """The notebook's 4-5-3-1 network: its own test case, then generic examples.

    Example 0 is :func:`~gcverify.models.notebook.gradient_check_n_test_case` (the
    global random state it reseeds is restored afterwards). Example ``i > 0`` is
    :func:`gcverify.sampling.sample_case` with seed ``[seed, i]``: what the strategy
    ``cases(MLP((4, 5, 3, 1), "relu", "naive"), generic=True)`` draws, with ``m`` in
    2..6 and ``|Z3| <= logit_limit``, inside the checker's reliable domain. Continuous
    random values put no pre-activation exactly on the ReLU kink.

    >>> X, Y, p = NotebookExamples(seed=3)(2)
    >>> Z3 = p["W3"] @ nb.relu(p["W2"] @ nb.relu(p["W1"] @ X + p["b1"]) + p["b2"]) + p["b3"]
    >>> bool(np.abs(Z3).max() <= 15)
    True
    """

    seed: int = 0
    logit_limit: float = 15.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "seed", _check_seed(self.seed))
        if not self.logit_limit > 0:
            raise invalid_argument("logit_limit", self.logit_limit, "is not positive",
                                   "pass e.g. logit_limit=15.0")

    @property
    def description(self) -> str:
        return (f"example 0: the notebook's test case; then generic 4-5-3-1 cases from "
                f"gcverify.strategies (m in 2..6, |Z3| <= {self.logit_limit:g})")

    def __call__(self, index: int) -> Example:
        _rng(self.seed, index)  # validates the index
        if index == 0:
            state = np.random.get_state()  # noqa: NPY002 (the case reseeds it)
            try:
                return nb.gradient_check_n_test_case()
            finally:
                np.random.set_state(state)  # noqa: NPY002
        domain = Domain(min_examples=_BATCH_SIZES[0], max_examples=_BATCH_SIZES[1] - 1,
                        max_logit=self.logit_limit)
        return sample_case(_NOTEBOOK_NETWORK, [self.seed, index], domain)


@dataclass(frozen=True)
class NetworkExamples:
    """Random examples for a fully connected network of the given widths.

    In the ``"columns"`` layout (the notebook's) parameters are named and shaped as
    :class:`gcverify.MLP`'s (``W1 (n1, n0)``, ``b1 (n1, 1)``, ...), ``X`` is ``(n_x, m)``
    and ``Y`` is ``(n_out, m)`` of 0.0/1.0 floats (``(1, m)`` for one output unit, as
    the notebook's Y, so that ``Y.shape[1]`` is the batch). In the ``"rows"`` layout
    (CS231n's) ``X`` is ``(m, n_x)``, ``y`` is ``(m,)`` integer labels in
    ``0..n_out - 1``, weights are ``(n_in, n_out)`` and biases ``(n_out,)``. Weights are
    He-scaled ``N(0, 2 / fan_in)``, biases ``N(0, 0.1²)``, ``X ~ N(0, 1)``; ``m =
    batch``, or drawn in 2..6.

    >>> X, Y, p = NetworkExamples((3, 4, 1), seed=1, batch=5)(0)
    >>> X.shape, Y.shape, Y.dtype, sorted(p)
    ((3, 5), (1, 5), dtype('float64'), ['W1', 'W2', 'b1', 'b2'])
    >>> X, y, p = NetworkExamples((3, 4, 2), batch=5, layout="rows")(0)
    >>> X.shape, y.shape, p["W1"].shape, p["b1"].shape
    ((5, 3), (5,), (3, 4), (4,))
    """

    layer_dims: tuple[int, ...]
    seed: int = 0
    batch: int | None = None
    layout: str = "columns"

    def __post_init__(self) -> None:
        dims = self.layer_dims
        if (isinstance(dims, (str, bytes)) or not isinstance(dims, Sequence) or len(dims) < 2
                or not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool)
                           and d >= 1 for d in dims)):
            raise invalid_argument("layer_dims", dims,
                                   "is not a sequence of at least two positive widths",
                                   "pass e.g. layer_dims=(4, 5, 3, 1)")
        object.__setattr__(self, "layer_dims", tuple(int(d) for d in dims))
        object.__setattr__(self, "seed", _check_seed(self.seed))
        if self.batch is not None and (isinstance(self.batch, bool) or not isinstance(
                self.batch, (int, np.integer)) or self.batch < 1):
            raise invalid_argument("batch", self.batch, "is not a positive integer",
                                   "pass e.g. batch=4, or None for a random batch size")
        DataShape(layout=self.layout)          # (checks the layout)

    @property
    def description(self) -> str:
        size = f"m={self.batch}" if self.batch is not None else "m in 2..6"
        widths = "-".join(map(str, self.layer_dims))
        rows = ", examples in rows" if self.layout == "rows" else ""
        return f"random {widths} networks ({size}{rows}, N(0, 1) data, He-scaled weights)"

    def __call__(self, index: int) -> Example:
        rng = _rng(self.seed, index)
        m = _batch_size(rng, self.batch)
        dims = self.layer_dims
        if self.layout == "rows":
            X = rng.standard_normal((m, dims[0]))
            Y = rng.integers(0, dims[-1], size=m)
        else:
            X = rng.standard_normal((dims[0], m))
            Y = rng.integers(0, 2, size=(dims[-1], m)).astype(np.float64)
        parameters = {}
        for l in range(1, len(dims)):
            parameters[f"W{l}"] = (rng.standard_normal((dims[l], dims[l - 1]))
                                   * np.sqrt(2.0 / dims[l - 1]))
            parameters[f"b{l}"] = rng.standard_normal((dims[l], 1)) * 0.1
        return X, Y, DataShape(layout=self.layout).parameters(parameters)


@dataclass(frozen=True)
class CaseExamples:
    """A user's test case, then jittered copies of it.

    ``case()`` returns ``(X, Y, parameters)``. Example 0 is the case itself; example
    ``i > 0`` multiplies every parameter entry by ``1 + jitter * N(0, 1)`` and adds
    ``jitter * N(0, 1)`` to ``X`` (``Y`` is kept), so the examples explore the
    neighbourhood of the case with its shapes. numpy's global random state is
    restored after each call of ``case``.

    >>> def case():
    ...     return np.ones((2, 3)), np.array([0, 1, 1]), {"W1": np.ones((1, 2))}
    >>> X, Y, p = CaseExamples(case, seed=0)(1)
    >>> X.shape, bool(np.all(p["W1"] != 1.0))
    ((2, 3), True)
    """

    case: Callable[[], Any] = field(repr=False)
    seed: int = 0
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if not callable(self.case):
            raise invalid_argument("case", self.case, "is not callable",
                                   "pass a function returning (X, Y, parameters)")
        object.__setattr__(self, "seed", _check_seed(self.seed))

    @property
    def description(self) -> str:
        name = getattr(self.case, "__name__", "case")
        return (f"example 0: {name}(); then {name}() with parameters scaled by "
                f"1 + {self.jitter:g}·N(0, 1) and X moved by {self.jitter:g}·N(0, 1)")

    def __call__(self, index: int) -> Example:
        rng = _rng(self.seed, index)
        state = np.random.get_state()  # noqa: NPY002 (the case reseeds it)
        try:
            X, Y, parameters = validate_example(self.case(), "case()")
        finally:
            np.random.set_state(state)  # noqa: NPY002
        if index == 0:
            return X, Y, parameters
        jittered = {name: value * (1 + self.jitter * rng.standard_normal(value.shape))
                    for name, value in parameters.items()}
        return X + self.jitter * rng.standard_normal(X.shape), Y, jittered


@dataclass(frozen=True)
class ModelCase:
    """A class-based model's case: ``case()`` returns ``(X, y)``, completed with a copy
    of the model's own ``parameters`` (a case returning all three is kept as it is).

    >>> ModelCase(lambda: ("X", "y"), {"W1": np.ones(2)})()[2]["W1"].tolist()
    [1.0, 1.0]
    """

    case: Callable[[], Any] = field(repr=False)
    parameters: Mapping[str, np.ndarray] = field(repr=False)

    @property
    def __name__(self) -> str:  # CaseExamples names the case by it
        return str(getattr(self.case, "__name__", "case"))

    def __call__(self) -> Any:
        value = self.case()
        if isinstance(value, tuple) and len(value) == 2:
            return (*value, {name: np.array(array) for name, array in self.parameters.items()})
        return value


def validate_example(example: Any, where: str = "example") -> Example:
    """``example`` as ``(X, Y, parameters)`` of float arrays, or an InvalidArgument.

    >>> X, Y, p = validate_example(([[1.0]], [1], {"W1": [[0.5]]}))
    >>> X.dtype, p["W1"].shape
    (dtype('float64'), (1, 1))
    """
    if not isinstance(example, (tuple, list)) or len(example) != 3:
        raise invalid_argument(where, example, "is not a tuple (X, Y, parameters)",
                               "return X, Y and the dict of parameter arrays")
    X, Y, parameters = example
    if not isinstance(parameters, Mapping):
        raise invalid_argument(f"{where}[2]", parameters, "is not a dict of arrays",
                               "return the parameters as e.g. {'W1': W1, 'b1': b1}")
    arrays = {str(name): np.asarray(value, dtype=np.float64)
              for name, value in parameters.items()}
    ParamLayout.from_parameters(arrays)
    return np.asarray(X, dtype=np.float64), np.asarray(Y), arrays
