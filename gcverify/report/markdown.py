"""``report.md``: the campaign in Markdown, ready to paste into a pull request.

It states the score and the count of each outcome, a table per operator family, every
survivor and every probably-equivalent mutant with its diff and evidence, and (folded)
one row per mutant. A campaign stopped early (Ctrl-C, a lost Dask scheduler) opens
with a warning, not a score.

Everything that comes from code or from the campaign is escaped: text
(:func:`~gcverify.report.wording.markdown_text`: no tag, link, code span or cell
border can start in it), code spans and fences that nothing inside them can end; a
``</details>`` or ``<script>`` in a mutated line or an error message stays text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gcverify.mutation.results import Outcome
from gcverify.report.wording import (
    fenced_block,
    headline,
    headline_tone,
    inline_code,
    markdown_cell,
    markdown_text,
    percent,
    rate,
    scientific,
    stopped_note,
)

if TYPE_CHECKING:
    from gcverify.mutation.results import CampaignResult, MutantResult

__all__ = ["render_markdown"]


def _why(result: MutantResult) -> str:
    """The shortest evidence: the diagnosis of a kill, the error, or the evidence."""
    if result.killing_example is not None:
        return result.killing_example.diagnosis
    return result.error or result.evidence


def _mutant_block(result: MutantResult) -> list[str]:
    mutant = result.mutant
    return [f"#### {inline_code(mutant.id)}: {markdown_text(mutant.description)} (line "
            f"{mutant.line})", "", markdown_text(result.evidence), "",
            *fenced_block(mutant.diff, "diff"), ""]


def render_markdown(result: CampaignResult) -> str:
    """``report.md``'s text.

    >>> from gcverify.mutation import mutate_function, notebook_target, run_campaign
    >>> target = notebook_target()
    >>> pick = [m for m in mutate_function(target.backward) if m.description == "db1 × 4"]
    >>> text = render_markdown(run_campaign(target, examples=2, mutants=pick, jobs=1))
    >>> print(text.splitlines()[2])
    **Score 100.0 %: 1 of 1 non-equivalent mutants detected; no mutant survived.**
    """
    target, counts = result.target, result.counts
    options = result.check_options
    where = inline_code(target.source.path)
    mutated_functions = ", ".join(f"{inline_code(source.name)} (line {source.first_line})"
                                  for _, source in target.sources)
    lines = [f"## Mutation testing of {inline_code(target.function_names)} ({where})", ""]
    if headline_tone(result) == "warn":
        lines += ["> [!WARNING]", f"> **{markdown_text(headline(result))}**", ""]
    else:
        lines += [f"**{markdown_text(headline(result))}**", ""]
    if note := stopped_note(result):
        why, _, rest = note.partition(". ")   # "Interrupted." in bold, then the figures
        lines += [f"> **{markdown_text(why)}.** {markdown_text(rest)}", ""]
    lines += ["| outcome | mutants |", "|---|---:|"]
    for outcome in Outcome:
        bold = "**" if outcome is Outcome.SURVIVED else ""
        lines.append(f"| {bold}{outcome.description}{bold} | {bold}{counts[outcome]}{bold} |")
    lines += [
        f"| total | {counts.total} |", "",
        f"Score = detected / (total − equivalent − not reached) = {percent(result.score)}; "
        "the gradient "
        f"check alone caught {percent(result.check_score)} of the mutants that ran without "
        "error.", "",
        f"Each mutant of {mutated_functions} was checked against "
        f"{inline_code(target.forward_name)} "
        f"with `check_backprop` (threshold "
        f"{options.threshold}, method {markdown_text(str(options.method))}) on "
        f"{result.n_examples} examples: {markdown_text(target.example_description)}. Seed "
        f"{result.seed}, gcverify {markdown_text(result.tool_version)}.", "",
        "### By operator family", "",
        "| family | mutants | killed | by error | timeout | survived | not reached "
        "| equivalent | score |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for family, row in result.families.items():
        cells = " | ".join(str(count) for count in (row.total, *(row[o] for o in Outcome)))
        lines.append(f"| {markdown_text(family)} | {cells} | {percent(row.score)} |")
    lines += ["", "### Survivors", ""]
    if result.survivors:
        lines += ["The gradients of these mutants differ from the original's, yet the check "
                  "passed them: each is a bug the check misses here.", ""]
        for mutant_result in result.survivors:
            lines += _mutant_block(mutant_result)
    else:
        lines += ["None: the check caught every mutant that changes the gradient.", ""]
    if result.not_reached:
        lines += ["### Not reached by the examples", "",
                  "Their gradients differ from the original's only where the examples' "
                  "gradient is zero (dead units): the examples cannot show these bugs. "
                  "They are left out of the score; add examples that reach them.", ""]
        for mutant_result in result.not_reached:
            lines += _mutant_block(mutant_result)
    equivalents = result.equivalents
    if equivalents:
        lines += ["### Probably equivalent", "",
                  "Their gradients equal the original's within rounding on every example; "
                  "they are left out of the score.", ""]
        for mutant_result in equivalents:
            lines += _mutant_block(mutant_result)
    lines += ["<details>", f"<summary>All {counts.total} mutants</summary>", "",
              "| mutant | line | change | outcome | detection | difference | why |",
              "|---|---:|---|---|---:|---:|---|"]
    for mutant_result in result.results:
        mutant = mutant_result.mutant
        lines.append(
            f"| {markdown_cell(inline_code(mutant.id))} | {mutant.line} "
            f"| {markdown_text(mutant.description)} | {mutant_result.outcome.label} "
            f"| {rate(mutant_result)} | {scientific(mutant_result.difference)} "
            f"| {markdown_text(_why(mutant_result))} |")
    lines += ["", "</details>", ""]
    return "\n".join(lines)

