"""How the functions of a user's module make a forward and a backward pass: the
conventions of ``gcverify check`` and ``gcverify mutate``, as data.

A :class:`Convention` holds names and options only (so that a campaign can send it to
a child process or a Dask worker); :meth:`Convention.build` looks the names up in a
module's namespace (the module's own, or a copy holding a mutant) and returns the
notebook's ``forward(X, Y, parameters) -> (cost, cache)`` and ``backward(X, Y, cache)``
through :mod:`gcverify.adapters`:

* ``notebook``: ``forward`` and ``backward`` are those two functions;
* ``l-layer``: ``forward``, ``cost`` and ``backward`` are the course's
  ``L_model_forward``, ``compute_cost`` and ``L_model_backward``, with ``lambd`` (L2)
  and ``keep_prob`` (dropout) passed on (:func:`~gcverify.adapters.l_layer`);
* ``loss-and-grads``: ``forward`` returns ``(loss, grads)``; it is called as it is
  written: ``f(X, Y, parameters)``, ``f(X, Y)`` returning ``loss(parameters)`` (a
  factory, the data in its closure), or ``f(parameters)``;
* ``model``: the object ``model`` builds (``"TwoLayerNet(4, 5, 3)"``, or the name of a
  function or class called without arguments) holds ``params`` and a loss method,
  ``net.loss`` unless ``forward`` names another (:func:`~gcverify.adapters.model_backprop`).

Names may be dotted (``net.forward``, ``Layers.backward``); ``net`` is the object
``model`` builds, in any convention, so bound methods work everywhere.

>>> import numpy as np
>>> namespace = {"f": lambda X, Y, p: (float(np.sum(p["w"] ** 2)), {"w": 2 * p["w"]})}
>>> forward, backward = Convention("loss-and-grads", forward="f").build(namespace)
>>> backward(None, None, forward(None, None, {"w": np.ones(2)})[1])["w"].tolist()
[2.0, 2.0]
"""

from __future__ import annotations

import ast
import inspect
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from gcverify import adapters
from gcverify.errors import invalid_argument
from gcverify.loading import resolve

__all__ = ["CONVENTIONS", "LAYOUTS", "MODEL_NAME", "NEEDS", "UNUSED", "Convention"]

#: The conventions, as ``--convention`` spells them.
CONVENTIONS = ("notebook", "l-layer", "loss-and-grads", "model")
#: Where the examples of a batch are: the notebook's columns (X is features x examples),
#: or CS231n's rows (X is examples x features, y integer labels).
LAYOUTS = ("columns", "rows")
#: The name under which the object ``model`` builds is known to the other names.
MODEL_NAME = "net"
#: What each convention needs named.
NEEDS = {"notebook": ("forward", "backward"), "l-layer": ("forward", "cost", "backward"),
         "loss-and-grads": ("forward",), "model": ("model",)}
#: What each convention has no use for (``lambd`` and ``keep_prob`` are the l-layer's).
UNUSED = {"notebook": ("cost",), "l-layer": (), "loss-and-grads": ("backward", "cost"),
          "model": ("backward", "cost")}
_MISSING = object()
_EXAMPLES = {"forward": "forward_propagation", "backward": "backward_propagation",
             "cost": "compute_cost", "model": "TwoLayerNet(4, 5, 3)"}


@dataclass(frozen=True)
class Convention:
    """Which functions of a module to check, and how they are called.

    >>> Convention("l-layer", forward="L_model_forward", backward="L_model_backward")
    Traceback (most recent call last):
    ...
    gcverify.errors.InvalidArgument: cost=None is missing: the l-layer convention needs it; ...
    """

    name: str = "notebook"
    forward: str | None = None
    backward: str | None = None
    cost: str | None = None
    model: str | None = None
    lambd: float | None = None
    keep_prob: float | None = None

    def __post_init__(self) -> None:
        if self.name not in CONVENTIONS:
            raise invalid_argument("convention", self.name, "is not a convention",
                                   f"use one of {', '.join(CONVENTIONS)}")
        for option in NEEDS[self.name]:
            if getattr(self, option) is None:
                raise invalid_argument(option, None, f"is missing: the {self.name} "
                                       "convention needs it",
                                       f"pass e.g. {option}='{_EXAMPLES[option]}'")
        for option in UNUSED[self.name]:
            if getattr(self, option) is not None:
                needs = " and ".join(NEEDS[self.name])
                raise invalid_argument(option, getattr(self, option), "has no use in the "
                                       f"{self.name} convention", f"drop {option}= (it "
                                       f"takes {needs}), or choose another convention")
        if self.name != "l-layer" and (self.lambd is not None or self.keep_prob is not None):
            option = "lambd" if self.lambd is not None else "keep_prob"
            raise invalid_argument(option, getattr(self, option), "only applies to the "
                                   "l-layer convention", f"drop {option}=, or use the "
                                   "l-layer convention")

    @property
    def checked(self) -> str:
        """The function whose gradients are checked, and so mutated by default: the
        backward pass, or the function that returns the grads.

        >>> Convention("loss-and-grads", forward="make_loss").checked
        'make_loss'
        """
        if self.name == "model":
            return self.forward or f"{MODEL_NAME}.loss"
        return self.backward if self.backward is not None else str(self.forward)

    @property
    def label(self) -> str:
        """What a report says the mutants were checked against.

        >>> Convention("model", model="TwoLayerNet(4, 5, 3)").label
        'net.loss of TwoLayerNet(4, 5, 3) (model)'
        """
        if self.name == "model":
            return f"{self.checked} of {self.model} (model)"
        if self.name == "l-layer":
            return f"{self.forward} and {self.cost} (l-layer)"
        return str(self.forward) + (" (loss-and-grads)" if self.name == "loss-and-grads"
                                    else "")

    def build(self, namespace: Mapping[str, Any]) -> adapters.Backprop:
        """The forward and backward pass made of ``namespace``'s functions."""
        scope = dict(namespace)
        if self.model is not None:
            scope[MODEL_NAME] = self.build_model(namespace)
        where = str(namespace.get("__file__", "the file"))
        if self.name == "model":
            return self._model_backprop(scope, where)

        def named(option: str) -> Callable[..., Any]:
            return resolve(scope, option, str(getattr(self, option)), where)

        forward = named("forward")
        if self.name == "notebook":
            return adapters.Backprop(forward, named("backward"))
        if self.name == "l-layer":
            return adapters.l_layer(forward, named("cost"), named("backward"),
                                    lambd=self.lambd, keep_prob=self.keep_prob)
        return _loss_and_grads(forward, str(self.forward))

    @property
    def model_maker(self) -> str:
        """The name ``model`` calls (or names).

        >>> Convention("model", model="TwoLayerNet(4, 5, 3)").model_maker
        'TwoLayerNet'
        """
        return _parse_call(str(self.model))[0]

    def build_model(self, namespace: Mapping[str, Any]) -> Any:
        """The object ``model`` describes, built from ``namespace``'s classes: a call
        with literal arguments, a class or function called without any, or an object."""
        name, args, kwargs, called = _parse_call(str(self.model))
        value = _lookup(namespace, name)
        if not (called or isinstance(value, (type, types.FunctionType))):
            return value
        if not callable(value):
            raise invalid_argument("model", self.model, f"calls a {type(value).__name__}",
                                   "name a class or a function that builds the model")
        return value(*args, **kwargs)

    def _model_backprop(self, scope: Mapping[str, Any], where: str) -> adapters.Backprop:
        owner, _, method = self.checked.rpartition(".")
        option = "forward" if self.forward is not None else "model"
        if owner != MODEL_NAME:
            raise invalid_argument(option, self.forward, f"is not a method of {MODEL_NAME} "
                                   "(the model)", f"pass e.g. forward='{MODEL_NAME}.loss', or "
                                   "drop it for net.loss")
        resolve(scope, option, self.checked, where)  # says what is missing, if anything
        return adapters.model_backprop(scope[MODEL_NAME], method)

    def own_parameters(self, namespace: Mapping[str, Any]) -> dict[str, np.ndarray] | None:
        """A copy of the model's ``params`` in the model convention, else None."""
        if self.name != "model":
            return None
        return adapters.model_parameters(self.build_model(namespace))


def _parse_call(expression: str) -> tuple[str, list[Any], dict[str, Any], bool]:
    """``"Net(4, k=2)"`` -> ``("Net", [4], {"k": 2}, True)``; ``"make_net"`` -> not called."""
    try:
        tree = ast.parse(expression.strip(), mode="eval").body
        called = isinstance(tree, ast.Call)
        target = tree.func if isinstance(tree, ast.Call) else tree
        if not isinstance(target, (ast.Name, ast.Attribute)):
            raise ValueError(expression)
        args = [ast.literal_eval(a) for a in tree.args] if isinstance(tree, ast.Call) else []
        kwargs = ({k.arg: ast.literal_eval(k.value) for k in tree.keywords if k.arg}
                  if isinstance(tree, ast.Call) else {})
    except (SyntaxError, ValueError):
        raise invalid_argument("model", expression, "is not NAME or NAME(arguments) with "
                               "literal arguments", "pass e.g. model='TwoLayerNet(4, 5, 3)', "
                               "or the name of a function that builds the model") from None
    return ast.unparse(target), args, kwargs, called


def _lookup(namespace: Mapping[str, Any], dotted: str) -> Any:
    head, *rest = dotted.split(".")
    value = namespace.get(head, _MISSING)
    for part in rest:
        value = getattr(value, part, _MISSING)
    if value is _MISSING:
        raise invalid_argument("model", dotted, "is not in the file",
                               "name a class or a function the file defines")
    return value


def _loss_and_grads(f: Callable[..., Any], name: str) -> adapters.Backprop:
    """``f`` called as it is written: ``f(X, Y, parameters)``, ``f(X, Y)(parameters)`` or
    ``f(parameters)``, each returning ``(loss, grads)``."""
    required = _required_positional(f)
    if required not in (1, 2, 3):
        raise invalid_argument("forward", name, f"takes {required} required arguments",
                               "give it (X, Y, parameters), (X, Y) returning loss(parameters), "
                               "or (parameters)")

    def loss(X: Any, Y: Any, parameters: dict[str, np.ndarray]) -> Any:
        if required == 3:
            return f(X, Y, parameters)
        if required == 1:
            return f(parameters)
        made = f(X, Y)
        if not callable(made):
            raise invalid_argument("forward", name, f"returned a {type(made).__name__} when "
                                   "called with (X, Y), not a function loss(parameters)",
                                   "for a model's net.loss(X, y), use the model convention")
        return made(parameters)

    return adapters.loss_and_grads(loss, data=True)


def _required_positional(f: Callable[..., Any]) -> int | None:
    try:
        parameters = inspect.signature(f).parameters.values()
    except (TypeError, ValueError):  # no signature (a builtin): assume the three
        return 3
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
               and p.default is p.empty for p in parameters)
