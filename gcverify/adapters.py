"""Backprop as people write it, turned into the notebook's convention.

The checker takes ``forward(X, Y, parameters) -> (cost, cache)`` and ``backward(X, Y,
cache) -> gradients``. Code written in other common shapes gets there through one of
these adapters, so every other feature (the pytest plugin, the CLI, the strategies,
mutation campaigns) works with it unchanged:

* :func:`l_layer` for the deep-learning course's style: ``L_model_forward(X, parameters)
  -> (AL, caches)``, ``compute_cost(AL, Y)``, ``L_model_backward(AL, Y, caches) ->
  grads`` (with ``dW1``, ``db1`` and intermediates such as ``dA0``), optionally with L2
  regularisation (``lambd``) and dropout (``keep_prob``);
* :func:`loss_and_grads` for ``f(parameters) -> (loss, grads)`` (scipy's ``jac=True``
  style, or CS231n's ``net.loss(X, y, reg)`` wrapped in a closure);
* :func:`model` for class-based models holding ``obj.params`` and offering
  ``obj.loss(X, y) -> (loss, grads)`` (:func:`model_backprop` is its forward and
  backward pass, without data);
* :func:`key_map` for gradients under other names (``dweight1`` for ``weight1``,
  ``W1_grad``, or no ``d`` prefix at all).

An adapter's forward may carry notes for the report (``forward.gcverify_notes``): the
check adds them to its reasons (the dropout seeding, for one).

>>> from gcverify import check_backprop
>>> from gcverify.models import notebook as nb
>>> X, Y, parameters = nb.gradient_check_n_test_case()
>>> loss = lambda p: nb.forward_propagation_n(X, Y, p)
>>> f = lambda p: (loss(p)[0], nb.backward_propagation_n(X, Y, loss(p)[1]))
>>> check_backprop(*loss_and_grads(f), X, Y, parameters).verdict
<Verdict.PASS: 'pass'>
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np

from gcverify.errors import invalid_argument

__all__ = ["NOTES", "Backprop", "BackpropCase", "key_map", "l_layer", "loss_and_grads",
           "model", "model_backprop", "model_parameters"]

#: The attribute of a forward function whose strings the check adds to its reasons.
NOTES = "gcverify_notes"


class Backprop(NamedTuple):
    """A forward and a backward pass in the notebook's convention:
    ``check_backprop(*backprop, X, Y, parameters)``."""

    forward: Callable[..., Any]
    backward: Callable[..., Any]


class BackpropCase(NamedTuple):
    """Everything a check needs: ``check_backprop(*case)``."""

    forward: Callable[..., Any]
    backward: Callable[..., Any]
    X: Any
    Y: Any
    parameters: dict[str, np.ndarray]


def _callable(name: str, value: Any, signature: str) -> None:
    if not callable(value):
        raise invalid_argument(name, value, "is not callable", f"pass a function {signature}")


def _pair(value: Any, who: str, what: str) -> tuple[Any, Any]:
    if not (isinstance(value, tuple) and len(value) == 2):
        raise invalid_argument(who, value, f"is not a pair {what}",
                               f"return {what}, e.g. return loss, grads")
    return value


def _noted(forward: Callable[..., Any], *notes: str) -> Callable[..., Any]:
    setattr(forward, NOTES, tuple(notes))
    return forward


def l_layer(L_model_forward: Callable[..., Any], compute_cost: Callable[..., Any],
            L_model_backward: Callable[..., Any], *, lambd: float | None = None,
            keep_prob: float | None = None, seed: int = 0) -> Backprop:
    """The deep-learning course's L-layer functions as a forward and a backward pass.

    ``L_model_forward(X, parameters) -> (AL, caches)``, ``compute_cost(AL, Y) -> cost``
    and ``L_model_backward(AL, Y, caches) -> grads``. With ``lambd`` (L2
    regularisation), the cost and the backward pass take it as the course's do:
    ``compute_cost(AL, Y, parameters, lambd)`` and ``L_model_backward(AL, Y, caches,
    lambd)``. With ``keep_prob`` (dropout), ``L_model_forward(X, parameters, keep_prob)``
    and ``L_model_backward(AL, Y, caches, keep_prob)`` (after ``lambd`` when both are
    given). Dropout masks drawn from numpy's global random generator are made the same
    on every call by seeding it with ``seed`` before each forward pass (and restoring
    its state after): the check's result says so.

    >>> from gcverify import MLP
    >>> net = MLP((3, 4, 1), "relu", "naive")
    >>> def L_model_forward(X, parameters):
    ...     cost, cache = net.forward(X, np.zeros((1, X.shape[1])), parameters)
    ...     return cache[-3], (X, cache)
    >>> def compute_cost(AL, Y):
    ...     return float(-np.mean(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)))
    >>> def L_model_backward(AL, Y, caches):
    ...     X, cache = caches
    ...     return net.backward(X, Y, cache)
    >>> forward, backward = l_layer(L_model_forward, compute_cost, L_model_backward)
    >>> from gcverify import check_backprop
    >>> X, Y = net.make_batch(4)
    >>> check_backprop(forward, backward, X, Y.reshape(1, -1).astype(float),
    ...                net.init_parameters()).verdict
    <Verdict.PASS: 'pass'>
    """
    for name, function, signature in (
            ("L_model_forward", L_model_forward, "L_model_forward(X, parameters)"),
            ("compute_cost", compute_cost, "compute_cost(AL, Y)"),
            ("L_model_backward", L_model_backward, "L_model_backward(AL, Y, caches)")):
        _callable(name, function, signature)
    if lambd is not None and not (isinstance(lambd, (int, float)) and lambd >= 0):
        raise invalid_argument("lambd", lambd, "is not a non-negative number",
                               "pass e.g. lambd=0.7, or None without L2 regularisation")
    if keep_prob is not None and not (isinstance(keep_prob, (int, float))
                                      and 0 < keep_prob <= 1):
        raise invalid_argument("keep_prob", keep_prob, "is not a probability in (0, 1]",
                               "pass e.g. keep_prob=0.8, or None without dropout")
    forward_extra = () if keep_prob is None else (keep_prob,)
    backward_extra = tuple(v for v in (lambd, keep_prob) if v is not None)

    def forward(X: np.ndarray, Y: np.ndarray, parameters: dict[str, np.ndarray]
                ) -> tuple[Any, Any]:
        state = np.random.get_state()  # noqa: NPY002 (the user's dropout draws from it)
        np.random.seed(seed)  # noqa: NPY002
        try:
            AL, caches = _pair(L_model_forward(X, parameters, *forward_extra),
                               "L_model_forward(X, parameters)", "(AL, caches)")
        finally:
            np.random.set_state(state)  # noqa: NPY002
        cost_extra = () if lambd is None else (parameters, lambd)
        return compute_cost(AL, Y, *cost_extra), (AL, caches)

    def backward(X: np.ndarray, Y: np.ndarray, cache: tuple[Any, Any]) -> Any:
        AL, caches = cache
        return L_model_backward(AL, Y, caches, *backward_extra)

    notes = [f"dropout: numpy's global random generator was seeded with {seed} before "
             "each forward pass, so that every pass drew the same masks"] if keep_prob else []
    return Backprop(_noted(forward, *notes), backward)


def loss_and_grads(f: Callable[..., Any], *, data: bool = False) -> Backprop:
    """``f(parameters) -> (loss, grads)`` as a forward and a backward pass.

    The forward pass is ``f`` itself (its grads ride in the cache); the backward pass
    returns them. ``grads`` may be keyed like the parameters (``"W1"``) or with the
    notebook's ``"dW1"``; any shapes work, ``(H,)`` biases included. X and Y are not
    passed to ``f``: close over them, or with ``data=True`` take them first, as
    ``f(X, Y, parameters)`` (CS231n's ``loss(X, y, params)``).
    :func:`gcverify.check_loss_and_grads` is the short way to check such a function.

    >>> f = lambda p: (float(np.sum(p["w"] ** 2)), {"w": 2 * p["w"]})
    >>> forward, backward = loss_and_grads(f)
    >>> backward(None, None, forward(None, None, {"w": np.array([3.0])})[1])["w"].tolist()
    [6.0]
    >>> g = lambda X, Y, p: (float(X * p["w"][0]), {"w": np.array([X])})
    >>> loss_and_grads(g, data=True).forward(2.0, None, {"w": np.array([3.0])})[0]
    6.0
    """
    signature = "f(X, Y, parameters)" if data else "f(parameters)"
    _callable("f", f, f"{signature} -> (loss, grads)")

    def forward(X: Any, Y: Any, parameters: dict[str, np.ndarray]) -> tuple[Any, Any]:
        value = f(X, Y, parameters) if data else f(parameters)
        loss, grads = _pair(value, signature, "(loss, grads)")
        return loss, grads

    def backward(X: Any, Y: Any, grads: Any) -> Any:
        return grads

    return Backprop(forward, backward)


def model(obj: Any, X: Any, y: Any, **loss_options: Any) -> BackpropCase:
    """A class-based model (``obj.params``, ``obj.loss(X, y) -> (loss, grads)``), ready to
    check: ``check_backprop(*model(net, X, y))``.

    Each evaluation installs the checker's parameters in ``obj.params`` and puts the
    model's own back afterwards; ``loss_options`` (e.g. ``reg=0.1``) are passed on to
    ``obj.loss``. The parameters checked are a copy of ``obj.params``.

    >>> class Quadratic:
    ...     def __init__(self):
    ...         self.params = {"w": np.array([1.0, -2.0])}
    ...     def loss(self, X, y):
    ...         r = X @ self.params["w"] - y
    ...         return float(r @ r), {"w": 2 * X.T @ r}
    >>> from gcverify import check_backprop
    >>> check_backprop(*model(Quadratic(), np.eye(2), np.array([0.5, 0.5]))).verdict
    <Verdict.PASS: 'pass'>
    """
    forward, backward = model_backprop(obj, **loss_options)
    return BackpropCase(forward, backward, X, y, model_parameters(obj))


def model_parameters(obj: Any) -> dict[str, np.ndarray]:
    """A float copy of a class-based model's ``obj.params``.

    >>> class Net:
    ...     params = {"W1": [[1, 2]]}
    >>> model_parameters(Net())["W1"].dtype
    dtype('float64')
    """
    params = getattr(obj, "params", None)
    if not isinstance(params, Mapping):
        raise invalid_argument("obj.params", params, "is not a dict of arrays",
                               "give the model its parameters as obj.params = {'W1': ...}")
    return {name: np.array(value, dtype=np.float64) for name, value in params.items()}


def model_backprop(obj: Any, method: str = "loss", **loss_options: Any) -> Backprop:
    """A class-based model's ``obj.<method>(X, y) -> (loss, grads)`` as a forward and a
    backward pass (:func:`model` adds the data and the parameters).

    Each evaluation installs the checker's parameters in ``obj.params`` and puts the
    model's own back afterwards; ``loss_options`` are passed on to the method.

    >>> class Line:
    ...     params = {"w": np.array([2.0])}
    ...     def loss(self, X, y):
    ...         return float(self.params["w"][0] * X), {"w": np.array([X])}
    >>> forward, backward = model_backprop(Line())
    >>> forward(3.0, None, {"w": np.array([5.0])})[0]
    15.0
    """
    model_parameters(obj)  # says what is wrong with obj.params, before anything runs
    _callable(f"obj.{method}", getattr(obj, method, None),
              f"obj.{method}(X, y) -> (loss, grads)")

    def forward(X: Any, Y: Any, parameters: dict[str, np.ndarray]) -> tuple[Any, Any]:
        own = obj.params
        obj.params = parameters
        try:
            loss, grads = _pair(getattr(obj, method)(X, Y, **loss_options),
                                f"obj.{method}(X, y)", "(loss, grads)")
        finally:
            obj.params = own
        return loss, grads

    def backward(X: Any, Y: Any, grads: Any) -> Any:
        return grads

    return Backprop(forward, backward)


def key_map(function: Callable[..., Any],
            names: Mapping[str, str] | Callable[[str], str]) -> Callable[..., Any]:
    """``function`` with the gradients it returns renamed to the parameters' names.

    ``function`` is a backward pass (returning a dict of gradients) or a loss-and-grads
    function (returning ``(loss, grads)``); ``names`` maps each gradient key to its
    parameter's name (``{"dweight1": "weight1"}``), or is a function of the key (``lambda
    key: key.removesuffix("_grad")``). Keys it does not map are kept.

    >>> backward = lambda X, Y, cache: {"dweight1": np.ones(2), "dA1": np.zeros(2)}
    >>> sorted(key_map(backward, {"dweight1": "weight1"})(None, None, None))
    ['dA1', 'weight1']
    """
    _callable("function", function, "backward(X, Y, cache) or f(parameters)")
    rename = names if callable(names) else (lambda key: names.get(key, key))
    if not callable(names) and not isinstance(names, Mapping):
        raise invalid_argument("names", names, "is neither a dict nor a function",
                               "pass e.g. {'dweight1': 'weight1'}")

    def renamed(grads: Any) -> Any:
        if not isinstance(grads, Mapping):
            return grads                  # the checker says what is wrong with it
        return {rename(key) if isinstance(key, str) else key: value
                for key, value in grads.items()}

    def mapped(*args: Any, **kwargs: Any) -> Any:
        out = function(*args, **kwargs)
        if isinstance(out, tuple) and len(out) == 2:
            return out[0], renamed(out[1])
        return renamed(out)

    mapped.__name__ = getattr(function, "__name__", "mapped")
    mapped.__qualname__ = getattr(function, "__qualname__", mapped.__name__)
    return mapped
