"""Wording shared by the renderers (and by ``.ci/mutmut_report.py``): numbers,
headline sentences and Markdown that survives any text.

Renderers only read a :class:`~gcverify.mutation.results.CampaignResult`: outcome
labels live on :class:`~gcverify.mutation.results.Outcome` itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gcverify.mutation.results import CampaignResult, MutantResult

__all__ = [
    "fenced_block",
    "headline",
    "inline_code",
    "markdown_cell",
    "percent",
    "rate",
    "scientific",
]

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
    """The verdict in one sentence."""
    counts = result.counts
    detected = counts.judged - len(result.survivors)
    text = (f"Score {percent(result.score)}: {detected} of {counts.judged} non-equivalent "
            f"mutants detected")
    if result.survivors:
        text += f"; {len(result.survivors)} survived"
    else:
        text += "; no mutant survived"
    if result.interrupted:
        text += f" (interrupted: {len(result.not_run)} mutants not run)"
    return text + "."


# --- Markdown, shared with .ci/mutmut_report.py ---------------------------------------------

def markdown_cell(text: str) -> str:
    """Text that is safe inside a Markdown table cell.

    >>> markdown_cell("a|b")
    'a\\\\|b'
    """
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def inline_code(text: str) -> str:
    """An inline code span that survives backticks in ``text``.

    >>> inline_code("x = `y`")
    '`` x = `y` ``'
    """
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def fenced_block(text: str, language: str = "") -> list[str]:
    """A fenced code block (as lines) whose fence does not occur in ``text``."""
    fence = "```"
    while fence in text:
        fence += "`"
    return [f"{fence}{language}", text, fence]
