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

How surely a wrong gradient is caught (derived in :mod:`gcverify.detection`): a
scaling or sign bug in a block fails on every direction; an error of relative size ρ
beside the block's gradient is missed by all k directions with probability at most
``C_k (c/ρ)^k``, ``c = 2 (t + r) / (1 - t - r)`` (``r`` the block's resolution): with
the notebook's threshold and k = 8, ρ ≥ 1.5e-6 is missed with probability ≤ 0.1 %.
The result states this bound for its own resolution.

Where a block is wrong (:mod:`gcverify.localise`): a failing block's worst entries
are found by group testing (directions supported on halves of the block, recursively:
about ``2 log2 d`` tests for a single wrong entry) and named in ``BlockFinding.worst``
with both derivatives, as in coordinate mode; a common factor and a transposed square
block are diagnosed as such.

>>> from gcverify import MLP, check_backprop
>>> net = MLP((30, 20, 1))
>>> X, Y = net.make_batch(8, seed=1)
>>> p = net.init_parameters(seed=2)
>>> result = check_backprop(net.forward, net.backward, X, Y, p, mode="directional")
>>> result.verdict, result.mode
(<Verdict.PASS: 'pass'>, 'directional')
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from gcverify.detection import QUOTED_MISS, margin, smallest_caught
from gcverify.direction_probe import ProbedBackward, backward_changed, probe_backward
from gcverify.directions import (
    Direction,
    ParametersMoved,
    PointEvaluator,
    block_directions,
    restorer,
    restoring,
    stencil_costs,
)
from gcverify.errors import invalid_argument
from gcverify.evaluate import FORWARD_WRITES_INPUTS, as_cost_value
from gcverify.localise import in_directions, localised_findings
from gcverify.numdiff import PROBE_OFFSETS, central_derivatives, one_sided_derivatives, probe_noise
from gcverify.options import CheckOptions
from gcverify.params import ParamLayout, gradient_key
from gcverify.pipeline import NOISE_PROBES, REFINEMENT_STEPS, nondeterminism, not_judged
from gcverify.result import BlockFinding, GradCheckResult, Verdict
from gcverify.validate import AnalyticGradient, validate_gradients
from gcverify.verdict import (
    NOT_EXCLUDED,
    Evidence,
    Exclusion,
    Judgement,
    excluded_totals,
    judge,
    localised_verdict,
    overall_verdict,
)

__all__ = [
    "AUTO_DIRECTIONAL_FROM",
    "check_supported",
    "directional_backprop",
    "directional_gradients",
    "resolve_mode",
    "run_directional",
]

#: ``mode="auto"`` checks every coordinate below this many parameters and random
#: directions from it on. Measured on user-style ReLU networks (one BLAS thread): the
#: full coordinate check took 0.39 s at P = 641 and 2.3 s at 1,871, the directional one
#: 0.03 s at both; below, coordinates are affordable and judge every entry.
AUTO_DIRECTIONAL_FROM = 1000

_FORWARD = "forward(X, Y, parameters)"


def resolve_mode(options: CheckOptions, size: int) -> str:
    """The mode a check of ``size`` parameters runs in: ``options.mode``, with "auto"
    resolved by :data:`AUTO_DIRECTIONAL_FROM`.

    "auto" keeps coordinates when an option only they support is set (``sample=``,
    ``method="complex"``): auto never turns a valid call into an error.

    >>> auto = CheckOptions(mode="auto")
    >>> resolve_mode(auto, 47), resolve_mode(auto, 10**6)
    ('coordinates', 'directional')
    >>> resolve_mode(auto.replace(sample=3), 10**6)
    'coordinates'
    """
    if options.mode != "auto":
        return options.mode
    coordinates_only = options.sample is not None or options.method == "complex"
    return ("directional" if size >= AUTO_DIRECTIONAL_FROM and not coordinates_only
            else "coordinates")


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


def run_directional(evaluator: PointEvaluator, theta: np.ndarray,
                    held: list[AnalyticGradient], options: CheckOptions, *,
                    J0: float | None = None,
                    analytic_rounding: Callable[[list[Direction]], ProbedBackward]
                    | None = None, notes: Sequence[str] = ()) -> GradCheckResult:
    """The directional check (see the module's docstring) of the gradient ``held`` (a
    list of one, which the check empties: when the caller keeps no other reference, as
    :func:`directional_backprop` does not, the check holds the only one, on every
    Python version) at ``theta``.

    ``analytic_rounding(directions)``: the backward pass probed along those directions
    (:func:`gcverify.direction_probe.probe_backward`) before a FAIL is believed. The
    check lets go of its gradient's vector meanwhile and goes on with the gradient the
    probe read again at ``theta``.
    """
    gradient = held.pop()
    layout = evaluator.layout
    if J0 is None:
        J0 = evaluator.base(theta)
    unstable = nondeterminism(evaluator, theta, J0)
    if unstable is not None:
        return _not_judged(evaluator, gradient, options, unstable)
    per_block = block_directions(layout, options)
    directions = [d for block in per_block for d in block]
    pseudo = ParamLayout(layout.names, tuple((len(block),) for block in per_block))
    analytic = np.array([d.project(gradient.vector) for d in directions])
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
            for factor in REFINEMENT_STEPS:
                if not _refine(evaluator, theta, J0, directions, estimates, pseudo, judgement,
                               options, noise, factor, reasons):
                    continue
                judgement = judge(evidence_of(estimates))
    if analytic_rounding is not None and judgement.failed:
        # (a missing block's FAIL needs no numbers, and it has no gradient to probe)
        failing = [i for i, d in enumerate(directions)
                   if judgement.findings[layout.locate(d.start)[0]].verdict is Verdict.FAIL
                   and layout.locate(d.start)[0] not in gradient.missing]
        if failing:
            along = [directions[i] for i in failing]
            # (memory: the probe's gradients take the place of this one)
            gradient = replace(gradient, vector=np.empty(0))
            backward = analytic_rounding(along)
            changed = backward_changed(backward, along, analytic[failing])
            if changed is not None:
                unknown = replace(gradient, vector=np.full(layout.size, np.nan))
                return _not_judged(evaluator, backward.centre or unknown, options, changed,
                                   notes)
            assert backward.centre is not None          # (or it changed)
            gradient = backward.centre
            if backward.sigma is not None:
                estimates.error[failing] = estimates.error[failing] + 3 * backward.sigma
                judgement = judge(evidence_of(estimates))
    evidence = evidence_of(estimates)
    verdict, why = overall_verdict(evidence, judgement)
    findings = localised_findings(evaluator, theta, J0, gradient.vector, evidence, judgement,
                                  per_block, options, noise)
    # Localisation may have told more (a transposed block): the headline says it.
    verdict, why = localised_verdict(judgement, findings, verdict, why)
    reasons = [in_directions(reason) for reason in why] + reasons
    reasons.append(_guarantee(findings, per_block, options, len(directions)))
    if gradient.stray:
        reasons.append(f"the gradients hold keys that name no parameter: "
                       f"{', '.join(gradient.stray)}")
    return GradCheckResult(
        verdict=verdict, difference=judgement.whole.difference, options=options,
        method="central", blocks=findings, reasons=(*reasons, *notes),
        n_coordinates=layout.size, n_judged=int(evidence.judged.sum()),
        n_at_kinks=int(evidence.at_kinks.sum()), excluded=excluded_totals(evidence),
        evaluator=evaluator.name, analytic=gradient.vector, mode="directional")


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
    costs = np.array([stencil_costs(evaluator, theta, d, h)
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
    most in each block (up to :data:`NOISE_PROBES` blocks)."""
    movement = np.where((estimates.exclusion == NOT_EXCLUDED) & np.isfinite(estimates.numerical),
                        np.abs(estimates.numerical) * estimates.steps, -1.0)
    chosen = []
    for k in range(len(pseudo.names)):
        span = slice(pseudo.offsets[k], pseudo.offsets[k + 1])
        best = int(np.argmax(movement[span]))
        if movement[span][best] > 0:
            chosen.append((float(movement[span][best]), pseudo.offsets[k] + best))
    chosen.sort(reverse=True)
    rows = [stencil_costs(evaluator, theta, directions[i], float(estimates.steps[i]),
                          tuple(PROBE_OFFSETS.tolist()))
            for _, i in chosen[:NOISE_PROBES]]
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
    costs = np.array([stencil_costs(evaluator, theta, directions[i], h)
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



# --- entry points (called by gcverify.check) ------------------------------------------

def directional_gradients(cost: Callable[[dict[str, np.ndarray]], Any],
                          gradients: AnalyticGradient, parameters: Mapping[str, Any],
                          layout: ParamLayout, theta: np.ndarray,
                          options: CheckOptions) -> GradCheckResult:
    """:func:`gcverify.check_gradients` in directional mode (arguments validated;
    ``theta`` is ``parameters`` flattened, which the stencils move in place and restore
    from them)."""
    check_supported(options)

    def at(vector: np.ndarray) -> tuple[Any, Any]:
        return cost(layout.unflatten(vector)), None

    evaluator = PointEvaluator(layout, cost, at, restorer(layout, parameters))
    try:
        return run_directional(evaluator, theta, [gradients], options)
    except ParametersMoved:
        pass                # (answered outside the handler: its traceback holds frames)
    return _moved(evaluator, options, gradients)


def directional_backprop(forward: Callable[..., Any], backward: Callable[..., Any],
                         X: np.ndarray, Y: np.ndarray, parameters: Mapping[str, Any],
                         layout: ParamLayout, theta: np.ndarray,
                         options: CheckOptions) -> GradCheckResult:
    """:func:`gcverify.check_backprop` in directional mode (arguments validated;
    ``theta`` is ``parameters`` flattened, which every point moves in place and
    restores from them).

    The forward's cache is not watched for kinks here (that costs a copy of the cache
    per evaluation, and caches often hold the parameters): kinks show in the cost's
    own stencil (its fourth difference), as for :func:`gcverify.check_gradients`.
    """
    check_supported(options)

    def at(vector: np.ndarray) -> tuple[Any, Any]:
        return _cost_and_cache(forward(X.copy(), Y.copy(), layout.unflatten(vector)))

    restore = restorer(layout, parameters)
    evaluator = PointEvaluator(layout, forward, at, restore, role="forward",
                               cost_name=f"{_FORWARD}[0]")
    # What is known of the gradient without its values (its keys, missing blocks).
    known = AnalyticGradient(np.empty(0), tuple(map(gradient_key, layout.names)))
    notes: list[str] = []
    try:
        J0, notes, held = _first_call(forward, backward, X, Y, layout, theta, restore,
                                      evaluator)
        known = replace(held[0], vector=np.empty(0))

        def rounding(directions: list[Direction]) -> ProbedBackward:
            return probe_backward(forward, backward, X, Y, layout, theta, options.seed,
                                  known.keys, directions, restore)

        return run_directional(evaluator, theta, held, options, J0=J0,
                               analytic_rounding=rounding, notes=notes)
    except ParametersMoved:
        pass                # (answered outside the handler: its traceback holds frames)
    return _moved(evaluator, options, known, notes)


def _moved(evaluator: PointEvaluator, options: CheckOptions, known: AnalyticGradient,
           notes: Sequence[str] = ()) -> GradCheckResult:
    """INCONCLUSIVE (a missing block still FAILs): the user's code wrote into the
    caller's parameter arrays, from which the check restores its points (see
    :func:`gcverify.directions.restorer`)."""
    unknown = replace(known, vector=np.full(evaluator.layout.size, np.nan))
    return _not_judged(evaluator, unknown, options, (
        "the parameters changed under the check: the code under test wrote into the "
        "parameter arrays passed to it (they now hold what it wrote), and directional "
        f"mode restores its points from them; pass {evaluator.role} a copy of them, keep "
        "your code from writing into them, or use mode='coordinates'"), notes)


def _not_judged(evaluator: PointEvaluator, gradient: AnalyticGradient,
                options: CheckOptions, why: str, notes: Sequence[str] = ()
                ) -> GradCheckResult:
    """:func:`gcverify.pipeline.not_judged`, as a directional result (with ``notes``)."""
    result = not_judged(evaluator, gradient, options, why)
    return replace(result, mode="directional", numerical=np.empty(0), error=np.empty(0),
                   reasons=(*result.reasons, *notes))


def _first_call(forward: Callable[..., Any], backward: Callable[..., Any], X: np.ndarray,
                Y: np.ndarray, layout: ParamLayout, theta: np.ndarray,
                restore: Callable[[np.ndarray], Any], evaluator: PointEvaluator
                ) -> tuple[float, list[str], list[AnalyticGradient]]:
    """The cost and the validated gradient at ``theta`` (in a list of one), and notes.

    Memory: forward and backward see views of theta itself (restored from the caller's
    parameters after them, as every later point is) and share one copy of X (two when
    forward writes into it)."""
    X_seen, Y_seen = X.copy(), Y.copy()
    with restoring(restore, theta):
        out = _cost_and_cache(forward(X_seen, Y_seen, layout.unflatten(theta)))
        J0 = as_cost_value(out[0], evaluator.cost_name)
        notes = []
        if not (np.array_equal(X_seen, X) and np.array_equal(Y_seen, Y)):
            notes.append(FORWARD_WRITES_INPUTS)
            X_seen, Y_seen = X.copy(), Y.copy()
        # (the cache usually holds X_seen already: backward gets the same copy)
        returned = backward(X_seen, Y_seen, out[1])
        del out, X_seen, Y_seen
        # (validated, i.e. copied, before the restore: a gradient may be a view of theta)
        return J0, notes, [validate_gradients(returned, layout, "backward(X, Y, cache)")]


def _cost_and_cache(out: Any) -> tuple[Any, Any]:
    if not (isinstance(out, tuple) and len(out) == 2):
        raise invalid_argument(_FORWARD, out, "is not a (cost, cache) pair",
                               "return (cost, cache) as forward_propagation_n does")
    return out
