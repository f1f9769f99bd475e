"""The one resolver of what a command checks: FILE, ``--forward``, ``--backward``, and the
data (``--case NAME`` or ``--layers 4,5,3,1`` with ``--batch`` and ``--seed``).

``gcverify check`` and ``gcverify mutate`` read the same options the same way, and
build generated data with the same generator: example ``i`` of
:class:`~gcverify.mutation.examples.NetworkExamples` (``check`` uses example 0, the
campaign all of them).

>>> parse_layers("4, 5,3,1")
(4, 5, 3, 1)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click
import numpy as np

from gcverify.cli.shared import CommandLineError
from gcverify.errors import invalid_argument

__all__ = ["CheckTarget", "TargetOptions", "mutation_target", "parse_layers", "target_options"]

F = TypeVar("F", bound=Callable[..., Any])


def parse_layers(text: str) -> tuple[int, ...]:
    """``"4,5,3,1"`` -> ``(4, 5, 3, 1)``, or a one-line error naming ``--layers``."""
    try:
        widths = tuple(int(part) for part in text.split(","))
    except ValueError:
        widths = ()
    if len(widths) < 2 or min(widths) < 1:
        raise CommandLineError(f"--layers={text!r} is not a list of at least two positive "
                               "widths; pass e.g. --layers 4,5,3,1")
    return widths


def target_options(command: F) -> F:
    """``--forward``, ``--backward``, ``--case``, ``--layers`` and ``--batch``."""
    for option in reversed((
        click.option("--forward", metavar="NAME",
                     help="The forward pass in FILE: forward(X, Y, parameters) -> "
                          "(cost, cache)."),
        click.option("--backward", metavar="NAME",
                     help="The backward pass in FILE: backward(X, Y, cache) -> gradients."),
        click.option("--case", metavar="NAME",
                     help="A function in FILE returning (X, Y, parameters)."),
        click.option("--layers", metavar="N0,N1,...",
                     help="Instead of --case: generated X, Y and parameters W1, b1, ... for "
                          "networks of these widths."),
        click.option("--batch", type=click.IntRange(min=1), metavar="M",
                     help="With --layers: examples per batch  [default: drawn in 2..6 from "
                          "the seed]"),
    )):
        command = option(command)
    return command


@dataclass(frozen=True)
class TargetOptions:
    """What the user named: the file, its functions, and where the data comes from."""

    file: str | None
    forward: str | None
    backward: str | None
    case: str | None
    layers: str | None
    batch: int | None
    seed: int

    def require_file(self) -> str:
        """FILE with both functions named, exactly one data source, ``--batch`` only with
        ``--layers``; else a one-line error that says what to add or drop."""
        if self.file is None:
            given = [f"--{name}" for name in ("forward", "backward", "case", "layers", "batch")
                     if getattr(self, name) is not None]
            raise CommandLineError(f"FILE is missing but {', '.join(given)} name what is in "
                                   "it; pass the file first, e.g. net.py --forward f "
                                   "--backward b --case c")
        missing = [f"--{name} NAME" for name in ("forward", "backward")
                   if getattr(self, name) is None]
        if missing:
            raise CommandLineError(f"FILE={self.file!r} needs {' and '.join(missing)}; name "
                                   "the functions to check, e.g. --forward forward_pass "
                                   "--backward backward_pass")
        if (self.case is None) == (self.layers is None):
            both = "are both given" if self.case is not None else "are both missing"
            raise CommandLineError(f"--case and --layers {both}; pass exactly one: --case "
                                   "NAME (a function returning X, Y, parameters) or --layers "
                                   "4,5,3,1")
        if self.batch is not None and self.layers is None:
            raise CommandLineError(f"--batch={self.batch} only applies with --layers; pass "
                                   "--layers 4,5,3,1 too, or drop --batch")
        return self.file

    @property
    def names_nothing(self) -> bool:
        """No FILE and nothing naming what is in one: ``gcverify mutate``'s default."""
        return self.file is None and all(getattr(self, name) is None for name in
                                         ("forward", "backward", "case", "layers", "batch"))

    @property
    def widths(self) -> tuple[int, ...] | None:
        return parse_layers(self.layers) if self.layers is not None else None


@dataclass(frozen=True)
class CheckTarget:
    """What ``gcverify check`` checks: the functions and one example."""

    forward: Callable[..., Any]
    backward: Callable[..., Any]
    X: Any
    Y: Any
    parameters: Any

    @classmethod
    def load(cls, options: TargetOptions) -> CheckTarget:
        """Load FILE's functions (nothing is written) and build the data."""
        from gcverify.loading import load_function, load_module

        path = options.require_file()
        widths = options.widths
        module = load_module(path)
        assert options.forward is not None and options.backward is not None
        forward = load_function(module, path, "forward", options.forward)
        backward = load_function(module, path, "backward", options.backward)
        if widths is not None:
            from gcverify.mutation.examples import NetworkExamples

            X, Y, parameters = NetworkExamples(widths, seed=options.seed,
                                               batch=options.batch)(0)
        else:
            assert options.case is not None
            X, Y, parameters = _case(load_function(module, path, "case", options.case),
                                     options.case)
        return cls(forward, backward, X, Y, parameters)


def _case(function: Callable[[], Any], name: str) -> tuple[Any, Any, Any]:
    state = np.random.get_state()  # noqa: NPY002 (a case may reseed numpy's global RNG)
    try:
        value = function()
    finally:
        np.random.set_state(state)  # noqa: NPY002
    if not (isinstance(value, tuple) and len(value) == 3):
        raise invalid_argument("case", name, "does not return (X, Y, parameters)",
                               "return the three, as gradient_check_n_test_case does")
    return value


def mutation_target(options: TargetOptions) -> Any:
    """What ``gcverify mutate`` mutates: FILE's backward pass, or without FILE (and
    without anything naming what is in it) the notebook's ``backward_propagation_n``."""
    from gcverify.mutation.targets import file_target, notebook_target

    if options.names_nothing:
        return notebook_target(options.seed)
    path = options.require_file()
    assert options.forward is not None and options.backward is not None
    return file_target(path, forward=options.forward, backward=options.backward,
                       case=options.case, layers=options.widths, batch=options.batch,
                       seed=options.seed)
