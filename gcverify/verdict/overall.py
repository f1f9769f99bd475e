"""The overall verdict: the whole check's FAIL, INCONCLUSIVE or PASS from its blocks', with
the sentences that explain it, most important first (the rules are stated in
:mod:`gcverify.verdict`).

>>> from gcverify.params import ParamLayout
>>> from gcverify.verdict.evidence import NOT_EXCLUDED
>>> layout = ParamLayout.from_parameters({"W1": np.ones((1, 2)), "b1": np.ones((1, 1))})
>>> evidence = Evidence(layout, np.array([2.0, 2.0, 1.0]), np.ones(3), np.zeros(3),
...                     np.full(3, NOT_EXCLUDED), np.ones(3, dtype=bool), 2e-7, 0.1)
>>> verdict, why = overall_verdict(evidence, judge(evidence))
>>> verdict.name, why[0]
('FAIL', '1 of 2 blocks mismatch: dW1 ≈ 2.000 × numerical (scaling bug)')
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from gcverify.coverage import coverage_note
from gcverify.result import BlockFinding, Verdict
from gcverify.verdict.blocks import Whole, judge_blocks, judge_whole
from gcverify.verdict.evidence import Evidence, Exclusion, excluded_totals

__all__ = ["Judgement", "judge", "localised_verdict", "mismatch_reason", "overall_verdict",
           "verdict_without_numbers"]


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
    tiny_step = int(np.sum(evidence.evaluated & (evidence.exclusion == Exclusion.STEP)))
    notes = _notes(evidence, findings, whole, failing=judgement.failed)
    if failed:
        return Verdict.FAIL, [mismatch_reason(failed, len(findings)), *notes]
    if whole.fails:
        why = (f"the whole gradient's difference {whole.difference:.4g} exceeds "
               f"{evidence.threshold:g} beyond the numerical error, though no single block does")
        return Verdict.FAIL, [why, *notes]
    if tiny_step:
        why = (f"the step is too small: theta + step rounds to theta (or to a step more than "
               f"1 % off) for {tiny_step} coordinates, where nothing can be measured; use the "
               "default step (epsilon=None) or a larger epsilon")
        return Verdict.INCONCLUSIVE, [why, *notes]
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


def mismatch_reason(failed: Sequence[BlockFinding], blocks: int) -> str:
    """The sentence that heads a FAIL: how many of the ``blocks`` mismatch, and how."""
    return f"{len(failed)} of {blocks} blocks mismatch: " + "; ".join(
        b.diagnosis for b in failed)


def verdict_without_numbers(judgement: Judgement, why: str
                            ) -> tuple[Verdict, dict[str, BlockFinding], list[str]]:
    """The verdict of a check that could judge nothing numerical, for the reason ``why``
    (a non-deterministic cost, say): a block FAILs only where that needs no numbers (a
    missing gradient), every other block is INCONCLUSIVE, and so is the whole check
    unless a block FAILs."""
    findings = {name: block if block.verdict is Verdict.FAIL else replace(
        block, verdict=Verdict.INCONCLUSIVE,
        diagnosis=f"{block.gradient_key}: not judged ({why.partition(':')[0]})")
        for name, block in judgement.findings.items()}
    failed = [b for b in findings.values() if b.verdict is Verdict.FAIL]
    if not failed:
        return Verdict.INCONCLUSIVE, findings, [why]
    return Verdict.FAIL, findings, [mismatch_reason(failed, len(findings)), why]


def localised_verdict(judgement: Judgement, findings: Mapping[str, BlockFinding],
                      verdict: Verdict, why: list[str]) -> tuple[Verdict, list[str]]:
    """The overall verdict once localisation has looked inside the blocks: a block it
    found failing (a non-finite entry, a transposed block) makes the check FAIL, and its
    diagnosis heads the reasons, in place of the blocks' first headline."""
    failed = [f for f in findings.values() if f.verdict is Verdict.FAIL]
    if not failed:
        return verdict, why
    blocks_failed = any(b.verdict is Verdict.FAIL for b in judgement.findings.values())
    rest = why[1:] if blocks_failed else why
    return Verdict.FAIL, [mismatch_reason(failed, len(findings)), *rest]


def _notes(evidence: Evidence, findings: Mapping[str, BlockFinding], whole: Whole, *,
           failing: bool) -> list[str]:
    notes = []
    totals = excluded_totals(evidence)
    if totals:
        counts = ", ".join(f"{reason} {count}" for reason, count in totals.items())
        notes.append(f"{sum(totals.values())} coordinates excluded ({counts}): their "
                     "finite differences are not derivatives")
    at_kinks = int(np.sum(evidence.at_kinks))
    if at_kinks:
        notes.append(f"{at_kinks} coordinates at kinks, judged by the one-sided derivative "
                     "backprop takes there")
    difference = whole.difference
    if not failing and math.isfinite(difference) and difference > evidence.threshold:
        notes.append(f"the difference {difference:.3g} exceeds {evidence.threshold:g} but is "
                     f"within the estimated numerical error ({whole.resolution:.2g} relative)")
    quiet = [b.gradient_key for b in findings.values()
             if b.verdict is Verdict.PASS and not b.informative]
    if quiet:
        notes.append(f"zero within the error bars here, so unverified at this point: "
                     f"{', '.join(quiet)}")
    return notes + coverage_note(findings.values())

