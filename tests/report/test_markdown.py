"""report.md: ready to paste into a pull request."""

from __future__ import annotations

from gcverify.report import render_markdown
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
    assert "(interrupted: 5 mutants not run)" in text
    assert "> **Interrupted.** 5 mutants were not run; the figures cover the 2 that finished." \
        in text
