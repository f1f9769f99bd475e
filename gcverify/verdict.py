"""From analytic and numerical gradients, with error bars, to verdicts and diagnoses.

The rules, for the judged coordinates of a block (and, the same way, of the whole
vector), with ``g`` analytic, ``n`` numerical and ``e`` the error bars:

* **FAIL** when ``|g - n| > threshold * (|g| + |n|) + |e|``: a mismatch beyond the
  threshold that the estimated numerical error cannot explain. Non-finite analytic
  values are a FAIL too.
* **INCONCLUSIVE** when the excluded coordinates (kinks, rough or non-finite costs)
  carry most of the block's gradient, or when the error bars are too large to see a
  mismatch (``|e| / (|g| + |n|) > noise_limit``) and the block is not zero (below).
* **PASS** otherwise. A block whose gradient is zero within about three error bars,
  those bars being negligible beside the whole gradient (a dead unit, a flat
  direction), passes but is marked uninformative: a scaling bug there could not show
  at this point. If no block is informative, the whole check is INCONCLUSIVE.

The overall verdict (:func:`overall_verdict`) is FAIL when a block, or the whole
vector, FAILs; else INCONCLUSIVE when a cost was not finite, a block is INCONCLUSIVE,
nothing was judged, or no block is informative (a stationary point); else PASS. Each
verdict comes with the sentences that explain it.

Norms are Euclidean; the formula ``|g - n| / (|g| + |n|)`` is the notebook's.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from gcverify.params import ParamLayout, gradient_key
from gcverify.result import BlockFinding, Entry, Verdict

__all__ = [
    "NOT_EXCLUDED",
    "Evidence",
    "Exclusion",
    "Judgement",
    "Whole",
    "excluded_totals",
    "format_factor",
    "judge",
    "judge_blocks",
    "judge_whole",
    "overall_verdict",
]


class Exclusion(enum.IntEnum):
    """Why a coordinate is left out of the verdict; ``label`` is how reports name it.

    The values are the codes stored in :attr:`Evidence.exclusion`.

    >>> Exclusion.KINK.label, int(Exclusion.NONFINITE)
    ('kink', 2)
    """

    KINK = 0
    ROUGH = 1
    NONFINITE = 2

    @property
    def label(self) -> str:
        return _EXCLUSION_LABELS[self]


_EXCLUSION_LABELS = {Exclusion.KINK: "kink", Exclusion.ROUGH: "non-smooth cost",
                     Exclusion.NONFINITE: "non-finite cost"}
#: The exclusion code of a coordinate that is judged.
NOT_EXCLUDED = -1
_WORST_SHOWN = 3
# A block is "zero" when |g| + |n| is within this many error bars of zero.
_ZERO_BARS = 3.0


@dataclass(frozen=True)
class Evidence:
    """Everything the judge reads, as flat vectors in the layout's order.

    ``exclusion[i]`` is :data:`NOT_EXCLUDED` for a judged coordinate, else an
    :class:`Exclusion` code; ``evaluated[i]`` is False for coordinates not sampled;
    ``one_sided[i]`` marks excluded coordinates whose analytic value equals a one-sided
    derivative (a consistent subgradient at a kink): still excluded from the verdict,
    but not counted as unverified gradient.
    """

    layout: ParamLayout
    analytic: np.ndarray
    numerical: np.ndarray
    error: np.ndarray
    exclusion: np.ndarray
    evaluated: np.ndarray
    threshold: float
    noise_limit: float
    one_sided: np.ndarray | None = None

    @property
    def judged(self) -> np.ndarray:
        return self.evaluated & (self.exclusion < 0)


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
    denominator, mismatch, error = _norm(g) + _norm(n), _norm(g - n), _norm(e)
    return Whole(difference=mismatch / denominator if denominator > 0 else 0.0,
                 fails=bool(mismatch > evidence.threshold * denominator + error),
                 resolution=error / denominator if denominator > 0 else math.inf,
                 scale=denominator, error=error)


@dataclass(frozen=True)
class _Sums:
    """Per-block sums over the judged coordinates (and the excluded ones), in one pass."""

    g2: np.ndarray           # sum of g^2
    n2: np.ndarray           # sum of n^2
    gn: np.ndarray           # sum of g n
    diff2: np.ndarray        # sum of (g - n)^2
    e2: np.ndarray           # sum of e^2
    excluded_g2: np.ndarray  # sum of g^2 over the excluded, unverified coordinates
    judged: np.ndarray       # how many judged
    nonfinite: np.ndarray    # how many judged analytic values are not finite


def _sums(evidence: Evidence) -> _Sums:
    blocks, count = evidence.layout.block_ids, len(evidence.layout.names)
    judged = evidence.judged
    finite = np.isfinite(evidence.analytic)
    g = np.where(judged & finite, evidence.analytic, 0.0)
    n = np.where(judged, evidence.numerical, 0.0)
    e = np.where(judged, evidence.error, 0.0)
    excluded = evidence.evaluated & (evidence.exclusion >= 0) & finite
    if evidence.one_sided is not None:
        excluded &= ~evidence.one_sided          # consistent subgradients are not doubt
    gx = np.where(excluded, evidence.analytic, 0.0)

    def per_block(weights: np.ndarray) -> np.ndarray:
        return np.bincount(blocks, weights=weights, minlength=count)

    # bincount reads boolean weights as 0.0 / 1.0: counts need no cast.
    return _Sums(per_block(g * g), per_block(n * n), per_block(g * n), per_block((g - n) ** 2),
                 per_block(e * e), per_block(gx * gx), per_block(judged),
                 per_block(judged & ~finite))


def judge_blocks(evidence: Evidence, whole: Whole | None = None) -> dict[str, BlockFinding]:
    """A :class:`BlockFinding` for every block of the layout."""
    whole = whole or judge_whole(evidence)
    sums = _sums(evidence)
    worst = _worst_entries(evidence)
    excluded = _excluded_counts(evidence)
    return {name: _judge_block(evidence, k, sums, worst[k], excluded[k], whole)
            for k, name in enumerate(evidence.layout.names)}


def _judge_block(evidence: Evidence, k: int, sums: _Sums, worst: tuple[Entry, ...],
                 excluded: dict[str, int], whole: Whole) -> BlockFinding:
    name = evidence.layout.names[k]
    key = gradient_key(name)

    def finding(verdict: Verdict, difference: float, scale: float | None, resolution: float,
                diagnosis: str, informative: bool = True) -> BlockFinding:
        return BlockFinding(name, key, verdict, difference, scale, resolution,
                            evidence.layout.sizes[k], int(sums.judged[k]),
                            MappingProxyType(excluded), worst, diagnosis, informative)

    if sums.nonfinite[k]:
        bad = next(entry for entry in worst if not math.isfinite(entry.analytic))
        return finding(Verdict.FAIL, math.nan, None, math.inf,
                       f"{key} has {bad.analytic} at {bad.index} ({int(sums.nonfinite[k])} "
                       "non-finite values): the backprop overflowed or divided by zero")
    norm_g, norm_n = math.sqrt(sums.g2[k]), math.sqrt(sums.n2[k])
    norm_diff, norm_e = math.sqrt(sums.diff2[k]), math.sqrt(sums.e2[k])
    denominator = norm_g + norm_n
    difference = norm_diff / denominator if denominator > 0 else 0.0
    # Nothing judged, or a gradient of exactly zero: nothing resolved either.
    resolution = norm_e / denominator if denominator > 0 else math.inf
    scale = float(sums.gn[k] / sums.n2[k]) if sums.n2[k] > 0 else None
    if norm_diff > evidence.threshold * denominator + norm_e:
        k_fit = scale or 0.0
        residual = math.sqrt(max(sums.g2[k] - 2 * k_fit * sums.gn[k] + k_fit**2 * sums.n2[k],
                                 0.0))
        return finding(Verdict.FAIL, difference, scale, resolution,
                       _diagnose(key, norm_g, norm_n, norm_e, scale, residual,
                                 evidence.threshold))
    informative = resolution <= evidence.noise_limit
    norm_excluded = math.sqrt(sums.excluded_g2[k])
    # Zero within about three error bars, and those bars negligible beside the whole
    # gradient (or the whole gradient zero too): a dead unit, a flat direction, a
    # stationary point, not a noisy estimate.
    negligible = norm_e <= evidence.noise_limit * whole.scale or whole.zero
    zero = denominator <= _ZERO_BARS * norm_e and negligible
    if norm_excluded > norm_g and norm_excluded > evidence.noise_limit * whole.scale:
        verdict = Verdict.INCONCLUSIVE
        diagnosis = (f"{key}: the excluded coordinates ({_counts(excluded)}) carry most "
                     "of this block's gradient, so what remains cannot vouch for it")
    elif informative:
        verdict, diagnosis = Verdict.PASS, f"{key} matches"
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


def _diagnose(key: str, norm_g: float, norm_n: float, norm_e: float, scale: float | None,
              residual: float, threshold: float) -> str:
    """What kind of mismatch this is, in words a person can act on."""
    if norm_g <= norm_e:
        return f"{key} = 0 while numerical ≠ 0 (missing term)"
    if scale is None or norm_n <= norm_e:
        return f"{key} ≠ 0 while numerical = 0 (spurious term)"
    if residual <= threshold * (norm_g + norm_n) + norm_e + 1e-6 * norm_g:
        if abs(scale + 1) <= 1e-3:
            kind = "sign bug"
        elif scale < 0:
            kind = "sign and scaling bug"
        else:
            kind = "scaling bug"
        return f"{key} ≈ {format_factor(scale)} × numerical ({kind})"
    return (f"{key} does not match numerical, and not by a common factor (best fit "
            f"{format_factor(scale)} ×, leaving {residual / norm_g:.0%} unexplained)")


def format_factor(k: float) -> str:
    """Enough digits to tell ``k`` from 1: ``2.000``, ``1.001``, ``1.00001``.

    >>> format_factor(2.0), format_factor(1.001), format_factor(1.00001)
    ('2.000', '1.00100', '1.000010')
    """
    digits = 3
    if 0 < abs(k - 1) < 1e-2:                # then -log10|k - 1| > 2: at least 3 digits
        digits = math.ceil(-math.log10(abs(k - 1))) + 1
    return f"{k:.{digits}f}"


def _worst_entries(evidence: Evidence) -> list[tuple[Entry, ...]]:
    """For each block, its judged coordinates with the largest ``|g - n|`` (NaN first)."""
    layout = evidence.layout
    where = np.flatnonzero(evidence.judged)
    with np.errstate(invalid="ignore"):
        gap = np.abs(evidence.analytic[where] - evidence.numerical[where])
    gap = np.where(np.isnan(gap), np.inf, gap)
    order = where[np.lexsort((-gap, layout.block_ids[where]))]
    starts = np.searchsorted(layout.block_ids[order], np.arange(len(layout.names) + 1)).tolist()
    order = order.tolist()
    analytic, numerical, error = (evidence.analytic.tolist(), evidence.numerical.tolist(),
                                  evidence.error.tolist())
    entries = []
    for k, shape in enumerate(layout.shapes):
        top = order[starts[k]:min(starts[k + 1], starts[k] + _WORST_SHOWN)]
        local = np.asarray(top, dtype=np.int64) - layout.offsets[k]
        inner = zip(*(axis.tolist() for axis in np.unravel_index(local, shape)))
        entries.append(tuple(Entry(index, analytic[i], numerical[i], error[i])
                             for i, index in zip(top, inner)))
    return entries


def _excluded_counts(evidence: Evidence) -> list[dict[str, int]]:
    """For each block, how many coordinates were excluded, by reason."""
    mask = evidence.evaluated & (evidence.exclusion >= 0)
    counts: list[dict[str, int]] = [{} for _ in evidence.layout.names]
    for block, reason in zip(evidence.layout.block_ids[mask].tolist(),
                             evidence.exclusion[mask].tolist()):
        name = Exclusion(reason).label
        counts[block][name] = counts[block].get(name, 0) + 1
    return counts


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{reason} {count}" for reason, count in counts.items())


# --- the overall verdict ----------------------------------------------------------------

@dataclass(frozen=True)
class Judgement:
    """The whole vector's judgement and every block's finding."""

    whole: Whole
    findings: dict[str, BlockFinding]

    @property
    def failed(self) -> bool:
        """The whole vector or some block FAILs."""
        return self.whole.fails or any(b.verdict is Verdict.FAIL
                                       for b in self.findings.values())


def judge(evidence: Evidence) -> Judgement:
    """Judge the whole vector, then every block against it."""
    whole = judge_whole(evidence)
    return Judgement(whole, judge_blocks(evidence, whole))


def overall_verdict(evidence: Evidence, judgement: Judgement) -> tuple[Verdict, list[str]]:
    """The overall verdict and the sentences that explain it, most important first."""
    whole, findings = judgement.whole, judgement.findings
    failed = [b for b in findings.values() if b.verdict is Verdict.FAIL]
    undecided = [b for b in findings.values() if b.verdict is Verdict.INCONCLUSIVE]
    nonfinite = int(np.sum(evidence.evaluated & (evidence.exclusion == Exclusion.NONFINITE)))
    notes = _notes(evidence, findings, whole, failing=judgement.failed)
    if failed:
        why = (f"{len(failed)} of {len(findings)} blocks mismatch: "
               + "; ".join(b.diagnosis for b in failed))
        return Verdict.FAIL, [why, *notes]
    if whole.fails:
        why = (f"the whole gradient's difference {whole.difference:.4g} exceeds "
               f"{evidence.threshold:g} beyond the numerical error, though no single block does")
        return Verdict.FAIL, [why, *notes]
    if nonfinite:
        why = (f"the cost is not finite at the perturbed points of {nonfinite} coordinates: "
               "a NaN or inf is never a pass")
        return Verdict.INCONCLUSIVE, [why, *notes]
    if undecided:
        return Verdict.INCONCLUSIVE, [*(b.diagnosis for b in undecided), *notes]
    if not evidence.judged.any():
        return Verdict.INCONCLUSIVE, ["no coordinate could be judged", *notes]
    if not any(b.informative for b in findings.values()):
        why = ("the gradient is zero within the error bars in every block (a stationary "
               "point): a mismatch could not show here; check at other parameters")
        return Verdict.INCONCLUSIVE, [why, *notes]
    return Verdict.PASS, notes


def _notes(evidence: Evidence, findings: Mapping[str, BlockFinding], whole: Whole, *,
           failing: bool) -> list[str]:
    notes = []
    totals = excluded_totals(evidence)
    if totals:
        counts = ", ".join(f"{reason} {count}" for reason, count in totals.items())
        notes.append(f"{sum(totals.values())} coordinates excluded ({counts}): their "
                     "finite differences are not derivatives")
    difference = whole.difference
    if not failing and math.isfinite(difference) and difference > evidence.threshold:
        notes.append(f"the difference {difference:.3g} exceeds {evidence.threshold:g} but is "
                     f"within the estimated numerical error ({whole.resolution:.2g} relative)")
    quiet = [b.gradient_key for b in findings.values()
             if b.verdict is Verdict.PASS and not b.informative]
    if quiet:
        notes.append(f"zero within the error bars here, so unverified at this point: "
                     f"{', '.join(quiet)}")
    return notes


def excluded_totals(evidence: Evidence) -> dict[str, int]:
    """How many evaluated coordinates were excluded, by :attr:`Exclusion.label`."""
    codes = evidence.exclusion[evidence.evaluated & (evidence.exclusion >= 0)]
    return {reason.label: int(c) for reason, c in zip(Exclusion, np.bincount(codes)) if c}
