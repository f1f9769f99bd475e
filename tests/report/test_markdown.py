"""report.md: ready to paste into a pull request."""

from __future__ import annotations

import re

import pytest

from gcverify.report import render_markdown
from gcverify.report.wording import fenced_block, inline_code, markdown_text
from tests.mutation.campaigns import default_campaign, mixed_campaign


def test_the_headline_and_the_outcome_table():
    text = render_markdown(default_campaign())
    lines = text.splitlines()
    assert lines[0] == ("## Mutation testing of `backward_propagation_n` "
                        "(`gcverify/models/notebook.py`)")
    assert lines[2].startswith("**Score 100.0 %: ")
    assert lines[2].endswith("non-equivalent mutants detected; no mutant survived.**")
    assert "| **survived** | **0** |" in lines
    assert "None: the check caught every mutant that changes the gradient." in lines
    assert "### Probably equivalent" in lines


def test_survivors_show_their_diff_and_evidence():
    result = mixed_campaign()
    text = render_markdown(result)
    (survivor,) = result.survivors
    section = text[text.index("### Survivors"):text.index("### Probably equivalent")]
    assert f"#### `{survivor.mutant.id}`" in section
    assert survivor.evidence in section
    assert f"```diff\n{survivor.mutant.diff}\n```" in section


def test_tables_have_one_row_per_family_and_per_mutant():
    result = default_campaign()
    lines = render_markdown(result).splitlines()
    family_rows = [line for line in lines if line.startswith("| ") and line.endswith(" % |")]
    assert len(family_rows) == len(result.families)
    mutant_rows = [line for line in lines if line.startswith("| `")]
    assert len(mutant_rows) == result.counts.total
    # Every row has the header's number of cells, even with | in the text.
    assert all(row.replace("\\|", "").count("|") == 8 for row in mutant_rows)


def test_an_interrupted_campaign_says_so():
    from dataclasses import replace

    result = mixed_campaign()
    partial = replace(result, results=result.results[:2], not_run=tuple(
        r.mutant for r in result.results[2:]), interrupted=True)
    text = render_markdown(partial)
    lines = text.splitlines()
    # A warning first, never a score that reads as final.
    assert lines[2:4] == ["> [!WARNING]", "> **Interrupted after 2 of 7 mutants: score so far "
                                          "100.0 %, 1 of 1 non-equivalent mutants detected; "
                                          "no mutant survived.**"]
    assert not any(line.startswith("**Score") for line in lines)
    assert "> **Interrupted.** 5 mutants were not run; the figures cover the 2 that finished." \
        in text


def test_a_campaign_interrupted_before_any_mutant_finished_says_so():
    from dataclasses import replace

    result = mixed_campaign()
    nothing = replace(result, results=(), not_run=tuple(r.mutant for r in result.results),
                      interrupted=True)
    text = render_markdown(nothing)
    assert "> **Interrupted before any mutant finished (0 of 7 run): no score.**" in text


# Text from code or from the campaign, as a mutant or an error could carry it.
HOSTILE = ["</details><script>alert(1)</script>", "a | b ` c `` d", "[x](javascript:1)",
           "# heading", "1. list", "- item", "&lt;", "line\nbreak", "*bold* _it_ ~~s~~",
           "```", "<!--"]


@pytest.mark.parametrize("text", HOSTILE)
def test_text_from_code_cannot_become_markup(text):
    escaped = markdown_text(text)
    assert "\n" not in escaped and "<" not in escaped and ">" not in escaped
    # Every & starts an entity gcverify wrote; every markdown character is escaped.
    assert re.fullmatch(r"(?:[^&\\`*_\[\]|~]|&(?:amp|lt|gt);|\\.)*", escaped), escaped
    assert not re.match(r"\s*(?:[#+=-]|\d+[.)])", escaped)  # no heading or list starts


@pytest.mark.parametrize("text", HOSTILE)
def test_code_spans_and_fences_cannot_be_left(text):
    span = inline_code(text)
    fence = re.match(r"`+", span).group(0)
    inner = span[len(fence):-len(fence)]
    assert span.endswith(fence) and "\n" not in span
    assert fence not in inner and not inner.startswith("`") and not inner.endswith("`")
    opening, body, closing = fenced_block(text, "diff")
    assert closing.rstrip("`") == "" and closing not in body and opening == closing + "diff"


def test_a_hostile_mutant_reaches_report_md_escaped():
    from dataclasses import replace

    result = mixed_campaign()
    raised = next(r for r in result.results if r.mutant.description.startswith("raise"))
    hostile = replace(raised, evidence="raised </details><script>x</script> | `y`",
                      error="RuntimeError: </details><script>",
                      mutant=replace(raised.mutant, description="raise E('</details>')"))
    text = render_markdown(replace(result, results=(hostile,)))
    table = text[text.index("<details>"):]
    assert table.count("</details>") == 1 and "<script" not in text
    assert table.rstrip().endswith("</details>")
    row = next(line for line in table.splitlines() if line.startswith("| ``") or
               line.startswith("| `"))
    assert row.replace("\\|", "").count("|") == 8  # the cells of the header, no more
