"""A general reference network: any depth and widths, written in the notebook's convention.

``forward(X, Y, parameters) -> (cost, cache)`` and ``backward(X, Y, cache) ->
gradients`` behave like the notebook's ``forward_propagation_n`` /
``backward_propagation_n`` (same cache layout, same gradient keys, same numbers on the
notebook's architecture with ``cost="naive"``). :meth:`MLP.cost_function` adds the
batched costs the fast checker uses: many parameter vectors in one vectorised pass,
and coordinate perturbations that never recompute the layers below the perturbed one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from gcverify.errors import invalid_argument
from gcverify.models.activations import ACTIVATIONS, Activation
from gcverify.params import ParamLayout

__all__ = ["COST_FORMS", "HIDDEN_ACTIVATIONS", "MLP", "NetworkCost"]

HIDDEN_ACTIVATIONS: tuple[str, ...] = tuple(ACTIVATIONS)
#: "stable": binary cross-entropy from the logits with logaddexp.
#: "naive": the notebook's ``-log(A)`` / ``-log(1 - A)``, as users write it.
COST_FORMS: tuple[str, ...] = ("stable", "naive")

# Rows of a batched evaluation are processed in chunks of about this many floats per
# intermediate array, so that memory stays bounded whatever the batch size.
_CHUNK_FLOATS = 1 << 21


def _output_sigmoid(Z: np.ndarray) -> np.ndarray:
    # The notebook's formula, so that cost="naive" reproduces its numbers bit for bit.
    return 1 / (1 + np.exp(-Z))


@dataclass(frozen=True)
class MLP:
    """A fully connected network ``LINEAR -> g -> ... -> LINEAR -> SIGMOID``.

    Parameters
    ----------
    layer_dims
        Widths from input to output, e.g. ``(4, 5, 3, 1)`` for the notebook.
    activation
        Hidden activation, one of :data:`HIDDEN_ACTIVATIONS`, or one per hidden layer.
    cost
        ``"stable"`` (cross-entropy from the logits, default) or ``"naive"``
        (the notebook's ``-log(A3)`` / ``-log(1 - A3)``).

    Examples
    --------
    >>> net = MLP((4, 5, 3, 1))
    >>> parameters = net.init_parameters(seed=0)
    >>> X, Y = net.make_batch(8, seed=0)
    >>> cost, cache = net.forward(X, Y, parameters)
    >>> sorted(net.backward(X, Y, cache))[:3]
    ['dA1', 'dA2', 'dW1']
    """

    layer_dims: tuple[int, ...]
    activation: str | tuple[str, ...] = "relu"
    cost: str = "stable"
    activations: tuple[Activation, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        dims = self.layer_dims
        if isinstance(dims, (str, bytes)) or not isinstance(dims, Sequence):
            raise invalid_argument("layer_dims", dims, "is not a sequence of widths",
                                   "pass e.g. layer_dims=(4, 5, 3, 1)")
        if len(dims) < 2 or not all(
                isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 1
                for d in dims):
            raise invalid_argument("layer_dims", dims,
                                   "needs at least two positive integer widths",
                                   "pass input width, hidden widths, output width, "
                                   "e.g. (4, 5, 3, 1)")
        object.__setattr__(self, "layer_dims", tuple(int(d) for d in dims))
        names = ((self.activation,) * self.depth_hidden if isinstance(self.activation, str)
                 else tuple(self.activation))
        if len(names) != self.depth_hidden:
            raise invalid_argument("activation", self.activation,
                                   f"names {len(names)} activations for "
                                   f"{self.depth_hidden} hidden layers",
                                   "give one name, or one per hidden layer")
        unknown = [name for name in names if name not in ACTIVATIONS]
        if unknown:
            raise invalid_argument("activation", unknown[0], "is not a known activation",
                                   f"use one of {', '.join(HIDDEN_ACTIVATIONS)}")
        if self.cost not in COST_FORMS:
            raise invalid_argument("cost", self.cost, "is not a known cost form",
                                   "use cost='stable' or cost='naive'")
        object.__setattr__(self, "activations", tuple(ACTIVATIONS[n] for n in names))

    # --- shape ---------------------------------------------------------------------

    @property
    def depth_hidden(self) -> int:
        """Number of hidden layers."""
        return len(self.layer_dims) - 2

    @property
    def n_layers(self) -> int:
        """Number of weight layers, L."""
        return len(self.layer_dims) - 1

    @cached_property
    def layout(self) -> ParamLayout:
        """Parameter layout: ``W1, b1, ..., WL, bL`` as in the notebook."""
        names: list[str] = []
        shapes: list[tuple[int, ...]] = []
        for l in range(1, self.n_layers + 1):
            names += [f"W{l}", f"b{l}"]
            shapes += [(self.layer_dims[l], self.layer_dims[l - 1]), (self.layer_dims[l], 1)]
        return ParamLayout(tuple(names), tuple(shapes))

    # --- data and parameters -------------------------------------------------------

    def init_parameters(self, seed: int = 0, *, bias_scale: float = 0.1) -> dict[str, np.ndarray]:
        """Deterministic random parameters: He-scaled weights, small random biases.

        The same seed always gives the same arrays (numpy's ``default_rng``); the
        global random state is left alone.
        """
        rng = np.random.default_rng(seed)
        parameters = {}
        for l in range(1, self.n_layers + 1):
            fan_in = self.layer_dims[l - 1]
            parameters[f"W{l}"] = rng.standard_normal(
                (self.layer_dims[l], fan_in)) * np.sqrt(2.0 / fan_in)
            parameters[f"b{l}"] = rng.standard_normal((self.layer_dims[l], 1)) * bias_scale
        return parameters

    def make_batch(self, m: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """A deterministic batch: ``X`` standard normal ``(n_x, m)``, 0/1 labels ``Y``.

        ``Y`` has shape ``(m,)`` for one output unit (as in the notebook) and
        ``(n_out, m)`` otherwise.
        """
        if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1:
            raise invalid_argument("m", m, "is not a positive integer",
                                   "pass the number of examples, e.g. m=3")
        rng = np.random.default_rng([seed, 1])
        X = rng.standard_normal((self.layer_dims[0], m))
        n_out = self.layer_dims[-1]
        Y = rng.integers(0, 2, size=(m,) if n_out == 1 else (n_out, m))
        return X, Y

    # --- the notebook's convention ---------------------------------------------------

    def forward(self, X: np.ndarray, Y: np.ndarray,
                parameters: Mapping[str, np.ndarray]) -> tuple[float, tuple]:
        """Cost and cache ``(Z1, A1, W1, b1, ..., ZL, AL, WL, bL)``, like the notebook."""
        m = X.shape[1]
        A = X
        cache: list[np.ndarray] = []
        for l in range(1, self.n_layers + 1):
            W, b = parameters[f"W{l}"], parameters[f"b{l}"]
            Z = np.dot(W, A) + b
            A = self.activations[l - 1].forward(Z) if l < self.n_layers else _output_sigmoid(Z)
            cache += [Z, A, W, b]
        cost = 1. / m * np.sum(self._loss(Z, A, Y))
        return cost, tuple(cache)

    def backward(self, X: np.ndarray, Y: np.ndarray, cache: tuple) -> dict[str, np.ndarray]:
        """Gradients in the notebook's keys and order: ``dZL, dWL, dbL, dA(L-1), ...``."""
        m = X.shape[1]
        L = self.n_layers
        gradients: dict[str, np.ndarray] = {}
        dZ = cache[4 * L - 3] - Y            # AL - Y: the same for both cost forms
        for l in range(L, 0, -1):
            A_prev = X if l == 1 else cache[4 * (l - 1) - 3]
            W = cache[4 * l - 2]
            gradients[f"dZ{l}"] = dZ
            gradients[f"dW{l}"] = 1. / m * np.dot(dZ, A_prev.T)
            gradients[f"db{l}"] = 1. / m * np.sum(dZ, axis=1, keepdims=True)
            if l > 1:
                dA = np.dot(W.T, dZ)
                Z_prev = cache[4 * (l - 1) - 4]
                gradients[f"dA{l - 1}"] = dA
                dZ = np.multiply(dA, self.activations[l - 2].derivative(Z_prev, A_prev))
        return gradients

    def cost_function(self, X: np.ndarray, Y: np.ndarray) -> NetworkCost:
        """The cost as a function of the parameters only, with batched evaluation."""
        return NetworkCost(self, np.asarray(X, dtype=np.float64), np.asarray(Y))

    def _loss(self, Z: np.ndarray, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        if self.cost == "naive":
            return np.multiply(-np.log(A), Y) + np.multiply(-np.log(1 - A), 1 - Y)
        # -y log(sigmoid(z)) - (1 - y) log(1 - sigmoid(z)), without forming sigmoid(z).
        return Y * np.logaddexp(0, -Z) + (1 - Y) * np.logaddexp(0, Z)


class NetworkCost:
    """``J(parameters)`` of an :class:`MLP` on fixed ``X, Y``, with batched evaluation.

    Three ways to evaluate, all giving the same numbers up to rounding:

    * ``cost(parameters)``: one parameter dict, like the notebook's forward;
    * ``cost.batch(thetas)``: a ``(B, P)`` matrix of flat vectors, one vectorised pass;
    * ``cost.coordinate_costs(theta, index, offsets)``: ``J(theta + offsets[r, s] *
      e_index[r])`` for every ``r, s``. A perturbation of layer ``l`` starts from the
      cached activations of layer ``l - 1``: only one row of ``Z_l`` changes, so
      layer ``l + 1`` is a rank-1 update and only the layers above are recomputed.

    >>> net = MLP((4, 5, 3, 1))
    >>> cost = net.cost_function(*net.make_batch(4))
    >>> theta = net.layout.flatten(net.init_parameters())
    >>> bool(np.isclose(cost.batch(theta[None, :])[0], cost(net.layout.unflatten(theta))))
    True
    """

    def __init__(self, net: MLP, X: np.ndarray, Y: np.ndarray) -> None:
        self.net = net
        self.X = X
        self.Y = Y
        self.layout = net.layout

    def __repr__(self) -> str:
        return f"NetworkCost({self.net!r}, m={self.X.shape[1]})"

    def __call__(self, parameters: Mapping[str, np.ndarray]) -> float:
        return float(self.net.forward(self.X, self.Y, parameters)[0])

    # --- many full parameter vectors --------------------------------------------------

    def batch(self, thetas: np.ndarray) -> np.ndarray:
        """Costs of each row of ``thetas`` (shape ``(B, P)``), vectorised over ``B``."""
        thetas = np.asarray(thetas, dtype=np.float64)
        rows = self._chunk_rows()
        return np.concatenate([self._batch_chunk(thetas[start:start + rows])
                               for start in range(0, len(thetas), rows)] or [np.empty(0)])

    def _batch_chunk(self, thetas: np.ndarray) -> np.ndarray:
        blocks = self.layout.unflatten_batch(thetas)
        A = self.X
        for l in range(1, self.net.n_layers + 1):
            Z = np.matmul(blocks[f"W{l}"], A) + blocks[f"b{l}"]
            A = self._activate(l, Z)
        return self._costs(Z, A)

    # --- coordinate perturbations -----------------------------------------------------

    def coordinate_costs(self, theta: np.ndarray, index: np.ndarray,
                         offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Costs ``J(theta + offsets[r, s] * e_index[r])`` and kink flags.

        Returns ``(costs, kinks)``: ``costs`` has the shape of ``offsets``;
        ``kinks[r]`` is True when some pre-activation of a kinked activation (ReLU,
        leaky ReLU) changes side of its kink between ``theta`` and the perturbed
        points of coordinate ``index[r]``, i.e. the cost is not smooth there.
        """
        theta = np.asarray(theta, dtype=np.float64)
        index = np.asarray(index, dtype=np.int64)
        offsets = np.asarray(offsets, dtype=np.float64)
        costs = np.empty(offsets.shape)
        kinks = np.zeros(len(index), dtype=bool)
        base = self._base_pass(theta)
        block_of = self.layout.block_ids[index]
        for block in np.unique(block_of):
            rows = np.flatnonzero(block_of == block)
            step = max(1, self._chunk_rows() // max(1, offsets.shape[1]))
            for start in range(0, len(rows), step):
                chunk = rows[start:start + step]
                costs[chunk], kinks[chunk] = self._perturb_block(
                    base, int(block), index[chunk], offsets[chunk])
        return costs, kinks

    def _base_pass(self, theta: np.ndarray) -> dict[str, Any]:
        params = self.layout.unflatten(theta)
        Zs, As = [None], [self.X]
        for l in range(1, self.net.n_layers + 1):
            Zs.append(np.dot(params[f"W{l}"], As[-1]) + params[f"b{l}"])
            As.append(self._activate(l, Zs[-1]))
        return {"params": params, "Z": Zs, "A": As}

    def _perturb_block(self, base: dict[str, Any], block: int, index: np.ndarray,
                       offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n, S = offsets.shape
        l = block // 2 + 1                     # blocks are W1, b1, W2, b2, ...
        local = index - self.layout.offsets[block]
        if block % 2 == 0:                     # W_l[j, k]: row j of Z_l moves by d * A_{l-1}[k]
            j, k = np.divmod(local, self.layout.shapes[block][1])
            source = base["A"][l - 1][k]       # (n, m)
        else:                                  # b_l[j]: row j of Z_l moves by d
            j = local
            source = np.ones((n, self.X.shape[1]))
        delta = offsets[:, :, None] * source[:, None, :]             # (n, S, m)
        z_base = base["Z"][l][j][:, None, :]                             # (n, 1, m)
        z_row = z_base + delta                                           # (n, S, m)
        kinks = self._kinks(l, z_base, z_row, n, S)
        rows = np.repeat(j, S)
        if l == self.net.n_layers:
            Z = np.broadcast_to(base["Z"][l], (n * S, *base["Z"][l].shape)).copy()
            Z[np.arange(n * S), rows] = z_row.reshape(n * S, -1)
            return self._costs(Z, self._activate(l, Z)).reshape(n, S), kinks
        change = (self._activate(l, z_row) - base["A"][l][j][:, None, :]).reshape(n * S, 1, -1)
        W_next = base["params"][f"W{l + 1}"]
        Z = base["Z"][l + 1] + W_next.T[rows][:, :, None] * change       # rank-1 update
        kinks |= self._kinks(l + 1, base["Z"][l + 1].reshape(1, 1, -1), Z, n, S)
        A = self._activate(l + 1, Z)
        for upper in range(l + 2, self.net.n_layers + 1):      # the layers above: full
            Z = np.matmul(base["params"][f"W{upper}"], A) + base["params"][f"b{upper}"]
            kinks |= self._kinks(upper, base["Z"][upper].reshape(1, 1, -1), Z, n, S)
            A = self._activate(upper, Z)
        return self._costs(Z, A).reshape(n, S), kinks

    # --- shared pieces ------------------------------------------------------------------

    def _activate(self, l: int, Z: np.ndarray) -> np.ndarray:
        if l == self.net.n_layers:
            return _output_sigmoid(Z)
        return self.net.activations[l - 1].forward(Z)

    def _kinks(self, l: int, before: np.ndarray, after: np.ndarray, n: int,
               S: int) -> np.ndarray:
        """Per coordinate: did a pre-activation of layer ``l`` cross a kink?

        ``after`` holds the ``S`` perturbed values of each of the ``n`` coordinates;
        ``before`` the unperturbed ones, broadcastable to ``after.reshape(n, S, -1)``.
        A value that moves onto or off a kink counts too (sign 0 differs from +-1).
        """
        if l == self.net.n_layers or not self.net.activations[l - 1].kinks:
            return np.zeros(n, dtype=bool)
        after = after.reshape(n, S, -1)
        crossed = np.zeros(n, dtype=bool)
        for kink in self.net.activations[l - 1].kinks:
            moved_side = np.sign(after - kink) != np.sign(before - kink)
            crossed |= moved_side.any(axis=(1, 2))
        return crossed

    def _costs(self, Z: np.ndarray, A: np.ndarray) -> np.ndarray:
        """Cost of each row of a batch of output layers ``(B, n_out, m)``."""
        m = self.X.shape[1]
        return 1. / m * np.sum(self.net._loss(Z, A, self.Y), axis=(1, 2))

    def _chunk_rows(self) -> int:
        widest = max(self.net.layer_dims) * self.X.shape[1]
        return max(1, _CHUNK_FLOATS // widest)
