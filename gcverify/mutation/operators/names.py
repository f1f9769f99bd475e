"""The names backprop code gives its gradients, costs, masks and hyper-parameters.

The engine (:mod:`gcverify.mutation.engine`) reads them to find the gradient and cost
expressions of a function; the operators to recognise what a change is about (a weight
gradient, a dropout mask, ``keep_prob``, a regularisation strength, the batch size).
They are conventions, not types: each rule is written to accept the names students
write and to reject the ordinary words that start the same way.

>>> [is_gradient_name(n) for n in ("dW1", "dscores", "dout", "data", "dims", "dtype")]
[True, True, True, False, False, False]
>>> activation_of("dAL"), activation_of("dscores"), activation_of("d_out")
('AL', 'scores', 'out')
"""

from __future__ import annotations

import re

__all__ = [
    "BATCH_SIZE_NAMES",
    "GRADIENT_NAME",
    "NOT_GRADIENT_WORDS",
    "activation_of",
    "is_backward_function",
    "is_cost_function",
    "is_cost_name",
    "is_dropout_mask",
    "is_gradient_container",
    "is_gradient_name",
    "is_keep_prob",
    "is_mask",
    "is_parameter_gradient",
    "is_regularization_strength",
    "is_weight_gradient",
]

#: Lower-case names that start with ``d`` and are no gradient: ordinary words (``data``,
#: ``dims``, ``dtype``, ``done``...), the dropout (``dropout``, ``drop``) and ``delta``
#: alone (a step size; ``delta3``, the error term of a layer, is a gradient). A name is
#: rejected when its first word (up to a digit or ``_``) is one of them: ``data_loss``.
NOT_GRADIENT_WORDS = frozenset({
    "data", "dataset", "datasets", "date", "day", "days", "debug", "decay", "decoder",
    "default", "defaults", "degree", "degrees", "delay", "delta", "dense", "density",
    "depth", "desc", "description", "dest", "detail", "details", "dev", "device", "diag",
    "dict", "diff", "digit", "digits", "dim", "dims", "dimension", "dimensions", "dir",
    "dirs", "display", "dist", "distance", "div", "divisor", "doc", "docs", "done", "dot",
    "double", "down", "draw", "drop", "dropout", "dtype", "dtypes", "dummy", "dump",
    "duration",
})

_WORDS = "|".join(sorted(NOT_GRADIENT_WORDS, key=len, reverse=True))

#: Names treated as gradients (see :func:`is_gradient_name`).
GRADIENT_NAME = re.compile(
    r"^(?:d[A-Z_]\w*"                                         # dW1, dA_prev, dAL, d_out
    r"|d[a-z](?:\d\w*)?"                                      # db, db1, dx, dw, do
    rf"|(?!(?:{_WORDS})(?:[\d_]|$))d[a-z]{{2,}}\d*(?:_\w*)?"  # dscores, dout, dnext_h
    r"|delta\d+"                                              # delta3
    r"|dtheta\w*|\w*grad\w*)$")                               # dtheta, grads, W_grad


def is_gradient_name(name: str) -> bool:
    """Does ``name`` look like a gradient?

    ``d`` + a capital or ``_`` (``dW1``, ``dA_prev``, ``d_out``), ``d`` + one letter
    and an optional layer number (``db``, ``dx``, ``db1``), ``d`` + a lower-case word
    that is not in :data:`NOT_GRADIENT_WORDS` (``dscores``, ``dhidden``, ``dout``,
    ``dprev_h``; not ``data``, ``dims``, ``dtype``, ``done``, ``dropout``), ``delta`` +
    a layer number, ``dtheta``, or a name containing ``grad``.

    >>> [is_gradient_name(n) for n in ("dW1", "db1", "dZ", "data", "m", "grads")]
    [True, True, True, False, False, True]
    >>> [is_gradient_name(n) for n in ("dhidden", "dlogits", "delta3", "delta", "data_loss")]
    [True, True, True, False, False]
    """
    return bool(GRADIENT_NAME.match(name))


def _last(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def is_gradient_container(name: str) -> bool:
    """Is ``name`` (``grads``, ``self.grads``) a dict whose entries are gradients,
    whatever their keys (``grads["W2"]``)? Names containing ``grad`` are.

    >>> [is_gradient_container(n) for n in ("grads", "self.gradients", "params", "g")]
    [True, True, False, False]
    """
    return "grad" in _last(name).lower()


_COST_NAME = re.compile(r"^(?:J|\w*cost\w*|\w*loss\w*|log_?probs|cross_entropy\w*)$",
                        re.IGNORECASE)


def is_cost_name(name: str) -> bool:
    """Does ``name`` hold a cost (``cost``, ``loss``, ``data_loss``, ``J``, ``log_probs``)?

    >>> [is_cost_name(n) for n in ("cost", "data_loss", "J", "logprobs", "probs")]
    [True, True, True, True, False]
    """
    return bool(_COST_NAME.match(name))


def is_backward_function(name: str) -> bool:
    """Is a function called ``name`` a backward pass (``relu_backward``, ``backward``)?"""
    return "backward" in name.lower()


def is_cost_function(name: str) -> bool:
    """Does a function called ``name`` compute a cost (``compute_cost``, ``loss``)?"""
    return not is_backward_function(name) and bool(re.search(r"cost|loss", name, re.I))


_PARAMETER_GRADIENT = re.compile(
    r"^d_?(?:W\w*|w(?:\d\w*|_\w*)?|b(?:\d\w*|_\w*)?|weights?\w*|bias\w*|beta\w*|gamma\w*"
    r"|theta\w*)$")


def is_parameter_gradient(name: str) -> bool:
    """Is ``name`` the gradient of a parameter (``dW1``, ``dw``, ``db2``, ``dgamma``)
    rather than of an activation (``dZ``, ``dA1``, ``dscores``, ``dout``)?

    >>> [is_parameter_gradient(n) for n in ("dW1", "dw", "db2", "dZ1", "dscores", "dbeta")]
    [True, True, True, False, False, True]
    """
    return bool(_PARAMETER_GRADIENT.match(name))


_WEIGHT = re.compile(r"^(?:d_?W\w*|dw(?:\d\w*|_\w*)?|W\w*|w(?:\d\w*|_\w*)?)$")


def is_weight_gradient(key: str) -> bool:
    """Is ``key`` the (2-D) gradient of a weight matrix: ``dW2``, ``dWx``, ``dw``, or the
    key ``W2`` of ``grads["W2"]``? (Not a bias, not an activation's gradient.)

    >>> [is_weight_gradient(k) for k in ("dW2", "dw", "W1", "db1", "dx", "dZ2")]
    [True, True, True, False, False, False]
    """
    return bool(_WEIGHT.match(key))


def activation_of(name: str) -> str | None:
    """The name a gradient is the gradient of: ``dA2`` -> ``A2``, ``dscores`` ->
    ``scores``, ``d_out`` -> ``out``; None for names that are no gradient of a name
    (``grads``, ``delta3``)."""
    if not is_gradient_name(name) or not name.startswith("d") or "grad" in name \
            or re.fullmatch(r"delta\d+", name):
        return None
    rest = name[2:] if name.startswith("d_") else name[1:]
    return rest if rest.isidentifier() else None


_MASK = re.compile(r"^(?:D\d*|U\d+|\w*mask\w*)$")
_DROPOUT_MASK = re.compile(r"^(?:D\d*|\w*(?:drop|keep)\w*mask\w*|\w*mask\w*(?:drop|keep)\w*)$")


def is_mask(name: str) -> bool:
    """Is ``name`` a mask (``D1``, ``U1``, ``mask``, ``dropout_mask``)?"""
    return bool(_MASK.match(_last(name)))


def is_dropout_mask(name: str) -> bool:
    """Is ``name`` a dropout mask whatever its context (``D1``, ``dropout_mask``, ``keep_mask``),
    not a mask that could be a ReLU's (``mask``)?

    >>> [is_dropout_mask(n) for n in ("D1", "dropout_mask", "mask", "U1")]
    [True, True, False, False]
    """
    return bool(_DROPOUT_MASK.match(_last(name)))


def is_keep_prob(name: str) -> bool:
    """Is ``name`` dropout's keep probability (``keep_prob``, ``self.keep_prob``)?"""
    return "keep_prob" in _last(name).lower()


_REGULARIZATION = re.compile(
    r"^(?:reg\w*|lambd\w*|lamda|lmbda|_lambda|lam|l2\w*|L2\w*|weight_decay|wd)$")


def is_regularization_strength(name: str) -> bool:
    """Is ``name`` an L2 regularisation strength (``reg``, ``lambd``, ``lam``, ``l2``,
    ``weight_decay``, ``self.reg``)?

    >>> [is_regularization_strength(n) for n in ("reg", "lambd", "self.reg", "l2", "lr")]
    [True, True, True, True, False]
    """
    return bool(_REGULARIZATION.match(_last(name)))


#: Names of the batch size, in the order an operator prefers them.
BATCH_SIZE_NAMES = ("m", "N", "num_examples", "num_train", "batch_size")
