"""``report.html``: one self-contained page (inline style, no script, no other file).

Every piece of code or text from the campaign is escaped. Survivors come first, each
with its diff; then the probably-equivalent mutants; then every mutant, one row each,
its diff and evidence folded in a ``<details>`` element.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from gcverify.mutation.results import Outcome
from gcverify.report.wording import (
    headline,
    headline_tone,
    percent,
    rate,
    scientific,
    stopped_note,
)

if TYPE_CHECKING:
    from gcverify.mutation.results import CampaignResult, KillingExample, MutantResult

__all__ = ["render_html"]

_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; color: #1b1f24; margin: 0; background: #f6f8fa; }
main { max-width: 1100px; margin: 0 auto; padding: 24px; background: #fff; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #d0d7de; }
.where { color: #57606a; margin-top: 0; }
.headline { font-size: 1.15em; font-weight: 600; padding: 10px 14px; border-radius: 6px; }
.headline.ok { background: #dafbe1; }
.headline.bad { background: #ffebe9; }
.headline.warn { background: #fff8c5; }
.note { background: #fff8c5; padding: 8px 12px; border-radius: 6px; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
code, pre { font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; }
pre.diff { background: #f6f8fa; padding: 8px; overflow-x: auto; margin: 6px 0; }
.diff .add { color: #116329; background: #dafbe1; }
.diff .del { color: #82071e; background: #ffebe9; }
.diff .hunk { color: #8250df; }
.diff .file { color: #57606a; }
.outcome { font-weight: 600; white-space: nowrap; }
.killed .outcome { color: #1a7f37; }
.killed_by_error .outcome { color: #9a6700; }
.timeout .outcome { color: #9a6700; }
.survived .outcome { color: #cf222e; }
.equivalent .outcome { color: #57606a; }
section.mutant { border-left: 4px solid #d0d7de; padding-left: 12px; margin: 14px 0; }
section.survived { border-color: #cf222e; }
summary { cursor: pointer; }
"""


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _diff(text: str) -> str:
    rows = []
    for line in text.splitlines():
        kind = ("file" if line.startswith(("---", "+++")) else "hunk" if line.startswith("@@")
                else "add" if line.startswith("+") else "del" if line.startswith("-") else "")
        rows.append(f'<span class="{kind}">{_e(line)}</span>' if kind else _e(line))
    return '<pre class="diff">' + "\n".join(rows) + "</pre>"


def _killing(example: KillingExample | None) -> str:
    if example is None:
        return ""
    columns = (f"columns {', '.join(map(str, example.columns))} of its {example.batch_size}"
               if example.shrunk else f"all {example.batch_size} columns")
    return (f"<p>First kill: example {example.index} ({_e(columns)}), difference "
            f"{_e(scientific(example.difference))}: {_e(example.diagnosis)}.</p>")


def _details(result: MutantResult) -> str:
    return (f"{_diff(result.mutant.diff)}<p>{_e(result.evidence)}</p>"
            f"{_killing(result.killing_example)}")


def _section(result: MutantResult) -> str:
    mutant = result.mutant
    return (f'<section class="mutant {_e(result.outcome.value)}"><h3><code>{_e(mutant.id)}'
            f"</code>: {_e(mutant.description)} (line {mutant.line})</h3>"
            f"{_details(result)}</section>")


def _row(result: MutantResult) -> str:
    mutant = result.mutant
    return (f'<tr class="{_e(result.outcome.value)}">'
            f"<td><details><summary><code>{_e(mutant.id)}</code></summary>"
            f"{_details(result)}</details></td>"
            f'<td class="n">{mutant.line}</td><td>{_e(mutant.family)}</td>'
            f"<td>{_e(mutant.description)}</td>"
            f'<td class="outcome">{_e(result.outcome.label)}</td>'
            f'<td class="n">{_e(rate(result))}</td>'
            f'<td class="n">{_e(scientific(result.difference))}</td></tr>')


def render_html(result: CampaignResult) -> str:
    """``report.html``'s text.

    >>> from gcverify.mutation import mutate_function, notebook_target, run_campaign
    >>> target = notebook_target()
    >>> pick = [m for m in mutate_function(target.backward) if m.description == "db1 × 4"]
    >>> page = render_html(run_campaign(target, examples=2, mutants=pick, jobs=1))
    >>> page.startswith("<!DOCTYPE html>") and "np.sum(dZ1, axis=1, keepdims=True) * 4" in page
    True
    """
    target, counts = result.target, result.counts
    options = result.check_options
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"/>',
        f"<title>gcverify mutation report: {_e(target.function_names)}</title>",
        f"<style>{_STYLE}</style></head><body><main>",
        f"<h1>Mutation testing of <code>{_e(target.function_names)}</code></h1>",
        f'<p class="where"><code>{_e(target.source.path)}</code>, line '
        f"{target.source.first_line}, checked against <code>{_e(target.forward_name)}</code>"
        "</p>",
        f'<p class="headline {headline_tone(result)}">{_e(headline(result))}</p>',
    ]
    if note := stopped_note(result):
        parts.append(f'<p class="note">{_e(note)}</p>')
    outcome_rows = [*((outcome.description, counts[outcome]) for outcome in Outcome),
                    ("total", counts.total)]
    parts.append("<table><tr><th>outcome</th><th>mutants</th></tr>" + "".join(
        f'<tr><td>{_e(label)}</td><td class="n">{value}</td></tr>'
        for label, value in outcome_rows) + "</table>")
    parts.append(
        f"<p>Score = detected / (total − equivalent − not reached) = "
        f"{_e(percent(result.score))}; the "
        f"gradient check alone caught {_e(percent(result.check_score))} of the mutants that "
        f"ran without error. Each mutant was checked with <code>check_backprop</code> "
        f"(threshold {_e(options.threshold)}, method {_e(options.method)}) on "
        f"{result.n_examples} examples: {_e(target.example_description)}. Seed "
        f"{_e(result.seed)}, gcverify {_e(result.tool_version)}.</p>")
    parts.append("<h2>By operator family</h2><table><tr><th>family</th><th>mutants</th>"
                 "<th>killed</th><th>by error</th><th>timeout</th><th>survived</th>"
                 "<th>not reached</th><th>equivalent</th><th>score</th></tr>")
    for family, row in result.families.items():
        cells = "".join(f'<td class="n">{count}</td>'
                        for count in (row.total, *(row[outcome] for outcome in Outcome)))
        parts.append(f"<tr><td>{_e(family)}</td>{cells}"
                     f'<td class="n">{_e(percent(row.score))}</td></tr>')
    parts.append("</table><h2>Survivors</h2>")
    if result.survivors:
        parts += [_section(r) for r in result.survivors]
    else:
        parts.append("<p>None: the check caught every mutant that changes the gradient.</p>")
    if result.not_reached:
        parts.append("<h2>Not reached by the examples</h2><p>Their gradients differ from "
                     "the original's only where the examples' gradient is zero (dead "
                     "units): the examples cannot show these bugs. They are left out of "
                     "the score; add examples that reach them.</p>")
        parts += [_section(r) for r in result.not_reached]
    if result.equivalents:
        parts.append("<h2>Probably equivalent</h2><p>Their gradients equal the original's "
                     "within rounding on every example; they are left out of the score.</p>")
        parts += [_section(r) for r in result.equivalents]
    parts.append(f"<h2>All {counts.total} mutants</h2><table><tr><th>mutant</th>"
                 "<th>line</th><th>family</th><th>change</th><th>outcome</th>"
                 "<th>detection</th><th>difference</th></tr>")
    parts += [_row(r) for r in result.results]
    parts.append("</table></main></body></html>")
    return "\n".join(parts) + "\n"
