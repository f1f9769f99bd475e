"""The one resolver of what a command checks: FILE, the convention its functions are
written in and their names, and the data (``--case NAME`` or ``--layers 4,5,3,1`` with
``--batch``, ``--layout`` and ``--seed``).

``gcverify check`` and ``gcverify mutate`` read the same options the same way, and
build generated data with the same generator: example ``i`` of
:class:`~gcverify.mutation.examples.NetworkExamples` (``check`` uses example 0, the
campaign all of them). The conventions (:mod:`gcverify.conventions`):

* ``notebook`` (the default): ``--forward`` and ``--backward``;
* ``l-layer``: ``--forward L_model_forward --cost compute_cost --backward
  L_model_backward``, with ``--lambd`` (L2) and ``--keep-prob`` (dropout);
* ``loss-and-grads``: ``--forward f`` returning ``(loss, grads)``, as ``f(X, Y,
  parameters)``, ``f(X, Y)`` returning ``loss(parameters)``, or ``f(parameters)``;
* ``model``: ``--model "TwoLayerNet(4, 5, 3)"`` (or a function building the model),
  checked through ``net.loss``, or the method ``--forward net.NAME`` names.

``--model`` also works with the other conventions: its object is ``net`` there, so
``--forward net.forward --backward net.backward`` checks bound methods.

>>> parse_layers("4, 5,3,1")
(4, 5, 3, 1)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeVar

import click
import numpy as np

from gcverify.cli.shared import CommandLineError
from gcverify.conventions import CONVENTIONS, LAYOUTS, NEEDS, UNUSED, Convention
from gcverify.errors import invalid_argument

__all__ = ["CheckTarget", "TargetOptions", "mutate_option", "mutation_target", "parse_layers",
           "target_options"]

F = TypeVar("F", bound=Callable[..., Any])

# A command line that names each convention's functions, shown when one is missing.
_EXAMPLE_NAMES = {
    "notebook": "--forward forward_pass --backward backward_pass",
    "l-layer": "--forward L_model_forward --cost compute_cost --backward L_model_backward",
    "loss-and-grads": "--forward loss",
    "model": '--model "TwoLayerNet(4, 5, 3)"',
}
_METAVARS = {"model": "EXPR"}


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


_OPTIONS = (
    click.option("--convention", type=click.Choice(CONVENTIONS), default="notebook",
                 show_default=True,
                 help="How FILE's functions are written: notebook (forward, backward), "
                      "l-layer (--forward L_model_forward --cost compute_cost --backward "
                      "L_model_backward), loss-and-grads (--forward f returning loss, grads) "
                      "or model (--model, checked through net.loss)."),
    click.option("--forward", metavar="NAME",
                 help="The forward pass in FILE: forward(X, Y, parameters) -> (cost, cache); "
                      "with l-layer L_model_forward, with loss-and-grads the function "
                      "returning (loss, grads), with model the method (net.loss). A dotted "
                      "name reaches a method: net.forward."),
    click.option("--backward", metavar="NAME",
                 help="The backward pass in FILE: backward(X, Y, cache) -> gradients; with "
                      "l-layer L_model_backward(AL, Y, caches)."),
    click.option("--cost", metavar="NAME",
                 help="With --convention l-layer: the cost function, compute_cost(AL, Y)."),
    click.option("--model", metavar="EXPR",
                 help='The model object, known as net to the other names: a call such as '
                      '"TwoLayerNet(4, 5, 3)" (literal arguments), or the name of a '
                      'function or class that builds it.'),
    click.option("--lambd", type=click.FloatRange(min=0), metavar="L",
                 help="With l-layer: L2 regularisation; the cost and the backward pass take "
                      "it (compute_cost(AL, Y, parameters, lambd))."),
    click.option("--keep-prob", "keep_prob", type=click.FloatRange(0, 1, min_open=True),
                 metavar="P",
                 help="With l-layer: dropout; L_model_forward(X, parameters, keep_prob) and "
                      "the backward pass take it, and every forward pass draws the same "
                      "masks."),
    click.option("--case", metavar="NAME",
                 help="A function in FILE returning (X, Y, parameters); with model, (X, y) "
                      "is enough (the model's own parameters are checked)."),
    click.option("--layers", metavar="N0,N1,...",
                 help="Instead of --case: generated X, Y and parameters W1, b1, ... for "
                      "networks of these widths."),
    click.option("--batch", type=click.IntRange(min=1), metavar="M",
                 help="With --layers: examples per batch  [default: drawn in 2..6 from "
                      "the seed]"),
    click.option("--layout", type=click.Choice(LAYOUTS), default="columns",
                 show_default=True,
                 help="Where the examples are: columns (X is features x examples, Y of "
                      "shape (n_out, m) floats, W1 (n1, n0)) or rows (X is examples x "
                      "features, y integer labels, W1 (n0, n1), b1 (n1,))."),
)


def _distinct_names(context: click.Context, parameter: click.Parameter,
                    names: tuple[str, ...]) -> tuple[str, ...] | None:
    """``--mutate``'s names, each once; not given, None (as TargetOptions's default), not
    click's empty tuple. A repeated name is a usage error, before anything is written."""
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise click.BadParameter(
            f"{', '.join(repeated)} given twice; repeat --mutate with distinct names, "
            "e.g. --mutate loss --mutate affine_backward", context, parameter)
    return names or None


mutate_option = click.option(
    "--mutate", metavar="NAME", multiple=True, callback=_distinct_names,
    help="The function to mutate: a top-level function of FILE or Class.method (e.g. "
         "affine_backward, TwoLayerNet.loss, compute_cost); repeat it to mutate several "
         "in one campaign (--mutate loss --mutate affine_backward)  [default: the "
         "backward pass, or the function returning the grads]")


def target_options(command: F) -> F:
    """``--convention``, the functions' names, their options and the data options."""
    for option in reversed(_OPTIONS):
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
    convention: str = "notebook"
    cost: str | None = None
    model: str | None = None
    lambd: float | None = None
    keep_prob: float | None = None
    layout: str = "columns"
    mutate: tuple[str, ...] | None = None

    @classmethod
    def from_values(cls, file: str | None, values: Mapping[str, Any], seed: int
                    ) -> TargetOptions:
        """The target options among a command's parameters (``values``)."""
        names = [f.name for f in fields(cls) if f.name not in ("file", "seed")]
        return cls(file=file, seed=seed, **{name: values[name] for name in names
                                             if name in values})

    def _given(self) -> list[str]:
        defaults = {f.name: f.default for f in fields(self) if f.name not in ("file", "seed")}
        defaults.update(forward=None, backward=None, case=None, layers=None, batch=None)
        return [name for name, default in defaults.items() if getattr(self, name) != default]

    def require_file(self) -> str:
        """FILE with the functions its convention needs named (and nothing it has no use
        for), exactly one data source, ``--batch`` only with ``--layers``; else a
        one-line error that says what to add or drop."""
        if self.file is None:
            given = ", ".join(f"--{name.replace('_', '-')}" for name in self._given())
            raise CommandLineError(f"FILE is missing but {given} name what is in it; pass "
                                   "the file first, e.g. net.py --forward f --backward b "
                                   "--case c")
        convention = self.convention
        missing = [f"--{name} {_METAVARS.get(name, 'NAME')}" for name in NEEDS[convention]
                   if getattr(self, name) is None]
        if missing:
            with_convention = f" with --convention {convention}" if convention != "notebook" \
                else ""
            raise CommandLineError(f"FILE={self.file!r} needs {' and '.join(missing)}"
                                   f"{with_convention}; name the functions to check, e.g. "
                                   f"{_EXAMPLE_NAMES[convention]}")
        unused = [name for name in UNUSED[convention] if getattr(self, name) is not None]
        unused += [name for name in ("lambd", "keep_prob")
                   if convention != "l-layer" and getattr(self, name) is not None]
        if unused:
            flag = "--" + unused[0].replace("_", "-")
            raise CommandLineError(f"{flag} has no use with --convention {convention}; drop "
                                   f"it, or choose the convention that takes it")
        if (self.case is None) == (self.layers is None):
            both = "are both given" if self.case is not None else "are both missing"
            raise CommandLineError(f"--case and --layers {both}; pass exactly one: --case "
                                   "NAME (a function returning X, Y, parameters) or --layers "
                                   "4,5,3,1")
        if self.batch is not None and self.layers is None:
            raise CommandLineError(f"--batch={self.batch} only applies with --layers; pass "
                                   "--layers 4,5,3,1 too, or drop --batch")
        _ = self.widths, self.spec  # a bad --layers or --model fails here, before anything runs
        return self.file

    @property
    def names_nothing(self) -> bool:
        """No FILE and nothing naming what is in one: ``gcverify mutate``'s default."""
        return self.file is None and not self._given()

    @property
    def widths(self) -> tuple[int, ...] | None:
        return parse_layers(self.layers) if self.layers is not None else None

    @property
    def spec(self) -> Convention:
        """The :class:`~gcverify.conventions.Convention` the options describe."""
        spec = Convention(self.convention, forward=self.forward, backward=self.backward,
                          cost=self.cost, model=self.model, lambd=self.lambd,
                          keep_prob=self.keep_prob)
        if spec.model is not None:
            _ = spec.model_maker  # a malformed --model is a usage error
        return spec


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
        spec = options.spec
        module = load_module(path)
        forward, backward = spec.build(vars(module))
        own = spec.own_parameters(vars(module))
        if widths is not None:
            from gcverify.mutation.targets import network_examples

            X, Y, parameters = network_examples(widths, seed=options.seed, batch=options.batch,
                                                layout=options.layout, model=own)(0)
        else:
            assert options.case is not None
            X, Y, parameters = _case(load_function(module, path, "case", options.case),
                                     options.case, own)
        return cls(forward, backward, X, Y, parameters)


def _case(function: Callable[[], Any], name: str,
          own: Mapping[str, np.ndarray] | None = None) -> tuple[Any, Any, Any]:
    """The case's ``(X, Y, parameters)``; with a model's ``own`` parameters, ``(X, y)``
    is completed with them."""
    state = np.random.get_state()  # noqa: NPY002 (a case may reseed numpy's global RNG)
    try:
        value = function()
    finally:
        np.random.set_state(state)  # noqa: NPY002
    if own is not None and isinstance(value, tuple) and len(value) == 2:
        value = (*value, {key: np.array(array) for key, array in own.items()})
    if not (isinstance(value, tuple) and len(value) == 3):
        raise invalid_argument("case", name, "does not return (X, Y, parameters)",
                               "return the three, as gradient_check_n_test_case does")
    return value


def mutation_target(options: TargetOptions) -> Any:
    """What ``gcverify mutate`` mutates: FILE's backward pass (or the function
    ``--mutate`` names), or without FILE (and without anything naming what is in it) the
    notebook's ``backward_propagation_n``."""
    from gcverify.mutation.targets import file_target, notebook_target

    if options.names_nothing:
        return notebook_target(options.seed)
    path = options.require_file()
    return file_target(path, convention=options.spec, case=options.case,
                       layers=options.widths, batch=options.batch, seed=options.seed,
                       layout=options.layout, mutate=options.mutate)
