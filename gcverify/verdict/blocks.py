"""The block rules: each block of judged coordinates, and the whole vector, judged
against the threshold and the error bars (the rules are stated in :mod:`gcverify.verdict`).

>>> from gcverify.params import ParamLayout
>>> from gcverify.verdict.evidence import NOT_EXCLUDED
>>> layout = ParamLayout.from_parameters({"W1": np.ones((1, 2))})
>>> evidence = Evidence(layout, np.array([2.0, 2.0]), np.array([1.0, 1.0]),
...                     np.zeros(2), np.full(2, NOT_EXCLUDED), np.ones(2, dtype=bool),
...                     2e-7, 0.1)
>>> finding = judge_blocks(evidence)["W1"]
>>> finding.verdict.name, finding.diagnosis
('FAIL', 'dW1 ≈ 2.000 × numerical (scaling bug)')
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from gcverify.certificate import certificate
from gcverify.coordinates import gradient_share
from gcverify.coverage import ZERO_BARS as _ZERO_BARS
from gcverify.coverage import covered_coordinates, dead_units
from gcverify.diagnosis import diagnose_mismatch, is_transposed, transposed_diagnosis
from gcverify.result import BlockFinding, Entry, FrozenMap, Verdict
from gcverify.verdict.evidence import Evidence, Exclusion

__all__ = ["WORST_SHOWN", "Whole", "allowed_gap", "judge_blocks", "judge_whole",
           "non_finite_gradient"]

#: How many of a block's worst entries a finding lists.
WORST_SHOWN = 3


@dataclass(frozen=True)
class Whole:
    """The whole vector's judgement: the notebook's difference, whether it fails
    beyond the error bars, its resolution, and ``|g| + |n|`` (the scale against
    which a block's error bars are called negligible)."""

    difference: float
    fails: bool
    resolution: float
    scale: float
    error: float = 0.0

    @property
    def zero(self) -> bool:
        """The whole gradient is zero within about three error bars (a stationary point)."""
        return self.scale <= _ZERO_BARS * self.error


def _norm(values: np.ndarray) -> float:
    return float(np.sqrt(np.dot(values, values)))      # 0.0 for an empty vector


def judge_whole(evidence: Evidence) -> Whole:
    """The whole vector of judged coordinates, judged like one block."""
    mask = evidence.judged
    g, n, e = evidence.analytic[mask], evidence.numerical[mask], evidence.error[mask]
    finite = np.isfinite(g)
    if not finite.all():
        return Whole(math.nan, True, math.inf, _norm(g[finite]) + _norm(n[finite]),
                     _norm(e[finite]))
    norm_g, norm_n, mismatch, error = _norm(g), _norm(n), _norm(g - n), _norm(e)
    denominator = norm_g + norm_n
    return Whole(difference=mismatch / denominator if denominator > 0 else 0.0,
                 fails=bool(mismatch > allowed_gap(norm_g, norm_n, error, evidence.threshold)),
                 resolution=error / denominator if denominator > 0 else math.inf,
                 scale=denominator, error=error)


@dataclass(frozen=True)
class _Sums:
    """Per-block sums over the judged coordinates (and the excluded ones), in one pass."""

    g2: np.ndarray           # sum of g^2
    n2: np.ndarray           # sum of n^2
    gn: np.ndarray           # sum of g n
    gd: np.ndarray           # sum of g (g - n)
    diff2: np.ndarray        # sum of (g - n)^2
    e2: np.ndarray           # sum of e^2
    excluded_g2: np.ndarray  # sum of g^2 over the excluded, unverified coordinates
    judged: np.ndarray       # how many judged
    nonfinite: np.ndarray    # how many judged analytic values are not finite
    at_kinks: np.ndarray     # how many judged by a one-sided derivative at a kink
    covered: np.ndarray      # how many judged are distinguishable from zero
    evaluated: np.ndarray    # how many evaluated (all, unless sampled)


def _sums(evidence: Evidence) -> _Sums:
    blocks, count = evidence.layout.block_ids, len(evidence.layout.names)
    judged = evidence.judged
    finite = np.isfinite(evidence.analytic)
    g = np.where(judged & finite, evidence.analytic, 0.0)
    n = np.where(judged, evidence.numerical, 0.0)
    e = np.where(judged, evidence.error, 0.0)
    gx = np.where(evidence.excluded & finite, evidence.analytic, 0.0)

    def per_block(weights: np.ndarray) -> np.ndarray:
        return np.bincount(blocks, weights=weights, minlength=count)

    # bincount reads boolean weights as 0.0 / 1.0: counts need no cast.
    return _Sums(per_block(g * g), per_block(n * n), per_block(g * n), per_block(g * (g - n)),
                 per_block((g - n) ** 2), per_block(e * e), per_block(gx * gx),
                 per_block(judged), per_block(judged & ~finite), per_block(evidence.at_kinks),
                 per_block(covered_coordinates(evidence)), per_block(evidence.evaluated))


def judge_blocks(evidence: Evidence, whole: Whole | None = None) -> dict[str, BlockFinding]:
    """A :class:`BlockFinding` for every block of the layout."""
    whole = whole or judge_whole(evidence)
    sums = _sums(evidence)
    worst = _worst_entries(evidence)
    excluded = _excluded_counts(evidence)
    largest = _largest_differences(evidence)
    dead = dead_units(evidence.layout, covered_coordinates(evidence), evidence.judged)
    share = gradient_share(evidence.layout, evidence.analytic,
                           np.flatnonzero(evidence.evaluated)).tolist()
    return {name: _judge_block(evidence, k, sums, worst[k], excluded[k], whole, largest[k],
                               dead[k], share[k])
            for k, name in enumerate(evidence.layout.names)}


def _judge_block(evidence: Evidence, k: int, sums: _Sums, worst: tuple[Entry, ...],
                 excluded: dict[str, int], whole: Whole,
                 largest: tuple[float, float], dead: tuple[int, ...],
                 share: float) -> BlockFinding:
    name = evidence.layout.names[k]
    key = evidence.key(k)
    # The certificate reads the very sums the rule below reads: they cannot disagree.
    sensitivity = certificate(g2=sums.g2[k], n2=sums.n2[k], gn=sums.gn[k], gd=sums.gd[k],
                              diff2=sums.diff2[k], e2=sums.e2[k],
                              threshold=evidence.threshold) \
        if sums.judged[k] and not sums.nonfinite[k] else None   # a NaN certifies nothing
    coverage = float(sums.covered[k] / sums.judged[k]) if sums.judged[k] else math.nan
    sampled = 0 < int(sums.evaluated[k]) < evidence.layout.sizes[k]
    if sampled:
        # A sample vouches for scalings only, and is picked where |g| is large: it tells
        # nothing of the rest of the block, nor of how much of it is dead.
        sensitivity = sensitivity.only_scalings() if sensitivity is not None else None
        coverage = math.nan

    def finding(verdict: Verdict, difference: float, scale: float | None, resolution: float,
                diagnosis: str, informative: bool = True) -> BlockFinding:
        return BlockFinding(name, key, verdict, difference, scale, resolution,
                            evidence.layout.sizes[k], int(sums.judged[k]),
                            FrozenMap(excluded), worst, diagnosis, informative, *largest,
                            int(sums.at_kinks[k]), sensitivity, coverage, dead, share)

    if sums.nonfinite[k]:
        bad = next(entry for entry in worst if not math.isfinite(entry.analytic))
        return finding(Verdict.FAIL, math.nan, None, math.inf,
                       _non_finite_diagnosis(key, bad.analytic, bad.index,
                                            int(sums.nonfinite[k])))
    norm_g, norm_n = math.sqrt(sums.g2[k]), math.sqrt(sums.n2[k])
    norm_diff, norm_e = math.sqrt(sums.diff2[k]), math.sqrt(sums.e2[k])
    denominator = norm_g + norm_n
    difference = norm_diff / denominator if denominator > 0 else 0.0
    # Nothing judged, or a gradient of exactly zero: nothing resolved either.
    resolution = norm_e / denominator if denominator > 0 else math.inf
    scale = float(sums.gn[k] / sums.n2[k]) if sums.n2[k] > 0 else None
    if k in evidence.missing:      # a forgotten gradient is a bug, whatever the numbers
        return finding(Verdict.FAIL, difference, scale, resolution,
                       f"{key}: missing from the gradients")
    if norm_diff > allowed_gap(norm_g, norm_n, norm_e, evidence.threshold):
        k_fit = scale or 0.0
        residual = math.sqrt(max(sums.g2[k] - 2 * k_fit * sums.gn[k] + k_fit**2 * sums.n2[k],
                                 0.0))
        span = slice(evidence.layout.offsets[k], evidence.layout.offsets[k + 1])
        transposed = evidence.judged[span].all() and is_transposed(
            evidence.analytic[span].reshape(evidence.layout.shapes[k]),
            evidence.numerical[span].reshape(evidence.layout.shapes[k]),
            allowed_gap(norm_g, norm_n, norm_e, evidence.threshold))
        diagnosis = (transposed_diagnosis(key) if transposed
                     else diagnose_mismatch(key, norm_g, norm_n, norm_e, scale, residual,
                                            evidence.threshold, evidence.layout.sizes[k]))
        return finding(Verdict.FAIL, difference, scale, resolution, diagnosis)
    informative = resolution <= evidence.noise_limit
    norm_excluded = math.sqrt(sums.excluded_g2[k])
    # What is negligible beside the whole gradient (or anything, at a stationary point).
    small = evidence.noise_limit * whole.scale
    # Zero within about three error bars, and those bars negligible: a dead unit, a flat
    # direction, a stationary point, not a noisy estimate.
    negligible = norm_e <= small or whole.zero
    zero = denominator <= _ZERO_BARS * norm_e and negligible
    if norm_excluded > norm_g and norm_excluded > small:
        verdict = Verdict.INCONCLUSIVE
        diagnosis = (f"{key}: the excluded coordinates ({_counts(excluded)}) carry most "
                     "of this block's gradient, so what remains cannot vouch for it")
    elif informative:
        verdict, diagnosis = Verdict.PASS, f"{key} matches"
    elif sampled and (zero or not sums.judged[k]):
        # A sample vouches only for what it saw: here, nothing.
        verdict = Verdict.INCONCLUSIVE
        diagnosis = (f"{key}: the {int(sums.evaluated[k])} sampled coordinates carry none of "
                     "this block's gradient (zero within the error bars, or excluded), so "
                     "they cannot vouch for it; check more coordinates (a larger sample, "
                     "or sample=None)")
    elif not sums.judged[k]:
        verdict = Verdict.PASS
        diagnosis = (f"{key}: every coordinate excluded ({_counts(excluded)}), none "
                     "carrying unverified gradient")
    elif zero:
        verdict = Verdict.PASS
        diagnosis = (f"{key} is zero within the error bars here (a scaling bug in "
                     "this block could not show at this point)")
    else:
        verdict = Verdict.INCONCLUSIVE
        diagnosis = (f"{key}: numerical error too large to judge (resolution "
                     f"{resolution:.2g} > noise_limit {evidence.noise_limit:g})")
    return finding(verdict, difference, scale, resolution, diagnosis, informative)


def allowed_gap(norm_analytic: float, norm_numerical: float, norm_error: float,
                threshold: float) -> float:
    """The rule's tolerance: a block (or the whole vector) FAILs when ``||g - n||``
    exceeds ``threshold * (||g|| + ||n||) + ||e||``.

    >>> allowed_gap(3.0, 1.0, 0.5, 0.25)
    1.5
    """
    return threshold * (norm_analytic + norm_numerical) + norm_error


def _worst_entries(evidence: Evidence) -> list[tuple[Entry, ...]]:
    """For each block, its judged coordinates with the largest ``|g - n|`` (NaN first)."""
    layout = evidence.layout
    where = np.flatnonzero(evidence.judged)
    with np.errstate(invalid="ignore"):
        gap = np.abs(evidence.analytic[where] - evidence.numerical[where])
    gap = np.where(np.isnan(gap), np.inf, gap)
    order = where[np.lexsort((-gap, layout.block_ids[where]))]
    ids, order = layout.block_ids[order], order.tolist()
    analytic, numerical, error = (evidence.analytic.tolist(), evidence.numerical.tolist(),
                                  evidence.error.tolist())
    entries = []
    for k, shape in enumerate(layout.shapes):
        lo, hi = np.searchsorted(ids, (k, k + 1)).tolist()
        top = order[lo:min(hi, lo + WORST_SHOWN)]
        local = np.asarray(top, dtype=np.int64) - layout.offsets[k]
        inner = zip(*(axis.tolist() for axis in np.unravel_index(local, shape)))
        entries.append(tuple(Entry(index, analytic[i], numerical[i], error[i])
                             for i, index in zip(top, inner)))
    return entries


def _largest_differences(evidence: Evidence) -> list[tuple[float, float]]:
    """For each block, the largest ``|g - n|`` and ``|g - n| / |n|`` over its judged
    coordinates (numpy.testing's "max absolute / relative difference"); NaN if none."""
    layout = evidence.layout
    with np.errstate(invalid="ignore", divide="ignore"):
        gap = np.abs(evidence.analytic - evidence.numerical)
        relative = gap / np.abs(evidence.numerical)
    relative = np.where(gap == 0, 0.0, relative)
    found = []
    for k in range(len(layout.names)):
        span = slice(layout.offsets[k], layout.offsets[k + 1])
        judged = evidence.judged[span]
        if not judged.any():
            found.append((math.nan, math.nan))
            continue
        found.append((float(np.max(gap[span][judged])), float(np.max(relative[span][judged]))))
    return found


def _excluded_counts(evidence: Evidence) -> list[dict[str, int]]:
    """For each block, how many coordinates were excluded, by reason."""
    mask = evidence.excluded
    counts: list[dict[str, int]] = [{} for _ in evidence.layout.names]
    for block, reason in zip(evidence.layout.block_ids[mask].tolist(),
                             evidence.exclusion[mask].tolist()):
        name = Exclusion(reason).label
        counts[block][name] = counts[block].get(name, 0) + 1
    return counts


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{reason} {count}" for reason, count in counts.items())


def non_finite_gradient(finding: BlockFinding, values: np.ndarray, shape: tuple[int, ...]
                        ) -> BlockFinding | None:
    """A block whose analytic gradient ``values`` (flat, of the block's ``shape``) holds
    a NaN or inf FAILs, whatever the numerical side says: the finding that says so, its
    first such entry as the worst; None when every value is finite."""
    finite = np.isfinite(values)
    if finite.all():
        return None
    where = int(np.argmin(finite))
    index = tuple(int(i) for i in np.unravel_index(where, shape))
    bad = float(values[where])
    return replace(finding, verdict=Verdict.FAIL, worst=(Entry(index, bad, math.nan, math.inf),),
                   diagnosis=_non_finite_diagnosis(finding.gradient_key, bad, index,
                                                   int((~finite).sum())))


def _non_finite_diagnosis(key: str, value: float, index: tuple[int, ...], count: int) -> str:
    return (f"{key} has {value} at {index} ({count} non-finite values): the backprop "
            "overflowed or divided by zero")
