"""Where a failing block is wrong: group testing along random directions.

When a block FAILs in directional mode (:mod:`gcverify.directional`) and its
projections fit a common factor (``g·v ≈ κ n_v`` on every direction), the wrong
entries are where ``|g|`` is largest: they are measured one by one as coordinates.
Otherwise the block is halved, and the mismatch along a random ±1 direction on each
half (whose square estimates ``‖δ_half‖²``, with ``δ`` the gradient's error) tells
which halves hold wrong entries; the largest are halved again, best first, down to
single entries, measured as coordinates. A single wrong entry in a block of d is found
with about ``2 log2 d`` such tests (4 cost evaluations each). A square block whose
projections match the numerical derivatives along the transposed directions is called
transposed. Every finding keeps the shape of coordinate mode's
(:class:`~gcverify.result.BlockFinding`): its ``worst`` entries carry both derivatives.

>>> _common_factor(np.array([2.0, -4.0]), np.array([1.0, -2.0]), np.zeros(2), 2e-7)
2.0
"""

from __future__ import annotations

import heapq
import math
from dataclasses import replace

import numpy as np

from gcverify.detection import QUOTED_MISS, margin, smallest_caught
from gcverify.diagnosis import transposed_diagnosis
from gcverify.directions import Direction, PointEvaluator, stencil_costs
from gcverify.numdiff import central_derivatives
from gcverify.options import CheckOptions
from gcverify.result import BlockFinding, Entry, FrozenMap, Verdict
from gcverify.verdict import WORST_SHOWN, Evidence, Judgement, allowed_gap, non_finite_gradient

__all__ = ["in_directions", "localised_findings"]

# Group testing stops after this many tests per failing block, plus 4 per halving.
_LOCALISATION_TESTS = 24


def in_directions(reason: str) -> str:
    """The verdict's sentences speak of coordinates; in directional mode they are
    directions.

    >>> in_directions("3 coordinates excluded")
    '3 directions excluded'
    """
    return reason.replace("coordinates", "directions").replace("coordinate", "direction")


def localised_findings(evaluator: PointEvaluator, theta: np.ndarray, J0: float,
                       g: np.ndarray, evidence: Evidence, judgement: Judgement,
                       per_block: list[list[Direction]], options: CheckOptions,
                       noise: float) -> dict[str, BlockFinding]:
    """Each block's finding in the shape of coordinate mode's: its real size, its
    excluded directions, a non-finite gradient named at its entry, and for a failing
    block its worst entries (localised) and what kind of mismatch it is."""
    layout = evaluator.layout
    found = {}
    for k, (name, block) in enumerate(judgement.findings.items()):
        start, stop = layout.offsets[k], layout.offsets[k + 1]
        excluded = FrozenMap({in_directions(key): value
                              for key, value in block.excluded.items()})
        finding = replace(block, size=layout.sizes[k], excluded=excluded, worst=())
        non_finite = non_finite_gradient(finding, g[start:stop], layout.shapes[k])
        if non_finite is not None:
            finding = non_finite
        elif block.verdict is Verdict.FAIL and k not in evidence.missing:
            span = slice(evidence.layout.offsets[k], evidence.layout.offsets[k + 1])
            finding = _localised(evaluator, theta, J0, g, finding, per_block[k], evidence,
                                 span, layout.shapes[k], options, noise)
        if per_block[k] and per_block[k][0].kind != "unit":
            finding = _as_random_projections(finding, len(per_block[k]), options.threshold)
        found[name] = finding
    return found


def _as_random_projections(finding: BlockFinding, k: int, threshold: float) -> BlockFinding:
    """What a block judged along k random directions vouches for: a scaling exactly as
    in coordinate mode (it scales every projection alike), any other error only with the
    probability :mod:`gcverify.detection` derives (an error can be nearly orthogonal to
    every direction, so "any error ≥ ..." would be false). Coverage and dead units are
    properties of coordinates, which this mode does not see: unknown (NaN, none)."""
    certificate = finding.sensitivity
    if certificate is not None and math.isfinite(certificate.relative_error):
        # The bound is on the error's part beside the gradient; its part along the
        # gradient passes while within the scaling margin c: quote the two together.
        c = margin(threshold, finding.resolution)
        caught = math.hypot(smallest_caught(k, c), c)
        certificate = replace(certificate, relative_error=caught, tolerated=0.0,
                              confidence=1 - QUOTED_MISS)
    return replace(finding, sensitivity=certificate, coverage=math.nan, dead_units=())


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
        largest = np.argpartition(-values, min(WORST_SHOWN, values.size - 1))[:WORST_SHOWN]
        picks = largest[np.argsort(-values[largest])]
        entries = [_measure_entry(evaluator, theta, J0, g, first, int(i), shape, options,
                                  noise) for i in picks.tolist()]
        return _with_worst(finding, entries, diagnosis)
    transposed = False
    if len(shape) == 2 and shape[0] == shape[1] and shape[0] >= 2:
        flipped = [d.transpose(shape) for d in directions]
        steps = np.array([d.step(theta, options.epsilon) for d in flipped])
        costs = np.array([stencil_costs(evaluator, theta, d, h)
                          for d, h in zip(flipped, steps.tolist())])
        along = central_derivatives(J0, costs, steps, noise_floor=noise)
        transposed = bool(along.finite.all()) and _norm(a - along.value) <= allowed_gap(
            _norm(a), _norm(along.value), _norm(along.error), options.threshold)
        if transposed:
            diagnosis = transposed_diagnosis(finding.gradient_key)
    entries, tests = _group_test(evaluator, theta, J0, g, first, finding.size, shape,
                                 options, noise)
    if not entries:
        diagnosis += f" (no single wrong entry stood out within {tests} group tests)"
    elif not transposed:
        worst = max(entries, key=_gap)
        diagnosis = (f"{finding.gradient_key} is wrong at {len(entries)} "
                     f"{'entry' if len(entries) == 1 else 'entries'} found by {tests} group "
                     f"tests, worst {worst.index}: {worst.analytic:.6g} vs numerical "
                     f"{worst.numerical:.6g}")
    return _with_worst(finding, entries, diagnosis)


def _with_worst(finding: BlockFinding, entries: list[Entry], diagnosis: str) -> BlockFinding:
    entries.sort(key=lambda entry: -_gap(entry))
    worst = tuple(entries[:WORST_SHOWN])
    gaps = [_gap(entry) for entry in worst]
    relative = [abs(entry.analytic - entry.numerical) / abs(entry.numerical)
                if entry.numerical else math.inf for entry in worst]
    return replace(finding, worst=worst, diagnosis=diagnosis,
                   max_absolute=max(gaps) if gaps else math.nan,
                   max_relative=max(relative) if relative else math.nan)


def _gap(entry: Entry) -> float:
    gap = abs(entry.analytic - entry.numerical)
    return math.inf if math.isnan(gap) else gap


def _norm(values: np.ndarray) -> float:
    return float(np.linalg.norm(values))


def _inner(offset: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(offset, shape))


def _common_factor(a: np.ndarray, n: np.ndarray, e: np.ndarray, threshold: float
                   ) -> float | None:
    """κ when ``a ≈ κ n`` on every direction (within the rule's tolerance), else None."""
    n2 = float(n @ n)
    if a.size < 2 or n2 == 0:
        return None
    kappa = float(a @ n) / n2
    residual = _norm(a - kappa * n)
    tolerance = allowed_gap(_norm(a), _norm(n), _norm(e), threshold)
    return kappa if residual <= tolerance + 1e-6 * _norm(a) else None


def _measure(evaluator: PointEvaluator, theta: np.ndarray, J0: float, g: np.ndarray,
             direction: Direction, options: CheckOptions, noise: float
             ) -> tuple[float, float, float]:
    h = direction.step(theta, options.epsilon)
    costs = stencil_costs(evaluator, theta, direction, h)[None, :]
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

    heap.append((-math.inf, 0, size))     # the block failed: it holds wrong entries
    while heap and tests < budget:
        estimate, lo, hi = heapq.heappop(heap)
        found = sorted((_gap(leaf) for leaf in leaves), reverse=True)
        if len(found) >= WORST_SHOWN and found[WORST_SHOWN - 1] >= -estimate:
            break                  # no part left can hold an entry worse than those found
        middle = (lo + hi) // 2
        test(lo, middle)
        test(middle, hi)
    significant = [leaf for leaf in leaves if not _gap(leaf) <= options.threshold * (
        abs(leaf.analytic) + abs(leaf.numerical)) + leaf.error]
    return significant, tests


