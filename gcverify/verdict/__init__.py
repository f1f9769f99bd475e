"""From analytic and numerical gradients, with error bars, to verdicts and diagnoses.

The rules, for the judged coordinates of a block (and, the same way, of the whole
vector), with ``g`` analytic, ``n`` numerical and ``e`` the error bars:

* **FAIL** when ``|g - n| > threshold * (|g| + |n|) + |e|``: a mismatch beyond the
  threshold that the estimated numerical error cannot explain. Non-finite analytic
  values, and a block missing from the gradients, are a FAIL too.
* **INCONCLUSIVE** when the excluded coordinates (kinks, rough or non-finite costs)
  carry most of the block's gradient, when the error bars are too large to see a
  mismatch (``|e| / (|g| + |n|) > noise_limit``) and the block is not zero (below), or
  when a sample (``sample=k``) carries none of the block's gradient.
* **PASS** otherwise. A block whose gradient is zero within about three error bars,
  those bars being negligible beside the whole gradient (a dead unit, a flat
  direction), passes but is marked uninformative: a scaling bug there could not show
  at this point. If no block is informative, the whole check is INCONCLUSIVE.

The overall verdict (:func:`overall_verdict`) is FAIL when a block, or the whole
vector, FAILs; else INCONCLUSIVE when a cost was not finite, a block is INCONCLUSIVE,
nothing was judged, or no block is informative (a stationary point); else PASS. Each
verdict comes with the sentences that explain it.

Norms are Euclidean; the formula ``|g - n| / (|g| + |n|)`` is the notebook's.

Every verdict rule lives in this package: :mod:`~gcverify.verdict.evidence` holds what
the judge reads, :mod:`~gcverify.verdict.blocks` the block rules and
:mod:`~gcverify.verdict.overall` the whole check's, with the sentences that explain it
(also when nothing numerical could be judged, or localisation found more).

>>> import numpy as np
>>> from gcverify.params import ParamLayout
>>> layout = ParamLayout.from_parameters({"W1": np.ones((1, 2))})
>>> evidence = Evidence(layout, np.array([1.0, -1.0]), np.array([1.0, -1.0]), np.zeros(2),
...                     np.full(2, NOT_EXCLUDED), np.ones(2, dtype=bool), 2e-7, 0.1)
>>> overall_verdict(evidence, judge(evidence))[0].name
'PASS'
"""

from gcverify.verdict.blocks import (
    WORST_SHOWN,
    Whole,
    allowed_gap,
    judge_blocks,
    judge_whole,
    non_finite_gradient,
)
from gcverify.verdict.evidence import NOT_EXCLUDED, Evidence, Exclusion, excluded_totals
from gcverify.verdict.overall import (
    Judgement,
    judge,
    localised_verdict,
    mismatch_reason,
    overall_verdict,
    verdict_without_numbers,
)

__all__ = [
    "NOT_EXCLUDED",
    "WORST_SHOWN",
    "Evidence",
    "Exclusion",
    "Judgement",
    "Whole",
    "allowed_gap",
    "excluded_totals",
    "judge",
    "judge_blocks",
    "judge_whole",
    "localised_verdict",
    "mismatch_reason",
    "non_finite_gradient",
    "overall_verdict",
    "verdict_without_numbers",
]
