"""Wording shared by the renderers (and by ``.ci/mutmut_report.py``): numbers,
headline sentences and Markdown that survives any text.

Renderers only read a :class:`~gcverify.mutation.results.CampaignResult`: outcome
labels live on :class:`~gcverify.mutation.results.Outcome` itself.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gcverify.mutation.results import CampaignResult, MutantResult

__all__ = [
    "fenced_block",
    "headline",
    "headline_tone",
    "inline_code",
    "markdown_cell",
    "markdown_text",
    "percent",
    "rate",
    "scientific",
    "stopped_note",
]

# Characters with a meaning in Markdown inline text (code spans, emphasis, links, table
# cells, strikethrough, escapes), and what may open a block at the start of a line.
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_\[\]|~])")
_LIST_NUMBER = re.compile(r"^(\d+)([.)])")
_LINE_BREAKS = re.compile(r"\s*[\r\n]+\s*")

def percent(value: float | None) -> str:
    """``100.0 %``, or ``n/a``.

    >>> percent(0.5), percent(None)
    ('50.0 %', 'n/a')
    """
    return "n/a" if value is None else f"{100 * value:.1f} %"


def rate(result: MutantResult) -> str:
    """The detection rate as ``detected/run``, or ``-``."""
    return f"{result.failing_examples}/{len(result.runs)}" if result.runs else "-"


def scientific(value: float | None) -> str:
    """``0.285``, ``3.33e-01`` style: 3 significant digits, or ``-``.

    >>> scientific(0.2850931567761623), scientific(None)
    ('0.285', '-')
    """
    return "-" if value is None else f"{value:.3g}"


def headline(result: CampaignResult) -> str:
    """The verdict in one sentence; a campaign that Ctrl-C (or a lost executor) stopped
    says so first, and how far it got, so that a partial score never reads as a final
    one.

    >>> from types import SimpleNamespace
    >>> from gcverify.mutation.results import Counts
    >>> headline(SimpleNamespace(counts=Counts.of([]), survivors=(), score=None,
    ...                          interrupted=True, lost=None, not_run=(1, 2, 3)))
    'Interrupted before any mutant finished (0 of 3 run): no score.'
    """
    counts = result.counts
    detected = counts.judged - len(result.survivors)
    survived = (f"; {len(result.survivors)} survived" if result.survivors
                else "; no mutant survived")
    unreached = counts.as_dict().get("not_reached", 0)
    if unreached:
        survived += f"; {unreached} not reached by the examples"
    if result.interrupted or result.lost:
        stopped = "Interrupted" if result.interrupted else f"Stopped ({result.lost})"
        planned = counts.total + len(result.not_run)
        if counts.total == 0:
            return f"{stopped} before any mutant finished (0 of {planned} run): no score."
        return (f"{stopped} after {counts.total} of {planned} mutants: score so far "
                f"{percent(result.score)}, {detected} of {counts.judged} non-equivalent "
                f"mutants detected{survived}.")
    return (f"Score {percent(result.score)}: {detected} of {counts.judged} non-equivalent "
            f"mutants detected{survived}.")


def stopped_note(result: CampaignResult) -> str:
    """Why the figures are partial ("" for a campaign that ran to the end).

    >>> from types import SimpleNamespace
    >>> print(stopped_note(SimpleNamespace(
    ...     interrupted=False, lost="lost the Dask scheduler at tcp://10.0.0.5:8786",
    ...     not_run=(1, 2), counts=SimpleNamespace(total=9))))
    Stopped: lost the Dask scheduler at tcp://10.0.0.5:8786. 2 mutants were not run; the
    figures cover the 9 that finished.
    """
    if not (result.interrupted or result.lost):
        return ""
    why = "Interrupted." if result.interrupted else f"Stopped: {result.lost}."
    return (f"{why} {len(result.not_run)} mutants were not run; the figures cover the "
            f"{result.counts.total} that finished.")


def headline_tone(result: CampaignResult) -> str:
    """``"bad"`` when a mutant survived, ``"warn"`` when the campaign was stopped early
    (its figures are partial), else ``"ok"``.

    >>> from types import SimpleNamespace
    >>> headline_tone(SimpleNamespace(survivors=(), interrupted=True, lost=None))
    'warn'
    """
    if result.survivors:
        return "bad"
    return "warn" if result.interrupted or result.lost else "ok"


# --- Markdown, shared with .ci/mutmut_report.py ---------------------------------------------

def markdown_cell(text: str) -> str:
    """Markdown (such as an :func:`inline_code` span) that is safe inside a table cell:
    its ``|`` cannot end the cell, nor a line break the row.

    >>> markdown_cell("a|b")
    'a\\\\|b'
    """
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def markdown_text(text: str) -> str:
    """Text from code or a campaign, safe anywhere in Markdown (a paragraph, a heading,
    a table cell): one line, its Markdown punctuation backslash-escaped and ``<``,
    ``>``, ``&`` written as HTML entities, so that no renderer finds a tag, a link, a
    code span, a list or a cell border in it.

    >>> print(markdown_text("raise E('</details><script>') | *x*"))
    raise E('&lt;/details&gt;&lt;script&gt;') \\| \\*x\\*
    >>> print(markdown_text("# 1 of 2"), markdown_text("1. first"))
    \\# 1 of 2 1\\. first
    """
    line = _LINE_BREAKS.sub(" ", text).strip()
    line = _MARKDOWN_PUNCTUATION.sub(r"\\\1", line)
    line = line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if line[:1] in ("#", "+", "-", "="):
        return "\\" + line
    return _LIST_NUMBER.sub(r"\1\\\2", line, count=1)


def inline_code(text: str) -> str:
    """An inline code span that no backtick run (nor a line break) in ``text`` ends
    early; what is inside is never read as Markdown or HTML.

    >>> inline_code("x = `y`")
    '`` x = `y` ``'
    >>> inline_code("a ``b`` </details>")
    '```a ``b`` </details>```'
    """
    text = _LINE_BREAKS.sub(" ", text)
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def fenced_block(text: str, language: str = "") -> list[str]:
    """A fenced code block (as lines) whose fence does not occur in ``text``, so that no
    line of it can close the block.

    >>> fenced_block("a ``` b", "diff")
    ['````diff', 'a ``` b', '````']
    """
    fence = "```"
    while fence in text:
        fence += "`"
    return [f"{fence}{language}", text, fence]
