"""A general reference network: any depth and widths, written in the notebook's convention.

``forward(X, Y, parameters) -> (cost, cache)`` and ``backward(X, Y, cache) ->
gradients`` behave like the notebook's ``forward_propagation_n`` /
``backward_propagation_n`` (same cache layout, same gradient keys, same numbers on the
notebook's architecture with ``cost="naive"``). :meth:`MLP.cost_function` adds the
batched costs the fast checker uses: many parameter vectors in one vectorised pass,
and coordinate perturbations that never recompute the layers below the perturbed one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
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
# intermediate array (2 MiB): memory stays bounded whatever the batch size, and the
# temporaries stay in the processor's cache.
_CHUNK_FLOATS = 1 << 18


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
                parameters: Mapping[str, np.ndarray]) -> tuple[float, tuple[Any, ...]]:
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

    def backward(self, X: np.ndarray, Y: np.ndarray,
                 cache: tuple[Any, ...]) -> dict[str, np.ndarray]:
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

    def batched_cost(self, forward: Callable[..., Any], X: np.ndarray,
                     Y: np.ndarray) -> NetworkCost | None:
        """:meth:`cost_function` when ``forward`` is this network's own :meth:`forward`
        (so :func:`gcverify.check_backprop` can batch it), else None.

        >>> net = MLP((2, 1))
        >>> X, Y = net.make_batch(3)
        >>> net.batched_cost(net.forward, X, Y) is not None, net.batched_cost(print, X, Y)
        (True, None)
        """
        if getattr(forward, "__func__", None) is MLP.forward \
                and getattr(forward, "__self__", None) is self:
            return self.cost_function(X, Y)
        return None

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
        self._last_base: tuple[bytes, dict[str, Any]] | None = None

    def __repr__(self) -> str:
        return f"NetworkCost({self.net!r}, m={self.X.shape[1]})"

    def __call__(self, parameters: Mapping[str, np.ndarray]) -> float:
        # A complex cost (the complex step) keeps its imaginary part.
        cost = self.net.forward(self.X, self.Y, parameters)[0]
        return cost if np.iscomplexobj(cost) else float(cost)

    def at_vector(self, theta: np.ndarray) -> float:
        """The cost at a flat parameter vector (sharing the work of the next
        :meth:`coordinate_costs` at the same vector)."""
        base = self._base_pass(np.asarray(theta, dtype=np.float64))
        return float(self._costs(base["Z"][-1][None])[0])

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
        return self._costs(Z)

    # --- coordinate perturbations -----------------------------------------------------

    def coordinate_costs(self, theta: np.ndarray, index: np.ndarray,
                         offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Costs ``J(theta + offsets[r, s] * e_index[r])`` and kink flags.

        Returns ``(costs, kinks)``: ``costs`` has the shape of ``offsets``;
        ``kinks[r]`` is True when some pre-activation of a kinked activation (ReLU,
        leaky ReLU) moves onto or across its kink between ``theta`` and the perturbed
        points of coordinate ``index[r]``: the cost is not smooth there.

        Each perturbed point is one row. A row perturbing layer ``l`` starts from the
        cached activations of layer ``l - 1``; in layer ``l`` only one unit changes
        (one row of ``Z_l``), so layer ``l + 1`` is a rank-1 update of its cached
        pre-activation, and only the layers above are multiplied out. Rows are sorted
        by layer and climb the network together, so that each layer costs a few numpy
        calls whatever the number of rows.
        """
        theta = np.asarray(theta, dtype=np.float64)
        index = np.asarray(index, dtype=np.int64)
        offsets = np.asarray(offsets, dtype=np.float64)
        n, S = offsets.shape
        layer, j, k = self._coordinate_map[:, index]
        order: np.ndarray | None
        order = np.argsort(layer, kind="stable")
        if np.all(order == np.arange(n)):
            order = None
        else:
            layer, j, k, offsets = layer[order], j[order], k[order], offsets[order]
        rows = (np.repeat(layer, S), np.repeat(j, S), np.repeat(k, S), offsets.reshape(-1))
        base = self._base_pass(theta)
        costs = np.empty(n * S)
        kinks: np.ndarray[Any, Any]
        kinks = np.zeros(n * S, dtype=bool)
        step = self._chunk_rows()
        for start in range(0, n * S, step):
            chunk = slice(start, start + step)
            costs[chunk], kinks[chunk] = self._climb(base, *(row[chunk] for row in rows))
        costs, kinks = costs.reshape(n, S), np.asarray(kinks.reshape(n, S).any(axis=1))
        if order is not None:
            inverse = np.empty_like(order)
            inverse[order] = np.arange(n)
            costs, kinks = costs[inverse], kinks[inverse]
        return costs, kinks

    @cached_property
    def _coordinate_map(self) -> np.ndarray:
        """For every flat index: its layer ``l``, unit ``j`` and source row ``k``.

        ``W_l[j, k]`` moves row ``j`` of ``Z_l`` by ``delta * A_{l-1}[k]``; ``b_l[j]``
        moves it by ``delta``, which is source row ``k = fan_in`` of ``[A_{l-1}; 1]``.
        """
        block = self.layout.block_ids
        layer = block // 2 + 1
        local = np.arange(self.layout.size) - np.asarray(self.layout.offsets)[block]
        fan_in = np.asarray(self.net.layer_dims)[layer - 1]
        bias = block % 2 == 1
        return np.stack([layer, np.where(bias, local, local // fan_in),
                         np.where(bias, fan_in, local % fan_in)])

    def _climb(self, base: dict[str, Any], layer: np.ndarray, j: np.ndarray, k: np.ndarray,
               delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Carry rows sorted by layer up the network; their costs and kink flags.

        At layer ``l`` the rows ``[0, lo)`` perturbed a lower layer: those of layer
        ``l - 1`` changed one unit (a rank-1 update of ``Z_l``), the earlier ones
        changed everything (a full product). Rows ``[lo, hi)`` perturb layer ``l``
        itself: one row of ``Z_l`` moves.
        """
        L = self.net.n_layers
        bounds = np.searchsorted(layer, np.arange(1, L + 2)).tolist()
        kinks = np.zeros(len(delta), dtype=bool)
        A_full: Any
        unit_change: Any
        unit_j: Any
        A_full = unit_change = unit_j = None
        previous_lo = 0
        for l in range(1, L + 1):
            lo, hi = bounds[l - 1], bounds[l]
            Zb = base["Z"][l]
            pieces = []
            if previous_lo > 0:
                pieces.append(np.matmul(base["W"][l], A_full) + base["b"][l])
            if lo > previous_lo:                        # rank-1 update, built in place
                Z_unit = base["W"][l].T[unit_j][:, :, None] * unit_change[:, None, :]
                Z_unit += Zb
                pieces.append(Z_unit)
            Z = np.concatenate(pieces) if len(pieces) > 1 else pieces[0] if pieces else None
            jn = j[lo:hi]
            z_row = Zb[jn] + delta[lo:hi, None] * base["source"][l][k[lo:hi]]
            if l < L and self.net.activations[l - 1].kinks:
                # Only kinks at 0 exist (ReLU, leaky ReLU). A value moving linearly
                # through the stencil crosses 0 exactly when its side differs from the
                # base's at some row (a base value of exactly 0 counts as the left side).
                positive = base["positive"][l]
                if Z is not None:
                    kinks[:lo] |= ((Z > 0) != positive).reshape(lo, -1).any(axis=1)
                kinks[lo:hi] |= ((z_row > 0) != positive[jn]).any(axis=1)
            if l == L:
                return self._costs(self._output_rows(Z, Zb, jn, z_row)), kinks
            # Z is not needed any more: its memory can hold the activations.
            A_full = self.net.activations[l - 1].apply_inplace(Z) if Z is not None else None
            unit_j, unit_change = jn, self._activate(l, z_row) - base["A"][l][jn]
            previous_lo = lo
        raise AssertionError("unreachable: the loop returns at the output layer")

    @staticmethod
    def _output_rows(Z: np.ndarray | None, Zb: np.ndarray, jn: np.ndarray,
                     z_row: np.ndarray) -> np.ndarray:
        """Stack the output pre-activations of all rows, those perturbing it last."""
        if Zb.shape[0] == 1:
            Z_new = z_row[:, None, :]
        else:
            Z_new = np.broadcast_to(Zb, (len(jn), *Zb.shape)).copy()
            Z_new[np.arange(len(jn)), jn] = z_row
        return Z_new if Z is None else np.concatenate([Z, Z_new])

    def _base_pass(self, theta: np.ndarray) -> dict[str, Any]:
        """The unperturbed network, with what the perturbed rows start from.

        The last one is kept: the checker asks for the cost at ``theta`` and then for
        the perturbations around it.
        """
        key = theta.tobytes()
        if self._last_base is not None and self._last_base[0] == key:
            return self._last_base[1]
        base = self._compute_base(theta.copy())
        self._last_base = (key, base)
        return base

    def _compute_base(self, theta: np.ndarray) -> dict[str, Any]:
        params = self.layout.unflatten(theta)
        base: dict[str, list[Any]] = {key: [None] for key in ("W", "b", "Z", "source",
                                                              "positive")}
        base["A"] = [self.X]
        ones = np.ones((1, self.X.shape[1]))
        for l in range(1, self.net.n_layers + 1):
            W, b = params[f"W{l}"], params[f"b{l}"]
            Z = np.dot(W, base["A"][-1]) + b
            base["W"].append(W)
            base["b"].append(b)
            base["Z"].append(Z)
            base["source"].append(np.concatenate([base["A"][-1], ones]))
            base["positive"].append(Z > 0)
            base["A"].append(self._activate(l, Z))
        return base

    # --- shared pieces ------------------------------------------------------------------

    def _activate(self, l: int, Z: np.ndarray) -> np.ndarray:
        if l == self.net.n_layers:
            return _output_sigmoid(Z)
        return self.net.activations[l - 1].forward(Z)

    def _costs(self, Z: np.ndarray) -> np.ndarray:
        """Cost of each row of a batch of output pre-activations ``(B, n_out, m)``."""
        m = self.X.shape[1]
        loss = self.net._loss(Z, _output_sigmoid(Z), self.Y)
        return 1. / m * np.sum(loss.reshape(len(Z), -1), axis=1)

    def _chunk_rows(self) -> int:
        widest = max(self.net.layer_dims) * self.X.shape[1]
        return max(1, _CHUNK_FLOATS // widest)
