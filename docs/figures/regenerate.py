"""Regenerate the README's sensitivity figures and table from the study itself.

Run:  python docs/figures/regenerate.py [--jobs J]

Runs ``gcverify sensitivity --preset quick --seed 3`` (the README's study), writes the
step sweep and the detection boundary as ``docs/figures/steps.svg`` and
``docs/figures/boundary.svg``, and prints the comparison table and the findings in
Markdown, to paste under "How close is close enough?" (a slow test,
tests/sensitivity/test_readme_findings.py, checks that the README's table is the
study's).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gcverify.sensitivity import plots
from gcverify.sensitivity.report import render_markdown
from gcverify.sensitivity.study import PRESETS, run_study

FOLDER = Path(__file__).resolve().parent
PRESET, SEED = "quick", 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=None)
    arguments = parser.parse_args()
    result = run_study(PRESETS[PRESET], seed=SEED, jobs=arguments.jobs)
    (FOLDER / "steps.svg").write_text(plots.step_figure(result), encoding="utf-8")
    (FOLDER / "boundary.svg").write_text(plots.boundary_figure(result), encoding="utf-8")
    print(render_markdown(result))


if __name__ == "__main__":
    main()
