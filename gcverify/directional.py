"""Directional mode: a few random directions per block, whatever the block's size.

For each parameter block B (d entries) the check draws k Gaussian directions ``v``
supported on B (entries N(0, 1/d), so E‖v‖² = 1; drawn with ``options.seed``) and
compares the analytic projection ``a = g·v`` with the central difference ``n = (J(θ+hv)
- J(θ-hv)) / 2h``, whose error bar ``e`` comes from a second stencil at ±2h and the
cost's rounding, exactly as for one coordinate (:func:`gcverify.numdiff.central_derivatives`
sees a direction as a coordinate of the function ``t -> J(θ + t v)``). A check costs
about 4k cost evaluations per block, however many parameters the block holds. A block
no larger than k is checked coordinate by coordinate (its directions are the unit
vectors), which is exact and costs no more.

The k projections are the block's "coordinates" for the verdict's rules
(:mod:`gcverify.verdict`), unchanged: the block FAILs when ``‖a - n‖ > t (‖a‖ + ‖n‖)
+ ‖e‖`` over them (``t`` the threshold), is INCONCLUSIVE when the error bars are wider
than ``noise_limit``, and a NaN, an inf or a non-deterministic cost is never a pass.

How surely a wrong gradient is caught. Write the error of a block's gradient as
``δ = g - ∇J = α ∇J + δ⊥`` with ``δ⊥ ⊥ ∇J``, and ``ρ = ‖δ⊥‖ / ‖∇J‖``.

* A scaling ``g = κ ∇J`` (α = κ - 1, ρ = 0) gives ``a = κ n`` on every direction, so the
  block FAILs whichever directions are drawn as soon as ``|κ - 1| / (|κ| + 1) > t + r``
  (``r`` the block's resolution ``‖e‖ / (‖a‖ + ‖n‖)``): a ×2 (1/3), a ×4 (0.6), a sign
  (1). The diagnosis reads κ off the projections (``dW2 ≈ 2.000 × numerical``).
* Otherwise, a block that passes has ``‖Pδ‖ ≤ t (‖Pg‖ + ‖P∇J‖) + ‖e‖``, hence (with
  ``‖Pg‖ ≤ ‖P∇J‖ + ‖Pδ‖``) ``‖Pδ‖ ≤ c ‖P∇J‖`` where ``c = 2 (t + r) / (1 - t - r)``
  and ``P`` stacks the k projections. For Gaussian directions, ``P∇J`` and ``Pδ⊥`` are
  independent normal vectors, so given ``X = P∇J``, ``Pδ`` must fall in a ball of
  radius ``c ‖X‖`` around ``-αX``: by Anderson's inequality at most as likely as the
  centred ball, ``P(χ²_k ≤ (c/ρ)² ‖X‖² d / ‖∇J‖²) ≤ ((c/ρ)² χ²/2)^{k/2} / Γ(k/2 + 1)``.
  Averaging over ``X`` (``E χ_k^k = 2^{k/2} Γ(k) / Γ(k/2)``)::

      P(all k directions miss) ≤ C_k (c / ρ)^k,   C_k = Γ(k) / (Γ(k/2) Γ(k/2 + 1))

  (:func:`miss_probability`; ``C_1 = 2/π``: one direction misses with probability at
  most ``(2/π) c / ρ``; ``C_8 = 35``). With the notebook's ``t = 2e-7`` and k = 8, an
  error of relative size ρ ≥ 1.5e-6 is missed with probability ≤ 0.1 %
  (:func:`smallest_caught`); the result states this bound for its own resolution.

Where a block is wrong (group testing). When a block FAILs and the projections fit a
common factor, the wrong entries are where ``|g|`` is largest; they are measured one by
one. Otherwise the block is halved, and the mismatch along a random ±1 direction on each
half (``E (δ·s)² = ‖δ_half‖²``) tells which halves hold wrong entries; the largest are
halved again, best first, down to single entries: a single wrong entry in a block of d
is found with about ``2 log2 d`` such tests (8 log2 d cost evaluations), and the report
names the worst entries (``BlockFinding.worst``) with both derivatives, as coordinate
mode does. A square block whose projections match the numerical derivatives along the
transposed directions is called transposed.

>>> from gcverify import MLP, check_backprop
>>> net = MLP((30, 20, 1))
>>> X, Y = net.make_batch(8, seed=1)
>>> p = net.init_parameters(seed=2)
>>> result = check_backprop(net.forward, net.backward, X, Y, p, mode="directional")
>>> result.verdict, result.mode
(<Verdict.PASS: 'pass'>, 'directional')
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from gcverify.errors import invalid_argument
from gcverify.evaluate import Evaluator, as_cost_value
from gcverify.numdiff import (
    DEFAULT_STEP,
    NOISE_IN_FOURTH,
    PROBE_OFFSETS,
    STENCIL,
    central_derivatives,
    fourth_differences,
    one_sided_derivatives,
    probe_noise,
    step_sizes,
)
from gcverify.options import CheckOptions
from gcverify.params import ParamLayout
from gcverify.pipeline import _nondeterminism, _not_judged
from gcverify.result import BlockFinding, Entry, FrozenMap, GradCheckResult, Verdict
from gcverify.validate import AnalyticGradient
from gcverify.verdict import (
    NOT_EXCLUDED,
    Evidence,
    Exclusion,
    Judgement,
    excluded_totals,
    judge,
    overall_verdict,
)

__all__ = [
    "AUTO_DIRECTIONAL_FROM",
    "Direction",
    "PointEvaluator",
    "miss_probability",
    "resolve_mode",
    "run_directional",
    "smallest_caught",
]

#: ``mode="auto"`` checks every coordinate below this many parameters and random
#: directions from it on. Measured on user-style ReLU networks (2 cores): the full check
#: of 5k parameters takes about as long as the directional check's fixed cost grows to be
#: negligible beside it; below, coordinates are cheap and judge every entry.
AUTO_DIRECTIONAL_FROM = 5000
#: The miss probability the result quotes its smallest caught error for.
QUOTED_MISS = 1e-3
# Larger steps tried, in turn, on blocks too noisy to judge at the default step (as in
# the coordinate pipeline).
_REFINEMENT_STEPS = (4.0, 16.0, 64.0, 256.0, 1024.0)
# Directions probed for noise before a FAIL is believed (one per block, those that move
# the cost most).
_PROBED_DIRECTIONS = 4
# Relative lengths of the backward pass's rounding probe, all tried: the smallest
# estimate wins, since a probe that crosses a kink only overstates the rounding.
_ROUNDING_PROBES = (1e-5, 1e-7, 1e-9)
# Group testing stops after this many tests per failing block, plus 4 per halving.
_LOCALISATION_TESTS = 24
_WORST_SHOWN = 3
# Directions of at most this many entries (2 MB) are drawn once per stencil.
_STORED_DIRECTION = 2**18
# Larger directions are projected a chunk of this many entries at a time.
_CHUNK = 2**16

PointCost = Callable[[np.ndarray], float]


def resolve_mode(options: CheckOptions, size: int) -> str:
    """The mode a check of ``size`` parameters runs in: ``options.mode``, with "auto"
    resolved by :data:`AUTO_DIRECTIONAL_FROM`.

    >>> resolve_mode(CheckOptions(mode="auto"), 47), resolve_mode(CheckOptions(mode="auto"), 10**6)
    ('coordinates', 'directional')
    """
    if options.mode != "auto":
        return options.mode
    return "directional" if size >= AUTO_DIRECTIONAL_FROM else "coordinates"


def check_supported(options: CheckOptions) -> None:
    """Directional mode estimates central differences along directions: the complex
    step and sampling are coordinate-mode options."""
    if options.method == "complex":
        raise invalid_argument("method", options.method, "is not available in directional "
                               "mode", "use method='central' (or 'auto'), or "
                               "mode='coordinates'")
    if options.sample is not None:
        raise invalid_argument("sample", options.sample, "samples coordinates, which "
                               "directional mode does not check one by one",
                               "drop sample=, or use mode='coordinates'")


# --- the guarantee --------------------------------------------------------------------

def _c_k(k: int) -> float:
    return math.exp(math.lgamma(k) - math.lgamma(k / 2) - math.lgamma(k / 2 + 1))


def margin(threshold: float, resolution: float) -> float:
    """``c = 2 (t + r) / (1 - t - r)``: a passing block's ``‖Pδ‖ / ‖P∇J‖`` is at most c.

    >>> round(margin(2e-7, 0.0), 12)
    4e-07
    """
    slack = threshold + (resolution if math.isfinite(resolution) else math.inf)
    return 2 * slack / (1 - slack) if slack < 1 else math.inf


def miss_probability(rho: float, k: int, c: float) -> float:
    """Upper bound on the probability that k Gaussian directions all miss an error of
    relative size ``rho`` (beside the gradient) in a block, with ``c`` from
    :func:`margin`: ``C_k (c / rho)^k`` (1 at most).

    >>> round(miss_probability(0.1, 1, 0.01), 4)           # (2/π) c/ρ
    0.0637
    >>> miss_probability(1e-3, 8, margin(2e-7, 0.0)) < 1e-20
    True
    """
    if not rho > 0 or not math.isfinite(c):
        return 1.0
    return min(1.0, _c_k(k) * (c / rho) ** k)


def smallest_caught(k: int, c: float, miss: float = QUOTED_MISS) -> float:
    """The smallest relative error ρ that k directions miss with probability ≤ ``miss``.

    >>> f"{smallest_caught(8, margin(2e-7, 0.0)):.2g}"
    '1.5e-06'
    """
    return c * (_c_k(k) / miss) ** (1 / k)


# --- directions -----------------------------------------------------------------------

@dataclass(frozen=True)
class Direction:
    """A direction supported on ``theta[start:stop]`` (inside one block).

    ``kind``: "gaussian" (entries N(0, 1/size)), "signs" (±1/sqrt(size), unit norm) or
    "unit" (the coordinate ``start``). Its entries are drawn again from ``seed`` each
    time they are needed, so a direction costs no memory between uses. ``transposed``:
    the block's 2-D shape, when the direction is to be laid out transposed.

    >>> d = Direction(0, 4, "signs", (0, 1))
    >>> v = np.empty(4); d.fill(v, 1.0); float(v @ v)
    1.0
    """

    start: int
    stop: int
    kind: str
    seed: tuple[int, ...] = ()
    transposed: tuple[int, int] | None = None

    @property
    def size(self) -> int:
        return self.stop - self.start

    def fill(self, out: np.ndarray, length: float) -> None:
        """Write ``length * v`` into ``out`` (``size`` entries)."""
        if self.kind == "unit":
            out[0] = length
            return
        np.random.default_rng(list(self.seed)).standard_normal(out=out)
        if self.kind == "signs":
            np.sign(out, out=out)
        out *= length / math.sqrt(self.size)
        if self.transposed is not None:
            _transpose_in_place(out.reshape(self.transposed))

    def project(self, vector: np.ndarray, offset: int = 0) -> float:
        """``vector · v`` for a flat ``vector`` in the layout's order that starts at
        flat index ``offset`` (0: the whole vector; a block's offset: that block)."""
        start, stop = self.start - offset, self.stop - offset
        if self.kind == "unit":
            return float(vector[start])
        if self.transposed is not None or self.size <= _CHUNK:
            values = np.empty(self.size)
            self.fill(values, 1.0)
            with np.errstate(invalid="ignore", over="ignore"):
                return float(vector[start:stop] @ values)
        # A generator's stream does not depend on how it is split into calls: a large
        # direction is drawn a chunk at a time (the same entries, a chunk of memory).
        rng = np.random.default_rng(list(self.seed))
        chunk, total = np.empty(_CHUNK), 0.0
        with np.errstate(invalid="ignore", over="ignore"):
            for lo in range(start, stop, _CHUNK):
                part = chunk[:min(_CHUNK, stop - lo)]
                rng.standard_normal(out=part)
                if self.kind == "signs":
                    np.sign(part, out=part)
                total += float(vector[lo:lo + part.size] @ part)
        return total / math.sqrt(self.size)

    def step(self, theta: np.ndarray, epsilon: float | None, factor: float = 1.0) -> float:
        """The step along the direction: a coordinate's for a unit direction, else
        ``DEFAULT_STEP * max(1, rms θ)`` over its support (a random unit direction moves
        the cost like an average coordinate does); ``epsilon`` when given."""
        if self.kind == "unit":
            return float(step_sizes(theta[self.start:self.start + 1], epsilon, factor)[0])
        if epsilon is not None:
            return float(epsilon)
        part = theta[self.start:self.stop]
        return factor * DEFAULT_STEP * max(1.0, math.sqrt(float(part @ part) / part.size))

    def transpose(self, shape: tuple[int, ...]) -> Direction:
        """The same direction laid out as the transpose of a square block."""
        return replace(self, transposed=(shape[0], shape[1]))


def _transpose_in_place(square: np.ndarray) -> None:
    """Transpose a square array in place, a row at a time (no copy of the whole)."""
    for i in range(square.shape[0] - 1):
        row = square[i, i + 1:].copy()
        square[i, i + 1:] = square[i + 1:, i]
        square[i + 1:, i] = row


def block_directions(layout: ParamLayout, options: CheckOptions) -> list[list[Direction]]:
    """The directions of each block: its unit vectors if it has at most
    ``options.directions`` entries, else that many Gaussian directions."""
    found = []
    for k, (start, size) in enumerate(zip(layout.offsets, layout.sizes)):
        if size <= options.directions:
            found.append([Direction(start + i, start + i + 1, "unit") for i in range(size)])
        else:
            found.append([Direction(start, start + size, "gaussian", (options.seed, k, j))
                          for j in range(options.directions)])
    return found


def stencil_costs(cost: PointCost, theta: np.ndarray, direction: Direction, h: float,
                  offsets: Sequence[float] = tuple(STENCIL.tolist())) -> np.ndarray:
    """``J(theta + t h v)`` for each ``t`` in ``offsets``; each call receives a fresh
    vector, which the user's code may keep or modify.

    A direction of up to :data:`_STORED_DIRECTION` entries is drawn once for all the
    points; a larger one is drawn again for each (memory stays at one vector of
    parameters beside the user's copy)."""
    costs = np.empty(len(offsets))
    span = slice(direction.start, direction.stop)
    stored = None
    if direction.kind != "unit" and direction.size <= _STORED_DIRECTION:
        stored = np.empty(direction.size)
        direction.fill(stored, 1.0)
    for s, t in enumerate(offsets):
        work = theta.copy()
        part = work[span]
        if stored is not None:
            np.multiply(stored, t * h, out=part)
        else:
            direction.fill(part, 1.0)
            part *= t * h
        part += theta[span]
        del part                 # the user's code may keep the vector; we do not
        costs[s] = cost(work)
        del work
    return costs


class PointEvaluator(Evaluator):
    """The user's cost at a flat vector: ``at(vector) -> (cost, cache)`` receives a vector
    it owns. Directional mode calls :meth:`cost_of` with a fresh vector (no second copy);
    the :class:`Evaluator` interface (used for the repeat-cost test) copies."""

    def __init__(self, layout: ParamLayout, function: Any,
                 at: Callable[[np.ndarray], tuple[Any, Any]], *, role: str = "cost",
                 cost_name: str = "cost(parameters)", name: str = "loop") -> None:
        super().__init__(layout, function)
        self.at, self.role, self.cost_name, self.name = at, role, cost_name, name

    def evaluate(self, vector: np.ndarray) -> tuple[Any, Any]:
        return self.at(vector.copy())

    def cost_of(self, vector: np.ndarray) -> float:
        return as_cost_value(self.at(vector)[0], self.cost_name)


# --- the check ------------------------------------------------------------------------

@dataclass
class _Estimates:
    """Per direction (all blocks, in order): analytic projection, numerical estimate,
    error bar, step, exclusion code, one-sided flag."""

    analytic: np.ndarray
    numerical: np.ndarray
    error: np.ndarray
    steps: np.ndarray
    exclusion: np.ndarray
    one_sided: np.ndarray


def run_directional(evaluator: PointEvaluator, theta: np.ndarray, gradient: AnalyticGradient,
                    options: CheckOptions, *, J0: float | None = None,
                    analytic_rounding: Callable[[list[Direction]], np.ndarray | None]
                    | None = None, notes: Sequence[str] = ()) -> GradCheckResult:
    """The directional check (see the module's docstring) of ``gradient`` at ``theta``.

    ``analytic_rounding(directions)``: the rounding sigma of the analytic projections
    along those directions, or None; measured before a FAIL is believed.
    """
    layout = evaluator.layout
    if J0 is None:
        J0 = evaluator.base(theta)
    unstable = _nondeterminism(evaluator, theta, J0)
    if unstable is not None:
        result = _not_judged(evaluator, gradient, options, unstable)
        return replace(result, mode="directional", analytic=np.empty(0),
                       numerical=np.empty(0), error=np.empty(0))
    per_block = block_directions(layout, options)
    directions = [d for block in per_block for d in block]
    pseudo = ParamLayout(layout.names, tuple((len(block),) for block in per_block))
    g = gradient.vector
    analytic = np.array([d.project(g) for d in directions])
    steps = np.array([d.step(theta, options.epsilon) for d in directions])
    estimates, noise, reasons = _first_pass(evaluator, theta, J0, directions, analytic, steps)
    missing = frozenset(layout.names.index(name) for name in gradient.missing)

    def evidence_of(found: _Estimates) -> Evidence:
        return Evidence(pseudo, found.analytic, found.numerical, found.error, found.exclusion,
                        np.ones(len(directions), dtype=bool), options.threshold,
                        options.noise_limit, found.one_sided, gradient.keys, missing)

    judgement = judge(evidence_of(estimates))
    if math.isfinite(J0):
        if judgement.failed:
            probed = _probe_noise(evaluator, theta, J0, directions, estimates, pseudo)
            if probed > noise:
                estimates.error = estimates.error + 3 * (probed - noise) / estimates.steps
                noise = probed
                judgement = judge(evidence_of(estimates))
        if options.epsilon is None:
            for factor in _REFINEMENT_STEPS:
                if not _refine(evaluator, theta, J0, directions, estimates, pseudo, judgement,
                               options, noise, factor, reasons):
                    continue
                judgement = judge(evidence_of(estimates))
    if analytic_rounding is not None and judgement.failed:
        failing = [i for i, d in enumerate(directions)
                   if judgement.findings[layout.locate(d.start)[0]].verdict is Verdict.FAIL]
        sigma = analytic_rounding([directions[i] for i in failing]) if failing else None
        if sigma is not None:
            estimates.error[failing] = estimates.error[failing] + 3 * sigma
            judgement = judge(evidence_of(estimates))
    evidence = evidence_of(estimates)
    verdict, why = overall_verdict(evidence, judgement)
    findings = _findings(evaluator, theta, J0, g, evidence, judgement, per_block, options,
                         noise)
    failed = [f for f in findings.values() if f.verdict is Verdict.FAIL]
    if failed:
        # Localisation may have told more (a transposed block): the headline says it.
        headline = (f"{len(failed)} of {len(findings)} blocks mismatch: "
                    + "; ".join(f.diagnosis for f in failed))
        blocks_failed = any(b.verdict is Verdict.FAIL for b in judgement.findings.values())
        why = [headline, *why[1:]] if blocks_failed else [headline, *why]
        verdict = Verdict.FAIL
    reasons = [_in_directions(reason) for reason in why] + reasons
    reasons.append(_guarantee(findings, per_block, options, len(directions)))
    if gradient.stray:
        reasons.append(f"the gradients hold keys that name no parameter: "
                       f"{', '.join(gradient.stray)}")
    return GradCheckResult(
        verdict=verdict, difference=judgement.whole.difference, options=options,
        method="central", blocks=findings, reasons=(*reasons, *notes),
        n_coordinates=layout.size, n_judged=int(evidence.judged.sum()),
        n_at_kinks=int(evidence.at_kinks.sum()), excluded=excluded_totals(evidence),
        evaluator=evaluator.name, mode="directional")


def _first_pass(evaluator: PointEvaluator, theta: np.ndarray, J0: float,
                directions: list[Direction], analytic: np.ndarray, steps: np.ndarray
                ) -> tuple[_Estimates, float, list[str]]:
    n = len(directions)
    estimates = _Estimates(analytic, np.full(n, np.nan), np.full(n, np.inf), steps,
                           np.full(n, NOT_EXCLUDED, dtype=np.int64), np.zeros(n, dtype=bool))
    if not math.isfinite(J0):
        estimates.exclusion[:] = Exclusion.NONFINITE
        return estimates, 0.0, [f"the cost at the given parameters is {J0}: nothing can "
                                "be judged"]
    costs = np.array([stencil_costs(evaluator.cost_of, theta, d, h)
                      for d, h in zip(directions, steps.tolist())])
    derivatives = central_derivatives(J0, costs, steps)
    estimates.exclusion[derivatives.rough] = Exclusion.ROUGH
    estimates.exclusion[~derivatives.finite] = Exclusion.NONFINITE
    # A direction through a kink at theta: a correct backprop takes one side's slope.
    sides = one_sided_derivatives(J0, costs, steps, analytic, derivatives.noise)
    taken = derivatives.rough & sides.matches
    estimates.one_sided = taken
    estimates.numerical = np.where(taken, sides.value, derivatives.value)
    estimates.error = np.where(taken, sides.error, derivatives.error)
    return estimates, derivatives.noise, []


def _probe_noise(evaluator: PointEvaluator, theta: np.ndarray, J0: float,
                 directions: list[Direction], estimates: _Estimates,
                 pseudo: ParamLayout) -> float:
    """The cost's noise from irregular offsets along the direction that moves the cost
    most in each block (up to :data:`_PROBED_DIRECTIONS` blocks)."""
    movement = np.where((estimates.exclusion == NOT_EXCLUDED) & np.isfinite(estimates.numerical),
                        np.abs(estimates.numerical) * estimates.steps, -1.0)
    chosen = []
    for k in range(len(pseudo.names)):
        span = slice(pseudo.offsets[k], pseudo.offsets[k + 1])
        best = int(np.argmax(movement[span]))
        if movement[span][best] > 0:
            chosen.append((float(movement[span][best]), pseudo.offsets[k] + best))
    chosen.sort(reverse=True)
    rows = [stencil_costs(evaluator.cost_of, theta, directions[i], float(estimates.steps[i]),
                          tuple(PROBE_OFFSETS.tolist()))
            for _, i in chosen[:_PROBED_DIRECTIONS]]
    return probe_noise(J0, np.array(rows)) if rows else 0.0


def _refine(evaluator: PointEvaluator, theta: np.ndarray, J0: float,
            directions: list[Direction], estimates: _Estimates, pseudo: ParamLayout,
            judgement: Judgement, options: CheckOptions, noise: float, factor: float,
            reasons: list[str]) -> bool:
    """Re-estimate the directions of blocks too noisy to judge with a step ``factor``
    times larger; each keeps the estimate with the smaller error bar. True if any did."""
    noisy = [k for k, block in enumerate(judgement.findings.values())
             if block.verdict is Verdict.INCONCLUSIVE and block.resolution > options.noise_limit]
    index = np.flatnonzero(np.isin(pseudo.block_ids, noisy)
                           & (estimates.exclusion == NOT_EXCLUDED))
    if index.size == 0:
        return False
    steps = np.array([directions[i].step(theta, None, factor) for i in index.tolist()])
    costs = np.array([stencil_costs(evaluator.cost_of, theta, directions[i], h)
                      for i, h in zip(index.tolist(), steps.tolist())])
    derivatives = central_derivatives(J0, costs, steps, noise_floor=noise)
    better = derivatives.finite & ~derivatives.rough & (derivatives.error
                                                        < estimates.error[index])
    if not better.any():
        return False
    estimates.numerical[index[better]] = derivatives.value[better]
    estimates.error[index[better]] = derivatives.error[better]
    estimates.steps[index[better]] = steps[better]
    names = ", ".join(pseudo.names[k] for k in noisy)
    reasons.append(f"{names}: too noisy at the default step; {int(better.sum())} directions "
                   f"re-estimated with a step {factor:g} times larger")
    return True


def _in_directions(reason: str) -> str:
    """The verdict's sentences speak of coordinates; here they are directions."""
    return reason.replace("coordinates", "directions").replace("coordinate", "direction")


def _guarantee(findings: dict[str, BlockFinding], per_block: list[list[Direction]],
               options: CheckOptions, total: int) -> str:
    """What the directions vouch for, stated with the worst resolution of any block
    judged by random directions."""
    random_blocks = [(finding, len(block)) for finding, block in zip(findings.values(),
                                                                     per_block)
                     if block and block[0].kind == "gaussian"]
    head = (f"directional mode: {options.directions} random directions per block "
            f"({total} directions, {4 * total} cost evaluations before any localisation)")
    if not random_blocks:
        return head + "; every block was small enough to check coordinate by coordinate"
    resolution = max((f.resolution for f, _ in random_blocks), default=0.0)
    c = margin(options.threshold, resolution if math.isfinite(resolution) else math.inf)
    k = options.directions
    if not math.isfinite(c):
        return head + "; the error bars are too wide for the directions to vouch for anything"
    return (f"{head}; in each block, a scaling by κ fails on every direction when "
            f"|κ - 1| / (|κ| + 1) > {options.threshold:g} + resolution, and an error of "
            f"relative size ρ ≥ {smallest_caught(k, c):.2g} (beside the gradient) is missed "
            f"with probability ≤ {QUOTED_MISS:.1%} (≤ C_k (c/ρ)^k with c = {c:.2g}; each "
            f"direction alone misses with probability ≤ (2/π) c/ρ)")


# --- findings, localisation -----------------------------------------------------------

def _findings(evaluator: PointEvaluator, theta: np.ndarray, J0: float, g: np.ndarray,
              evidence: Evidence, judgement: Judgement, per_block: list[list[Direction]],
              options: CheckOptions, noise: float) -> dict[str, BlockFinding]:
    layout = evaluator.layout
    found = {}
    for k, (name, block) in enumerate(judgement.findings.items()):
        start, stop = layout.offsets[k], layout.offsets[k + 1]
        excluded = FrozenMap({_in_directions(key): value
                              for key, value in block.excluded.items()})
        finding = replace(block, size=layout.sizes[k], excluded=excluded, worst=())
        values = g[start:stop]
        finite = np.isfinite(values)
        if not finite.all():
            where = int(np.argmin(finite))
            index = tuple(int(i) for i in np.unravel_index(where, layout.shapes[k]))
            bad = float(values[where])
            finding = replace(finding, verdict=Verdict.FAIL, worst=(
                Entry(index, bad, math.nan, math.inf),), diagnosis=(
                f"{block.gradient_key} has {bad} at {index} ({int((~finite).sum())} "
                "non-finite values): the backprop overflowed or divided by zero"))
        elif block.verdict is Verdict.FAIL and k not in evidence.missing:
            span = slice(evidence.layout.offsets[k], evidence.layout.offsets[k + 1])
            finding = _localised(evaluator, theta, J0, g, finding, per_block[k], evidence,
                                 span, layout.shapes[k], options, noise)
        found[name] = finding
    return found


def _localised(evaluator: PointEvaluator, theta: np.ndarray, J0: float, g: np.ndarray,
               finding: BlockFinding, directions: list[Direction], evidence: Evidence,
               span: slice, shape: tuple[int, ...], options: CheckOptions,
               noise: float) -> BlockFinding:
    """A failing block with its worst entries named (and a transposed block told)."""
    a, n, e = evidence.analytic[span], evidence.numerical[span], evidence.error[span]
    judged = evidence.judged[span]
    diagnosis = finding.diagnosis
    if directions[0].kind == "unit":
        # Every coordinate was measured: the worst are known.
        entries = [Entry(_inner(d.start - directions[0].start, shape), float(ai), float(ni),
                         float(ei))
                   for d, ai, ni, ei, ok in zip(directions, a, n, e, judged) if ok]
        return _with_worst(finding, entries, diagnosis)
    first = directions[0].start
    common = _common_factor(a[judged], n[judged], e[judged], options.threshold)
    if common is not None:
        # g ≈ κ ∇J on every direction: |g - ∇J| is largest where |g| is.
        values = np.abs(g[first:first + finding.size])
        largest = np.argpartition(-values, min(_WORST_SHOWN, values.size - 1))[:_WORST_SHOWN]
        picks = largest[np.argsort(-values[largest])]
        entries = [_measure_entry(evaluator, theta, J0, g, first, int(i), shape, options,
                                  noise) for i in picks.tolist()]
        return _with_worst(finding, entries, diagnosis)
    if len(shape) == 2 and shape[0] == shape[1] and shape[0] >= 2:
        transposed = [d.transpose(shape) for d in directions]
        steps = np.array([d.step(theta, options.epsilon) for d in transposed])
        costs = np.array([stencil_costs(evaluator.cost_of, theta, d, h)
                          for d, h in zip(transposed, steps.tolist())])
        along = central_derivatives(J0, costs, steps, noise_floor=noise)
        if along.finite.all() and float(np.linalg.norm(a - along.value)) <= (
                options.threshold * (np.linalg.norm(a) + np.linalg.norm(along.value))
                + np.linalg.norm(along.error)):
            diagnosis = f"{finding.gradient_key} = numerical transposed (a transposed gradient)"
    entries, tests = _group_test(evaluator, theta, J0, g, first, finding.size, shape,
                                 options, noise)
    if not entries:
        diagnosis += f" (no single wrong entry stood out within {tests} group tests)"
    elif not diagnosis.endswith("(a transposed gradient)"):
        worst = max(entries, key=_gap)
        diagnosis = (f"{finding.gradient_key} is wrong at {len(entries)} "
                     f"{'entry' if len(entries) == 1 else 'entries'} found by {tests} group "
                     f"tests, worst {worst.index}: {worst.analytic:.6g} vs numerical "
                     f"{worst.numerical:.6g}")
    return _with_worst(finding, entries, diagnosis)


def _with_worst(finding: BlockFinding, entries: list[Entry], diagnosis: str) -> BlockFinding:
    entries.sort(key=lambda entry: -_gap(entry))
    worst = tuple(entries[:_WORST_SHOWN])
    gaps = [_gap(entry) for entry in worst]
    relative = [abs(entry.analytic - entry.numerical) / abs(entry.numerical)
                if entry.numerical else math.inf for entry in worst]
    return replace(finding, worst=worst, diagnosis=diagnosis,
                   max_absolute=max(gaps) if gaps else math.nan,
                   max_relative=max(relative) if relative else math.nan)


def _gap(entry: Entry) -> float:
    gap = abs(entry.analytic - entry.numerical)
    return math.inf if math.isnan(gap) else gap


def _inner(offset: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(offset, shape))


def _common_factor(a: np.ndarray, n: np.ndarray, e: np.ndarray, threshold: float
                   ) -> float | None:
    """κ when ``a ≈ κ n`` on every direction (within the rule's tolerance), else None."""
    n2 = float(n @ n)
    if a.size < 2 or n2 == 0:
        return None
    kappa = float(a @ n) / n2
    residual = float(np.linalg.norm(a - kappa * n))
    tolerance = threshold * (np.linalg.norm(a) + np.linalg.norm(n)) + np.linalg.norm(e)
    return kappa if residual <= tolerance + 1e-6 * float(np.linalg.norm(a)) else None


def _measure(evaluator: PointEvaluator, theta: np.ndarray, J0: float, g: np.ndarray,
             direction: Direction, options: CheckOptions, noise: float
             ) -> tuple[float, float, float]:
    h = direction.step(theta, options.epsilon)
    costs = stencil_costs(evaluator.cost_of, theta, direction, h)[None, :]
    found = central_derivatives(J0, costs, np.array([h]), noise_floor=noise)
    return direction.project(g), float(found.value[0]), float(found.error[0])


def _measure_entry(evaluator: PointEvaluator, theta: np.ndarray, J0: float, g: np.ndarray,
                   first: int, i: int, shape: tuple[int, ...], options: CheckOptions,
                   noise: float) -> Entry:
    a, n, e = _measure(evaluator, theta, J0, g, Direction(first + i, first + i + 1, "unit"),
                       options, noise)
    return Entry(_inner(i, shape), a, n, e)


def _group_test(evaluator: PointEvaluator, theta: np.ndarray, J0: float, g: np.ndarray,
                first: int, size: int, shape: tuple[int, ...], options: CheckOptions,
                noise: float) -> tuple[list[Entry], int]:
    """The worst entries of a block by best-first halving (see the module's docstring):
    each part is tested along a random ±1 direction, the mismatch times sqrt(its size)
    estimates the norm of its error, parts with no mismatch beyond the rule are
    dropped, and single entries are measured as coordinates."""
    budget = _LOCALISATION_TESTS + 4 * max(1, math.ceil(math.log2(size)))
    heap: list[tuple[float, int, int]] = []
    leaves: list[Entry] = []
    tests = 0

    def test(lo: int, hi: int) -> None:
        nonlocal tests
        tests += 1
        if hi - lo == 1:
            leaves.append(_measure_entry(evaluator, theta, J0, g, first, lo, shape, options,
                                         noise))
            return
        direction = Direction(first + lo, first + hi, "signs", (options.seed, first, lo, hi))
        a, n, e = _measure(evaluator, theta, J0, g, direction, options, noise)
        gap = abs(a - n)
        if not (gap <= options.threshold * (abs(a) + abs(n)) + e):   # NaN counts as wrong
            heapq.heappush(heap, (-(gap if math.isfinite(gap) else math.inf)
                                  * math.sqrt(hi - lo), lo, hi))

    test(0, size)
    while heap and tests < budget:
        estimate, lo, hi = heapq.heappop(heap)
        found = sorted((_gap(leaf) for leaf in leaves), reverse=True)
        if len(found) >= _WORST_SHOWN and found[_WORST_SHOWN - 1] >= -estimate:
            break                  # no part left can hold an entry worse than those found
        middle = (lo + hi) // 2
        test(lo, middle)
        test(middle, hi)
    significant = [leaf for leaf in leaves if not _gap(leaf) <= options.threshold * (
        abs(leaf.analytic) + abs(leaf.numerical)) + leaf.error]
    return significant, tests


# --- the backward pass's rounding, along directions -----------------------------------

def projected_rounding(forward: Callable[..., Any], backward: Callable[..., Any],
                       X: np.ndarray, Y: np.ndarray, layout: ParamLayout, theta: np.ndarray,
                       seed: int, keys: Sequence[str],
                       directions: list[Direction]) -> np.ndarray | None:
    """Rounding sigma of the analytic projections ``g·v`` for ``directions``.

    The backward pass runs at five points along a short random direction; a smooth
    gradient's projections have a negligible fourth difference there, so what remains
    is rounding (pooled over the directions of each block). Three probe lengths are
    tried and the smallest estimate kept: a probe that crosses a kink only overstates
    the rounding. Memory: one gradient at a time, read where the backward put it
    (under ``keys``), never flattened.
    """
    # (layout.block_ids would cache a vector as long as the parameters)
    blocks = [layout.names.index(layout.locate(d.start)[0]) for d in directions]
    best: np.ndarray | None = None
    for attempt, relative in enumerate(_ROUNDING_PROBES):
        rows = []
        try:
            for t in (-2.0, -1.0, 0.0, 1.0, 2.0):
                point = _probe_point(theta, (seed, attempt), relative * t)
                _, cache = forward(X.copy(), Y.copy(), layout.unflatten(point))
                returned = backward(X.copy(), Y.copy(), cache)
                del cache, point
                row = []
                for d, k in zip(directions, blocks):
                    block = np.asarray(returned[keys[k]], dtype=np.float64).reshape(-1)
                    row.append(d.project(block, layout.offsets[k]))
                rows.append(row)
                del returned
        except (LookupError, ArithmeticError, ValueError, TypeError):
            return best
        sigma = np.abs(fourth_differences(np.array(rows))) / NOISE_IN_FOURTH
        if not np.all(np.isfinite(sigma)):
            continue
        pooled = sigma.copy()
        for k in set(blocks):
            mine = np.array(blocks) == k
            pooled[mine] = np.maximum(sigma[mine], np.sqrt(np.mean(sigma[mine] ** 2)))
        best = pooled if best is None else np.minimum(best, pooled)
    return best


def _probe_point(theta: np.ndarray, seed: tuple[int, ...], length: float) -> np.ndarray:
    """``theta + length * r * max(1, |theta|)`` with ``r`` drawn from ``seed``, in one new
    vector (the probe is drawn again for each point rather than kept)."""
    point = np.random.default_rng(list(seed)).standard_normal(theta.size)
    scale = np.abs(theta)
    np.maximum(scale, 1.0, out=scale)
    point *= scale
    del scale
    point *= length
    point += theta
    return point


# --- entry points (called by gcverify.check) ------------------------------------------

def directional_gradients(cost: Callable[[dict[str, np.ndarray]], Any],
                          gradients: AnalyticGradient, layout: ParamLayout,
                          theta: np.ndarray, options: CheckOptions) -> GradCheckResult:
    """:func:`gcverify.check_gradients` in directional mode (arguments validated)."""
    check_supported(options)

    def at(vector: np.ndarray) -> tuple[Any, Any]:
        return cost(layout.unflatten(vector)), None

    evaluator = PointEvaluator(layout, cost, at)
    return run_directional(evaluator, theta, gradients, options)


def directional_backprop(forward: Callable[..., Any], backward: Callable[..., Any],
                         X: np.ndarray, Y: np.ndarray, layout: ParamLayout,
                         theta: np.ndarray, options: CheckOptions) -> GradCheckResult:
    """:func:`gcverify.check_backprop` in directional mode (arguments validated).

    The forward's cache is not watched for kinks here (that costs a copy of the cache
    per evaluation, and caches often hold the parameters): kinks show in the cost's
    own stencil (its fourth difference), as for :func:`gcverify.check_gradients`.
    """
    from gcverify.validate import validate_gradients

    check_supported(options)
    role = "forward(X, Y, parameters)"

    def at(vector: np.ndarray) -> tuple[Any, Any]:
        out = forward(X.copy(), Y.copy(), layout.unflatten(vector))
        if not (isinstance(out, tuple) and len(out) == 2):
            raise invalid_argument(role, out, "is not a (cost, cache) pair",
                                   "return (cost, cache) as forward_propagation_n does")
        return out

    evaluator = PointEvaluator(layout, forward, at, role="forward", cost_name=f"{role}[0]")
    X_seen, Y_seen = X.copy(), Y.copy()
    out = forward(X_seen, Y_seen, layout.unflatten(theta.copy()))
    if not (isinstance(out, tuple) and len(out) == 2):
        raise invalid_argument(role, out, "is not a (cost, cache) pair",
                               "return (cost, cache) as forward_propagation_n does")
    J0 = as_cost_value(out[0], evaluator.cost_name)
    returned = backward(X.copy(), Y.copy(), out[1])
    del out                  # the cache (often holding a copy of the parameters) goes
    gradients = validate_gradients(returned, layout, "backward(X, Y, cache)")
    del returned
    notes = []
    if not (np.array_equal(X_seen, X) and np.array_equal(Y_seen, Y)):
        notes.append("forward modifies X or Y in place; the check gave it fresh copies each "
                     "time, so the caller's arrays are untouched")

    def rounding(directions: list[Direction]) -> np.ndarray | None:
        return projected_rounding(forward, backward, X, Y, layout, theta, options.seed,
                                  gradients.keys, directions)

    return run_directional(evaluator, theta, gradients, options, J0=J0,
                           analytic_rounding=rounding, notes=notes)
