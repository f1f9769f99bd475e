"""What a campaign mutates: a function of a module, the forward and backward pass it is
checked through, and a source of examples.

:func:`notebook_target` is the default: the notebook's ``forward_propagation_n`` and
its correct ``backward_propagation_n``. :func:`file_target` loads a user's file in
memory (the file is read, never written, and no bytecode is cached next to it) and
builds the forward and backward pass in one of the conventions of
:mod:`gcverify.conventions`; the function mutated is the backward pass (or the
function returning the grads) unless ``mutate`` names another: a layer function
(``affine_backward``) the backward calls, a method (``TwoLayerNet.loss``), a cost
function (``compute_cost``), or several of them (one campaign mutates each in turn).
:func:`unloaded_file_target` describes the same target from the file's text alone, for
the report of a campaign that Ctrl-C stopped before the file was imported.

A mutant is checked through the target's :attr:`Target.build` step: the mutant
replaces its function in a copy of the module's namespace on which every function and
class of the module is rebuilt (:func:`~gcverify.mutation.rebuild.namespace_with`),
and the forward and backward pass are built from that copy, so that every caller of
the mutated function calls the mutant.

>>> target = notebook_target(seed=0)
>>> target.source.name, target.label, target.mutated
('backward_propagation_n', 'notebook', 'backward_propagation_n')
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gcverify.adapters import Backprop
from gcverify.conventions import MODEL_NAME, Convention
from gcverify.errors import GCVerifyError, invalid_argument
from gcverify.loading import load_function, load_module, resolve
from gcverify.models import notebook as nb
from gcverify.mutation.engine import Mutant, mutate
from gcverify.mutation.examples import (
    CaseExamples,
    ExampleSource,
    ModelCase,
    NetworkExamples,
    NotebookExamples,
)
from gcverify.mutation.operators import OPERATORS, Operator
from gcverify.mutation.source import FunctionSource

__all__ = ["Build", "MutatedBackward", "Target", "file_examples", "file_target",
           "network_examples", "notebook_target", "unloaded_file_target"]

#: Builds the forward and backward pass from a module's namespace (or a copy of it).
Build = Callable[[Mapping[str, Any]], Backprop]


@dataclass(frozen=True)
class Target:
    """A function to mutate, the forward and backward pass it is checked through, and
    the examples.

    ``source`` is the mutated function's source (the engine mutates it), ``mutated`` its
    name in ``namespace`` (the module's globals): ``"backward"``, or ``"Class.method"``
    for a method. ``build(namespace)`` returns the forward and backward pass made of
    ``namespace``'s functions (by default ``forward`` as it is and the mutated function
    as the backward); ``forward`` and ``backward`` are the original ones. ``layout``
    says where an example's batch is (``"columns"`` or ``"rows"``), for shrinking a
    killing example; ``checked_against`` is shown in reports (default: the forward's
    name). ``seed`` is the examples' seed, shown in reports. ``also`` holds further
    functions the same campaign mutates, as ``(name in namespace, source)`` pairs.

    >>> from gcverify.mutation.examples import NotebookExamples
    >>> t = Target.from_functions(nb.forward_propagation_n, nb.backward_propagation_n,
    ...                           NotebookExamples(seed=5))
    >>> t.seed, t.forward_name, t.mutated
    (5, 'forward_propagation_n', 'backward_propagation_n')
    """

    forward: Callable[..., Any] = field(repr=False)
    backward: Callable[..., Any] = field(repr=False)
    source: FunctionSource = field(repr=False)
    examples: ExampleSource = field(repr=False)
    namespace: Mapping[str, Any] = field(repr=False, compare=False)
    label: str = ""
    seed: int | None = None
    mutated: str = ""
    build: Build | None = field(default=None, repr=False, compare=False)
    layout: str = "columns"
    checked_against: str = ""
    also: tuple[tuple[str, FunctionSource], ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        if not self.mutated:
            object.__setattr__(self, "mutated", self.source.name)
        if self.build is None:
            object.__setattr__(self, "build", MutatedBackward(self.forward, self.mutated))

    @classmethod
    def from_functions(cls, forward: Callable[..., Any], backward: Callable[..., Any],
                       examples: ExampleSource, *, seed: int | None = None,
                       label: str | None = None, path: str | None = None) -> Target:
        """A target for two functions defined in a file, and an example source: the
        backward pass is mutated, and checked against ``forward`` as it is."""
        for name, value in (("forward", forward), ("backward", backward),
                            ("examples", examples)):
            if not callable(value):
                raise invalid_argument(name, value, "is not callable",
                                       f"pass a function as {name}")
        source = FunctionSource.from_function(backward, path=path)
        if seed is None:
            seed = getattr(examples, "seed", None)
        return cls(forward=forward, backward=backward, source=source, examples=examples,
                   namespace=backward.__globals__, label=label or source.name, seed=seed,
                   mutated=backward.__qualname__)

    @property
    def sources(self) -> tuple[tuple[str, FunctionSource], ...]:
        """Each mutated function: its name in the namespace, and its source."""
        return ((self.mutated, self.source), *self.also)

    @property
    def function_names(self) -> str:
        """The mutated functions' names, as reports show them.

        >>> notebook_target().function_names
        'backward_propagation_n'
        """
        return ", ".join(source.name for _, source in self.sources)

    @property
    def located_names(self) -> str:
        """The mutated functions' names, each with its first line.

        >>> notebook_target().located_names
        'backward_propagation_n (line 242)'
        """
        return ", ".join(f"{source.name} (line {source.first_line})"
                         for _, source in self.sources)

    def mutants(self, operators: Sequence[Operator] = OPERATORS) -> tuple[Mutant, ...]:
        """Every mutant of every mutated function, function by function."""
        return tuple(mutant for _, source in self.sources
                     for mutant in mutate(source, operators=operators))

    @property
    def forward_name(self) -> str:
        if self.checked_against:
            return self.checked_against
        return getattr(self.forward, "__qualname__", repr(self.forward))

    @property
    def example_description(self) -> str:
        """What the examples are, as the example source describes itself."""
        return str(getattr(self.examples, "description", repr(self.examples)))

    def summary(self) -> str:
        """One line: which function of which file, checked against which forward."""
        return f"{self.source.path}::{self.located_names}, checked against {self.forward_name}"


@dataclass(frozen=True)
class MutatedBackward:
    """The build step of a target made of two functions: ``forward`` as it is, and the
    function named ``backward`` in the namespace (the mutant, when it holds one).

    >>> build = MutatedBackward(nb.forward_propagation_n, "backward_propagation_n")
    >>> build(vars(nb)).backward is nb.backward_propagation_n
    True
    """

    forward: Callable[..., Any]
    backward: str

    def __call__(self, namespace: Mapping[str, Any]) -> Backprop:
        return Backprop(self.forward, resolve(namespace, "backward", self.backward))


def notebook_target(seed: int = 0) -> Target:
    """The notebook's network and its correct backprop, on :class:`NotebookExamples`.

    >>> print(notebook_target().summary())
    gcverify/models/notebook.py::backward_propagation_n (line ...),
    checked against forward_propagation_n
    """
    return Target.from_functions(nb.forward_propagation_n, nb.backward_propagation_n,
                                 NotebookExamples(seed), label="notebook")


def file_target(path: str | Path, *, forward: str | None = None,
                backward: str | None = None, case: str | None = None,
                layers: Sequence[int] | None = None, batch: int | None = None,
                seed: int = 0, convention: Convention | None = None,
                layout: str = "columns", mutate: str | Sequence[str] | None = None) -> Target:
    """The functions of the file at ``path``, in a convention.

    ``convention`` names the functions and how they are called (by default the
    notebook's, with ``forward`` and ``backward``); ``mutate`` names the function to
    mutate (default: the backward pass, or the function returning the grads), a
    top-level function or ``Class.method`` defined in the file, or a sequence of them
    (each is mutated in turn; the first is :attr:`Target.source`). Examples come either
    from ``case`` (the name of a function in the file returning ``(X, Y, parameters)``,
    or ``(X, y)`` in the model convention, whose own parameters complete it: see
    :class:`CaseExamples`) or from ``layers`` (random networks of those widths, with
    ``batch`` examples each, in ``layout``: see :class:`NetworkExamples`). Exactly one of
    the two must be given.

    >>> file_target("missing.py", forward="f", backward="b", case="c")
    Traceback (most recent call last):
    ...
    gcverify.errors.InvalidArgument: path='missing.py' does not exist or is not a file; ...
    """
    if (case is None) == (layers is None):
        raise invalid_argument("case", case, "and layers=" + repr(layers) + (
            " are both given" if case is not None else " are both missing"),
            "pass exactly one: case='name' (a function returning X, Y, parameters) "
            "or layers=(4, 5, 3, 1)")
    convention = _convention(convention, forward, backward)
    module = load_module(path)
    namespace = vars(module)
    backprop = convention.build(namespace)
    if mutate is not None:
        option, names = "mutate", _names(mutate)
    else:
        option, checked = _checked_option(convention)
        names = (checked,)
    functions = [_defined_function(module, path, option, name, convention) for name in names]
    mutated = [(f.__qualname__, FunctionSource.from_function(f, path=str(path)))
               for f in functions]
    examples = file_examples(module, path, convention, case=case, layers=layers,
                             batch=batch, seed=seed, layout=layout)
    return Target(forward=backprop.forward, backward=backprop.backward, source=mutated[0][1],
                  examples=examples, namespace=namespace,
                  label=f"{Path(path).name}::{', '.join(name for name, _ in mutated)}",
                  seed=seed, mutated=mutated[0][0], build=convention.build, layout=layout,
                  checked_against=convention.label, also=tuple(mutated[1:]))


def _names(mutate: str | Sequence[str]) -> tuple[str, ...]:
    """``mutate`` as a tuple of distinct names: one name, or several."""
    names = (mutate,) if isinstance(mutate, str) else tuple(mutate)
    if not names or not all(isinstance(name, str) for name in names) \
            or len(set(names)) < len(names):
        raise invalid_argument("mutate", mutate, "is not a name or a sequence of distinct "
                               "names", "pass e.g. mutate='affine_backward' or "
                               "mutate=('loss', 'affine_backward')")
    return names


def file_examples(module: types.ModuleType, path: str | Path, convention: Convention, *,
                  case: str | None, layers: Sequence[int] | None, batch: int | None,
                  seed: int, layout: str = "columns") -> ExampleSource:
    """The examples of a file's target: its ``case`` (completed with the model's own
    parameters in the model convention), or random networks of widths ``layers``."""
    own = convention.own_parameters(vars(module))
    if case is not None:
        function = load_function(module, path, "case", case)
        return CaseExamples(ModelCase(function, own) if own is not None else function,
                            seed=seed)
    assert layers is not None
    return network_examples(tuple(layers), seed=seed, batch=batch, layout=layout, model=own)


def network_examples(layers: Sequence[int], *, seed: int, batch: int | None, layout: str,
                     model: Mapping[str, np.ndarray] | None = None) -> NetworkExamples:
    """:class:`NetworkExamples`, whose parameters must fit the ``model``'s (its names and
    shapes), when there is a model.

    >>> network_examples((4, 3), seed=0, batch=2, layout="columns",
    ...                  model={"W1": np.zeros((4, 3)), "b1": np.zeros(3)})
    Traceback (most recent call last):
    ...
    gcverify.errors.InvalidArgument: layers=(4, 3) gives W1 (3, 4), b1 (3, 1), but the model ...
    """
    examples = NetworkExamples(tuple(layers), seed=seed, batch=batch, layout=layout)
    if model is not None:
        made = {name: np.shape(value) for name, value in examples(0)[2].items()}
        own = {name: np.shape(value) for name, value in model.items()}
        if made != own:
            def shown(shapes: Mapping[str, tuple[int, ...]]) -> str:
                return ", ".join(f"{name} {shape}" for name, shape in shapes.items())
            raise invalid_argument("layers", tuple(layers), f"gives {shown(made)}, but the "
                                   f"model has {shown(own)}", "pass the model's widths, with "
                                   "layout='rows' for (fan_in, fan_out) weights, or give "
                                   "case= instead")
    return examples


def _convention(convention: Convention | None, forward: str | None,
                backward: str | None) -> Convention:
    if convention is None:
        return Convention("notebook", forward=forward, backward=backward)
    if forward is not None or backward is not None:
        raise invalid_argument("forward" if forward is not None else "backward",
                               forward or backward, "is given twice: with convention= too",
                               "name the functions in the Convention only")
    return convention


def _checked_option(convention: Convention) -> tuple[str, str]:
    """The option that names the function mutated by default, and that name."""
    if convention.backward is not None:
        return "backward", convention.backward
    if convention.forward is not None:
        return "forward", convention.forward
    return "model", f"{MODEL_NAME}.loss"


def _defined_function(module: types.ModuleType, path: str | Path, option: str, name: str,
                      convention: Convention) -> types.FunctionType:
    """The plain function (or method) ``name`` reaches, which ``path`` must define."""
    namespace = dict(vars(module))
    if convention.model is not None:
        namespace[MODEL_NAME] = convention.build_model(vars(module))
    found = resolve(namespace, option, name, str(path))
    value = getattr(found, "__func__", found)  # a bound method's function
    if not isinstance(value, types.FunctionType) or "<locals>" in value.__qualname__:
        raise invalid_argument(option, name, "is no function or method the file defines at "
                               "its top level", "mutate a top-level function or a method, "
                               "e.g. mutate='TwoLayerNet.loss' (a factory's mutants include "
                               "the function it returns)")
    if inspect.getsourcefile(value) != inspect.getsourcefile(module):
        raise invalid_argument(option, name, f"is imported into {path}, not defined there",
                               "pass the file that defines it")
    return value


def unloaded_file_target(path: str | Path, *, forward: str | None = None,
                         backward: str | None = None, case: str | None = None,
                         layers: Sequence[int] | None = None, batch: int | None = None,
                         seed: int = 0, convention: Convention | None = None,
                         layout: str = "columns", mutate: str | Sequence[str] | None = None
                         ) -> Target:
    """What :func:`file_target` describes, read from the file's text without running it.

    Its source and mutants are the ones the file's text gives; its functions only carry
    their names (calling one raises): it is for the report of a campaign that never got
    to import the file.

    >>> from gcverify.models import notebook as nb
    >>> target = unloaded_file_target(nb.__file__, forward="forward_propagation_n",
    ...                               backward="backward_propagation_n", layers=(4, 5, 3, 1))
    >>> target.forward_name, target.source.name
    ('forward_propagation_n', 'backward_propagation_n')
    """
    convention = _convention(convention, forward, backward)
    names = _names(mutate) if mutate is not None else (_static_name(convention),)
    sources = [(name, FunctionSource.from_file(path, name, shown_as=str(path)))
               for name in names]
    name, source = sources[0]
    examples: ExampleSource
    if case is not None:
        examples = CaseExamples(_not_loaded(case), seed=seed)
    else:
        examples = NetworkExamples(tuple(layers or ()), seed=seed, batch=batch, layout=layout)
    forward_name = convention.forward or convention.label
    return Target(forward=_not_loaded(forward_name), backward=_not_loaded(name), source=source,
                  examples=examples, namespace={},
                  label=f"{Path(path).name}::{', '.join(names)}", seed=seed, mutated=name,
                  layout=layout, also=tuple(sources[1:]),
                  checked_against=convention.label if convention.name != "notebook" else "")


def _static_name(convention: Convention) -> str:
    """The function mutated by default, as the file's text names it: a method of the
    model's class is ``Class.method`` when ``model`` calls the class."""
    name = convention.checked
    owner, _, method = name.rpartition(".")
    if owner == MODEL_NAME and convention.model is not None:
        return f"{convention.model_maker}.{method}"
    return name


def _not_loaded(name: str) -> Callable[..., Any]:
    def not_loaded(*args: Any, **kwargs: Any) -> Any:
        raise GCVerifyError(f"{name}() was never loaded: its file was not imported")

    not_loaded.__name__ = not_loaded.__qualname__ = name
    return not_loaded
