"""Regenerate the README's sensitivity figures and table from the study itself.

Run:  python docs/figures/regenerate.py [--jobs J]

Runs the README's study, ``gcverify sensitivity --preset quick --seed 3 --output DIR``
(DIR a temporary folder), copies the step sweep and the detection boundary out of its
``sensitivity.html`` into ``docs/figures/steps.svg`` and ``docs/figures/boundary.svg``,
and prints its ``sensitivity.md`` (the comparison table and the figures the findings
quote), to paste under "How close is close enough?". A slow test,
tests/sensitivity/test_readme_findings.py, runs the same command once and checks that
the README's table, its findings and these two figures are the study's.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

FOLDER = Path(__file__).resolve().parent
ROOT = FOLDER.parents[1]
#: The README's study, as its readers type it (before ``--output DIR``).
STUDY = ("sensitivity", "--preset", "quick", "--seed", "3")
#: Each committed figure and the start of its caption in sensitivity.html.
FIGURES = {"steps.svg": "Step sweep", "boundary.svg": "Detection boundary"}


def gcverify_program() -> list[str]:
    """The ``gcverify`` console script of this interpreter's environment (as the README
    types it), or ``python -m gcverify`` where it is not installed as a script."""
    script = Path(sys.executable).with_name("gcverify")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "gcverify"]


def run_study_command(output: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run ``gcverify sensitivity --preset quick --seed 3 --output OUTPUT [EXTRA]`` on
    this checkout's gcverify (first on PYTHONPATH); its output is captured."""
    path = os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))
    return subprocess.run([*gcverify_program(), *STUDY, "--output", str(output), *extra],
                          capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONPATH": path})


def figures_from(html: str) -> dict[str, str]:
    """The committed figures' SVG text, as sensitivity.html embeds it (the same
    :mod:`gcverify.sensitivity.plots` output, verbatim)."""
    embedded = dict((caption, svg) for svg, caption in re.findall(
        r"<figure>(.*?)<figcaption>(.*?)</figcaption></figure>", html, flags=re.DOTALL))
    found = {}
    for name, caption_start in FIGURES.items():
        svgs = [svg for caption, svg in embedded.items() if caption.startswith(caption_start)]
        if len(svgs) != 1:
            raise SystemExit(f"regenerate.py: sensitivity.html has {len(svgs)} figures whose "
                             f"caption starts {caption_start!r}, not one: was it written by "
                             "this gcverify?")
        found[name] = svgs[0]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=None)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        output = Path(temporary)
        done = run_study_command(output, *(("--jobs", str(arguments.jobs))
                                           if arguments.jobs is not None else ()))
        if done.returncode != 0:
            sys.exit(f"the study failed (exit {done.returncode}):\n{done.stderr}")
        html = (output / "sensitivity.html").read_text(encoding="utf-8")
        for name, svg in figures_from(html).items():
            (FOLDER / name).write_text(svg, encoding="utf-8")
        print((output / "sensitivity.md").read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
