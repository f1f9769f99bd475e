"""What a campaign mutates: a forward/backward pair and a source of examples.

:func:`notebook_target` is the default: the notebook's ``forward_propagation_n`` and
its correct ``backward_propagation_n``. :func:`file_target` loads a user's file in
memory (the file is read, never written, and no bytecode is cached next to it) and
picks the functions by name; :func:`unloaded_file_target` describes the same target
from the file's text alone, for the report of a campaign that Ctrl-C stopped before the
file was imported.

>>> target = notebook_target(seed=0)
>>> target.source.name, target.label
('backward_propagation_n', 'notebook')
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gcverify.errors import GCVerifyError, invalid_argument
from gcverify.loading import load_function, load_module
from gcverify.models import notebook as nb
from gcverify.mutation.examples import (
    CaseExamples,
    ExampleSource,
    NetworkExamples,
    NotebookExamples,
)
from gcverify.mutation.source import FunctionSource

__all__ = ["Target", "file_target", "notebook_target", "unloaded_file_target"]


@dataclass(frozen=True)
class Target:
    """A backward pass to mutate, the forward it is checked against, and the examples.

    ``source`` is the backward pass's source (the engine mutates it); mutants are
    compiled in a copy of ``namespace`` (the backward's module globals). ``seed`` is
    the examples' seed, shown in reports.

    >>> from gcverify.mutation.examples import NotebookExamples
    >>> t = Target.from_functions(nb.forward_propagation_n, nb.backward_propagation_n,
    ...                           NotebookExamples(seed=5))
    >>> t.seed, t.forward_name
    (5, 'forward_propagation_n')
    """

    forward: Callable[..., Any] = field(repr=False)
    backward: Callable[..., Any] = field(repr=False)
    source: FunctionSource = field(repr=False)
    examples: ExampleSource = field(repr=False)
    namespace: Mapping[str, Any] = field(repr=False, compare=False)
    label: str = ""
    seed: int | None = None

    @classmethod
    def from_functions(cls, forward: Callable[..., Any], backward: Callable[..., Any],
                       examples: ExampleSource, *, seed: int | None = None,
                       label: str | None = None, path: str | None = None) -> Target:
        """A target for two functions defined in a file, and an example source."""
        for name, value in (("forward", forward), ("backward", backward),
                            ("examples", examples)):
            if not callable(value):
                raise invalid_argument(name, value, "is not callable",
                                       f"pass a function as {name}")
        source = FunctionSource.from_function(backward, path=path)
        if seed is None:
            seed = getattr(examples, "seed", None)
        return cls(forward=forward, backward=backward, source=source, examples=examples,
                   namespace=backward.__globals__, label=label or source.name, seed=seed)

    @property
    def forward_name(self) -> str:
        return getattr(self.forward, "__qualname__", repr(self.forward))

    @property
    def example_description(self) -> str:
        """What the examples are, as the example source describes itself."""
        return str(getattr(self.examples, "description", repr(self.examples)))

    def summary(self) -> str:
        """One line: which function of which file, checked against which forward."""
        return (f"{self.source.path}::{self.source.name} (line {self.source.first_line}), "
                f"checked against {self.forward_name}")


def notebook_target(seed: int = 0) -> Target:
    """The notebook's network and its correct backprop, on :class:`NotebookExamples`.

    >>> print(notebook_target().summary())
    gcverify/models/notebook.py::backward_propagation_n (line ...),
    checked against forward_propagation_n
    """
    return Target.from_functions(nb.forward_propagation_n, nb.backward_propagation_n,
                                 NotebookExamples(seed), label="notebook")


def file_target(path: str | Path, *, forward: str, backward: str, case: str | None = None,
                layers: Sequence[int] | None = None, batch: int | None = None,
                seed: int = 0) -> Target:
    """The functions ``forward`` and ``backward`` of the file at ``path``.

    Examples come either from ``case`` (the name of a function in the file returning
    ``(X, Y, parameters)``: see :class:`CaseExamples`) or from ``layers`` (random
    networks of those widths, with ``batch`` examples each: see
    :class:`NetworkExamples`). Exactly one of the two must be given.

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
    module = load_module(path)
    forward_function = load_function(module, path, "forward", forward)
    backward_function = load_function(module, path, "backward", backward)
    if inspect.getsourcefile(backward_function) != inspect.getsourcefile(module):
        raise invalid_argument("backward", backward, f"is imported into {path}, not defined "
                               "there", "pass the file that defines it")
    examples: ExampleSource
    if case is not None:
        examples = CaseExamples(load_function(module, path, "case", case), seed=seed)
    else:
        assert layers is not None
        examples = NetworkExamples(tuple(layers), seed=seed, batch=batch)
    return Target.from_functions(forward_function, backward_function, examples, seed=seed,
                                 label=f"{Path(path).name}::{backward}", path=str(path))


def unloaded_file_target(path: str | Path, *, forward: str, backward: str,
                         case: str | None = None, layers: Sequence[int] | None = None,
                         batch: int | None = None, seed: int = 0) -> Target:
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
    source = FunctionSource.from_file(path, backward, shown_as=str(path))
    examples: ExampleSource
    if case is not None:
        examples = CaseExamples(_not_loaded(case), seed=seed)
    else:
        examples = NetworkExamples(tuple(layers or ()), seed=seed, batch=batch)
    return Target(forward=_not_loaded(forward), backward=_not_loaded(backward), source=source,
                  examples=examples, namespace={}, label=f"{Path(path).name}::{backward}",
                  seed=seed)


def _not_loaded(name: str) -> Callable[..., Any]:
    def not_loaded(*args: Any, **kwargs: Any) -> Any:
        raise GCVerifyError(f"{name}() was never loaded: its file was not imported")

    not_loaded.__name__ = not_loaded.__qualname__ = name
    return not_loaded
