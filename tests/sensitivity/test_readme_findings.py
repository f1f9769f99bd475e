"""The README's "How close is close enough?" table is the study's own output."""

from __future__ import annotations

from pathlib import Path

import pytest

from gcverify.sensitivity.report import table_lines
from gcverify.sensitivity.study import PRESETS, run_study

README = Path(__file__).resolve().parents[2] / "README.md"
FIGURES = Path(__file__).resolve().parents[2] / "docs" / "figures"


@pytest.mark.slow
def test_the_readme_table_is_the_quick_studys() -> None:
    # docs/figures/regenerate.py runs this study and prints this table.
    result = run_study(PRESETS["quick"], seed=3)
    readme = README.read_text()
    for line in table_lines(result):
        assert line in readme, f"the README's study table is stale: {line}"


def test_the_readme_shows_the_figures_the_script_writes() -> None:
    readme = README.read_text()
    for name in ("boundary.svg", "steps.svg"):
        assert (FIGURES / name).read_text().lstrip().startswith(("<?xml", "<svg"))
        assert f"](docs/figures/{name})" in readme
    assert "python docs/figures/regenerate.py" in readme
