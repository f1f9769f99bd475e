"""The text report of a gradient check: what ``str(result)`` prints.

>>> from gcverify import check_backprop
>>> from gcverify.models import notebook as nb
>>> X, Y, p = nb.gradient_check_n_test_case()
>>> result = check_backprop(nb.forward_propagation_n, nb.backward_propagation_n, X, Y, p)
>>> report_lines(result)[0], format_number(0.2850931567761623), format_number(1.2e-7)
('Gradient check: PASS', '0.285093', '1.2000e-07')
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

from gcverify.numdiff import COMPLEX_STEP, DEFAULT_STEP

if TYPE_CHECKING:
    from gcverify.result import BlockFinding, GradCheckResult

__all__ = ["format_number", "report_lines"]


def report_lines(result: GradCheckResult) -> list[str]:
    """The lines of ``str(result)``: header, mismatched blocks, the block table, the
    certificates and the reasons."""
    excluded = sum(result.excluded.values())
    lines = [
        f"Gradient check: {result.verdict}",
        f"  threshold {result.threshold:g} | method {result.method} | step "
        f"{_describe_step(result.options.epsilon, result.method)} | "
        f"{result.evaluator} evaluation",
        f"  {result.n_coordinates} coordinates, {result.n_judged} judged"
        + (f" ({result.n_at_kinks} at kinks, by one-sided derivatives)"
           if result.n_at_kinks else "") + f", {excluded} excluded"
        + (f" ({_counts(result.excluded)})" if excluded else ""),
        f"  difference {format_number(result.difference)} (the notebook's formula over the "
        "judged coordinates)",
    ]
    if result.mode == "directional":
        lines[2:4] = [
            f"  mode directional: {result.n_coordinates} coordinates, {result.n_judged} "
            "directions judged (random; unit vectors in blocks no larger than "
            f"{result.options.directions})" + (f" ({result.n_at_kinks} at kinks)"
                                           if result.n_at_kinks else "")
            + f", {excluded} excluded" + (f" ({_counts(result.excluded)})"
                                          if excluded else ""),
            f"  difference {format_number(result.difference)} (the notebook's formula over the "
            "projections g·v and their numerical estimates; 'judged' counts directions)",
        ]
    if result.options.sample is not None:
        shares = ", ".join(f"{b.gradient_key} {_share(b.gradient_share)}"
                           for b in result.blocks.values())
        lines.append(f"  sampled: up to {result.options.sample} coordinates per block, "
                     f"picked by |g|; share of each block's gradient norm checked: "
                     f"{shares}")
    bad = result.mismatched
    if bad:
        lines += ["", f"Mismatched blocks: {len(bad)} / {len(result.blocks)}"]
        for block in bad:
            lines += _block_failure_lines(block, result.mode)
    lines += ["", "Blocks:", _block_table_header()]
    lines += [_block_table_row(block) for block in result.blocks.values()]
    if any(not block.informative and block.judged for block in result.blocks.values()):
        lines.append("  * error bars wider than noise_limit: a mismatch this small "
                     "could not show")
    lines += ["", "What this check would have caught (at this point, with these error "
              "bars):"]
    lines += [f"  {block.certificate_line()}" for block in result.blocks.values()]
    if result.reasons:
        lines += ["", "Reasons:"] + [f"  - {reason}" for reason in result.reasons]
    return lines


def _share(value: float) -> str:
    return "-" if not math.isfinite(value) else f"{value:.3g}"


def format_number(value: float | None) -> str:
    """Six significant digits, or four in exponent form below 1e-3 (the notebook's
    differences, ``1.1891e-07``)."""
    if value is None or not math.isfinite(value):
        return str(value)
    return f"{value:.6g}" if value >= 1e-3 or value == 0 else f"{value:.4e}"


def _describe_step(epsilon: float | None, method: str) -> str:
    central = f"{epsilon:g}" if epsilon is not None else f"{DEFAULT_STEP:.3g} × max(1, |θ|)"
    if method == "complex":
        return f"{COMPLEX_STEP:g}i (central {central} for kinks and error bars)"
    return central


def _percent(share: float) -> str:
    return f"{share:.0%}" if math.isfinite(share) else "-"


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{reason} {count}" for reason, count in counts.items() if count)


def _block_failure_lines(block: BlockFinding, mode: str = "coordinates") -> list[str]:
    judged = (f"{block.judged} directions judged, worst entries localised"
              if mode == "directional" else
              f"{block.judged} of {block.size} coordinates judged")
    lines = [f"  {block.gradient_key}: difference {format_number(block.difference)}, {judged}",
             f"    {'index':<12} {'analytic':>24} {'numerical':>24}"]
    for entry in block.worst:
        lines.append(f"    {entry.index!s:<12} {entry.analytic!r:>24} {entry.numerical!r:>24}")
    if math.isfinite(block.max_absolute):
        lines += [f"    Max absolute difference: {block.max_absolute:.6g}",
                  f"    Max relative difference: {block.max_relative:.6g}"]
    lines.append(f"    {block.diagnosis}")
    return lines


def _block_table_header() -> str:
    return (f"  {'block':<8} {'verdict':<13} {'difference':>12} {'scale':>9} "
            f"{'judged':>9} {'resolution':>11} {'coverage':>8}  excluded")


def _block_table_row(block: BlockFinding) -> str:
    scale = "-" if block.scale is None else f"{block.scale:.4g}"
    verdict = str(block.verdict) + ("" if block.informative else "*")
    return (f"  {block.gradient_key:<8} {verdict:<13} {format_number(block.difference):>12} "
            f"{scale:>9} "
            f"{f'{block.judged}/{block.size}':>9} {format_number(block.resolution):>11} "
            f"{_percent(block.coverage):>8}  "
            f"{_counts({**block.excluded, 'one-sided at kink': block.at_kinks}) or '-'}")
