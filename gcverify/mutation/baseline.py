"""A campaign's baseline: the original backward pass on every example, in a supervised
child with the campaign's time and memory limits.

The examples are built there too (a user's ``case()`` is the user's code), and come
back as arrays with the original's verdicts, gradients and costs: the mutants are
checked on those examples and compared with those gradients and costs. An original
that raises, exits, crashes, hangs or runs out of memory is a
:class:`~gcverify.failure.UserCodeFailed`; one that the check already FAILs is an
InvalidArgument (fix it first).

>>> from gcverify.mutation.targets import notebook_target
>>> baseline = run_baseline(notebook_target(), 2, CheckOptions(), time_limit=60)
>>> [str(run.status) for run in baseline.runs], len(baseline.examples)
(['PASS', 'PASS'], 2)
"""

from __future__ import annotations

import contextlib
import inspect
import math
import os
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gcverify import adapters
from gcverify.check import check_backprop
from gcverify.errors import GCVerifyError, invalid_argument
from gcverify.failure import FailureKind, UserCodeFailed
from gcverify.mutation.examples import Example, validate_example
from gcverify.mutation.reach import reached_coordinates
from gcverify.mutation.results import ExampleRun, ExampleStatus
from gcverify.mutation.targets import Target
from gcverify.options import CheckOptions
from gcverify.result import GradCheckResult, Verdict
from gcverify.supervise import run_supervised

__all__ = ["Baseline", "check_diagnosis", "cost_of", "deviation", "finite", "quiet",
           "run_baseline", "user_files"]


@dataclass(frozen=True)
class Baseline:
    """The examples, the original's check on each (``runs``), its gradients
    (``analytic``, flat) and costs (as arrays of one value), the coordinates each
    example reaches (``reached``, flat masks:
    :func:`~gcverify.mutation.reach.reached_coordinates`), and the wall ``seconds`` it
    all took."""

    examples: tuple[Example, ...]
    runs: tuple[ExampleRun, ...]
    analytic: tuple[np.ndarray, ...]
    costs: tuple[np.ndarray, ...] = ()
    seconds: float = field(default=0.0, compare=False)
    reached: tuple[np.ndarray, ...] = ()


def run_baseline(target: Target, examples: int, options: CheckOptions, *,
                 time_limit: float, memory_limit: int | None = None,
                 argv: Sequence[str] | None = None) -> Baseline:
    """Build ``examples`` examples and check the original on each, in a child.

    Raises :class:`~gcverify.failure.UserCodeFailed` when the user's code fails there,
    :class:`KeyboardInterrupt` on Ctrl-C, and the child's InvalidArgument as it was.
    """
    report = run_supervised(_baseline, target, examples, options, time_limit=time_limit,
                            memory_limit=memory_limit, argv=argv,
                            user_files=user_files(target), reraise=(GCVerifyError,))
    if report.failure is not None:
        if report.failure.kind is FailureKind.INTERRUPTED:
            raise KeyboardInterrupt
        raise UserCodeFailed(report.failure)
    cases, runs, analytic, costs, reached = report.value
    return Baseline(cases, runs, analytic, costs, report.seconds, reached)


def user_files(target: Target) -> tuple[str, ...]:
    """The files the mutated function and the target's forward and backward passes are
    defined in (the mutated function's as its source names it: a user's file as they
    typed it), gcverify's adapters left out.

    >>> from gcverify.mutation.targets import notebook_target
    >>> [name.rsplit("/", 1)[-1] for name in user_files(notebook_target())]
    ['notebook.py']
    """
    files = [target.source.path] if os.path.isfile(target.source.path) else []
    for function in (target.forward, target.backward):
        if getattr(function, "__module__", None) == adapters.__name__:
            continue
        with contextlib.suppress(TypeError):
            file = inspect.getsourcefile(function)
            if file is not None and os.path.realpath(file) == os.path.realpath(
                    target.source.path):
                file = target.source.path
            if file is not None and file not in files:
                files.append(file)
    return tuple(files)


def _baseline(target: Target, examples: int, options: CheckOptions
              ) -> tuple[tuple[Example, ...], tuple[ExampleRun, ...], tuple[np.ndarray, ...],
                         tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    """In the child: the examples, and the original on each (it must not FAIL)."""
    cases = tuple(validate_example(target.examples(i), f"examples({i})")
                  for i in range(examples))
    runs, analytic, costs, reached = [], [], [], []
    for index, (X, Y, parameters) in enumerate(cases):
        with quiet():
            result = check_backprop(target.forward, target.backward, X, Y, parameters,
                                    **options.as_dict())
            costs.append(cost_of(target.forward, X, Y, parameters))
        if result.verdict is Verdict.FAIL:
            raise invalid_argument(
                "backward", target.source.name,
                f"already fails the gradient check on example {index}, before any mutation "
                f"({result.summary()})",
                "fix the backward pass first (gcverify.check_backprop shows where), or "
                "choose examples on which it passes")
        runs.append(ExampleRun(index, ExampleStatus.of(result.verdict),
                               finite(result.difference), check_diagnosis(result), 0.0, True))
        analytic.append(np.array(result.analytic))
        reached.append(reached_coordinates(result))
    return cases, tuple(runs), tuple(analytic), tuple(costs), tuple(reached)


def cost_of(forward: Callable[..., Any], X: np.ndarray, Y: np.ndarray,
            parameters: Mapping[str, np.ndarray]) -> np.ndarray:
    """The cost ``forward`` gives on copies of the example, as an array of one value.

    >>> from gcverify.models import notebook as nb
    >>> cost_of(nb.forward_propagation_n, *nb.gradient_check_n_test_case()).shape
    (1,)
    """
    copies = {name: np.array(value) for name, value in parameters.items()}
    cost = forward(np.array(X), np.array(Y), copies)[0]
    return np.asarray(cost, dtype=np.float64).reshape(-1)[:1]


def deviation(value: np.ndarray, original: np.ndarray) -> float:
    """The largest ``|value - original|`` relative to ``max|original|`` (absolute when
    the original is all zero; infinite when the shapes differ).

    >>> deviation(np.array([1.0, 2.5]), np.array([1.0, 2.0]))
    0.25
    """
    if value.shape != original.shape:
        return math.inf
    if not original.size:
        return 0.0
    scale = float(np.max(np.abs(original)))
    gap = float(np.max(np.abs(value - original)))
    return gap / scale if scale > 0 else gap


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence numpy's floating-point warnings and Python warnings (mutants overflow).

    >>> with quiet():
    ...     float(np.float64(1e308) * 10)
    inf
    """
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def finite(value: float | None) -> float | None:
    """``value`` as a float, or None when it is None or not finite.

    >>> finite(0.5), finite(float("nan"))
    (0.5, None)
    """
    return float(value) if value is not None and math.isfinite(value) else None


def check_diagnosis(result: GradCheckResult) -> str:
    """The mismatched blocks' diagnoses, or the check's summary.

    >>> from gcverify.models import notebook as nb
    >>> X, Y, p = nb.gradient_check_n_test_case()
    >>> check_diagnosis(check_backprop(nb.forward_propagation_n,
    ...                                nb.backward_propagation_n_buggy, X, Y, p))
    'db1 ≈ 4.000 × numerical (scaling bug); dW2 ≈ 2.000 × numerical (scaling bug)'
    """
    mismatched = result.mismatched
    if mismatched:
        return "; ".join(block.diagnosis for block in mismatched)
    return result.summary()
