"""The study's reports: ``sensitivity.json`` (schema ``sensitivity.schema.json``),
``sensitivity.csv`` (one row per measurement), ``sensitivity.md`` and a self-contained
``sensitivity.html`` with the figures. Renderers only read a
:class:`~gcverify.sensitivity.study.StudyResult`.

Non-finite numbers are null in the JSON, as in every JSON document gcverify writes.

>>> from gcverify.sensitivity.study import PRESETS, run_study
>>> result = run_study(PRESETS["tiny"], seed=2, jobs=1)
>>> document = study_document(result)
>>> document["schema_version"], sorted(document)[:3]
(1, ['detection', 'failed_tasks', 'interrupted'])
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import asdict
from html import escape
from importlib import resources
from pathlib import Path
from typing import IO, Any

from gcverify import __version__
from gcverify.report.wording import markdown_cell
from gcverify.sensitivity import plots
from gcverify.sensitivity.rules import RULES
from gcverify.sensitivity.study import CSV_COLUMNS, StudyResult

__all__ = ["SCHEMA_VERSION", "STUDY_FILES", "incomplete_lines", "load_schema", "render_csv",
           "render_html", "render_json", "render_markdown", "study_document", "table_lines",
           "write_study"]

SCHEMA_VERSION = 1


def load_schema() -> dict[str, Any]:
    """The JSON Schema of ``sensitivity.json``."""
    text = resources.files("gcverify.sensitivity").joinpath(
        "sensitivity.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def study_document(result: StudyResult) -> dict[str, Any]:
    """The study as JSON-ready data (described in docs/sensitivity-schema.md)."""
    preset = result.preset
    return _clean({
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "gcverify", "version": __version__},
        "seed": result.seed,
        "preset": {"name": preset.name, "step_networks": preset.step_networks,
                   "boundary_networks": preset.boundary_networks,
                   "mutant_examples": preset.mutant_examples,
                   "space": asdict(preset.space), "domain": asdict(preset.domain)},
        "rules": [{"name": rule.name, "label": rule.label, "numerical": rule.numerical,
                   "criterion": rule.criterion, "source": rule.source} for rule in RULES],
        "steps": result.steps,
        "detection": result.detection,
        "roc": result.roc,
        "table": {name: asdict(row) for name, row in result.table.items()},
        "interrupted": result.interrupted,
        "lost": result.lost,
        "failed_tasks": list(result.failed_tasks),
        "timing": {"total_seconds": result.timing.get("total")},
    })


def render_json(result: StudyResult) -> str:
    """``sensitivity.json``'s text (strict JSON, keys in a fixed order)."""
    return json.dumps(study_document(result), indent=1, ensure_ascii=False,
                      allow_nan=False) + "\n"


def render_csv(result: StudyResult) -> str:
    """``sensitivity.csv``'s text (:func:`write_study` streams it to the file instead)."""
    out = io.StringIO()
    _write_csv(result, out)
    return out.getvalue()


def _write_csv(result: StudyResult, out: IO[str]) -> None:
    """One row per measurement: ``part``, ``case``, ``group``, ``kind``, ``size``,
    ``value`` (a step's error), then each rule's score (above 1: the rule FAILs)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in result.measurements.rows():
        writer.writerow([f"{v:.6g}" if isinstance(v, float) else v for v in row])


def _scientific(value: float | None) -> str:
    return "-" if value is None else f"{value:.2g}"


def table_lines(result: StudyResult) -> list[str]:
    """The comparison table in Markdown (also shown by ``gcverify sensitivity``)."""
    lines = ["| rule | numerical side | false alarms (correct backprops) | mutants never "
             "caught | smallest scaling 1 + δ caught (≥ 50 % of networks) |",
             "|---|---|---:|---:|---:|"]
    for rule in RULES:
        row = result.table[rule.name]
        missed = sum(row.missed_by_family.values())
        mutants = sum(row.mutants_by_family.values())
        worst = ", ".join(f"{f} {n}" for f, n in row.missed_by_family.items() if n)
        lines.append(f"| {rule.label} | {markdown_cell(rule.numerical)} | {row.false_alarms} / "
                     f"{row.correct_cases} | {missed} / {mutants}"
                     f"{f' ({worst})' if worst else ''} | "
                     f"{_scientific(row.smallest_scaling)} |")
    return lines


def incomplete_lines(result: StudyResult) -> list[str]:
    """What the figures leave out, in Markdown: nothing for a complete study."""
    lines = []
    if result.interrupted:
        lines.append("**Interrupted.** The figures cover the tasks that finished.")
    if result.lost:
        lines.append(f"**Incomplete:** {result.lost}. The figures cover the tasks that "
                     "finished.")
    if result.failed_tasks:
        lines.append(f"**{len(result.failed_tasks)} task(s) left out**, each killed its "
                     "worker on every try: " + "; ".join(result.failed_tasks) + ".")
    return lines


def render_markdown(result: StudyResult) -> str:
    """``sensitivity.md``."""
    steps = result.steps
    lines = [f"## How close is close enough? (preset {result.preset.name}, seed "
             f"{result.seed}, gcverify {__version__})", ""]
    lines += [f"> {line}" for line in incomplete_lines(result)]
    if result.interrupted or result.lost or result.failed_tasks:
        lines.append("")
    lines += [*table_lines(result), ""]
    if steps.get("networks"):
        lines += [f"**Step sweep** ({steps['networks']} networks): the central difference's "
                  f"median error is smallest, {_scientific(steps['error_at_optimum'])}, at "
                  f"ε = {_scientific(steps['measured_optimum'])} (theory: "
                  f"{_scientific(steps['theory_optimum'])}); at the notebook's 1e-7 it is "
                  f"{_scientific(steps['error_at_notebook_step'])}; the complex step's is "
                  f"{_scientific(steps['complex_step_error'])}.", ""]
    detection = result.detection
    lines += [f"**Detection boundary** ({detection['networks']} networks, one block each, "
              f"median share of ‖g‖ {_scientific(detection['median_block_share'])}): a block "
              f"scaled by 1 + δ is caught per block above δ = "
              f"{_scientific(detection['analytic']['per_block'])} in theory; over the whole "
              f"vector (the notebook) above about "
              f"{_scientific(detection['analytic']['whole_vector_at_median_share'])}.", "",
              "| rule | " + " | ".join(f"δ = {d:.0e}" for d in detection["deltas"]) + " |",
              "|---|" + "---:|" * len(detection["deltas"])]
    for rule in RULES:
        shares = detection["kinds"]["scaling"][rule.name]
        lines.append(f"| {rule.name} | " + " | ".join(f"{s:.0%}" for s in shares) + " |")
    lines += ["", f"**ROC**: {result.roc['correct_cases']} correct backprops, "
              f"{result.roc['mutant_cases']} mutant × example cases; see sensitivity.html.", ""]
    return "\n".join(lines)


_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; color: #1b1f24; margin: 0; background: #f6f8fa; }
main { max-width: 1000px; margin: 0 auto; padding: 24px; background: #fff; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 16px 0; } figure svg { max-width: 100%; height: auto; }
figcaption { color: #57606a; }
.note { background: #fff8c5; padding: 8px 12px; border-radius: 6px; }
"""


def _html_table(result: StudyResult) -> str:
    cells = ["<table><tr><th>rule</th><th>numerical side</th><th>criterion</th>"
             "<th>false alarms</th><th>mutants never caught</th><th>smallest scaling "
             "caught</th></tr>"]
    for rule in RULES:
        row = result.table[rule.name]
        missed = sum(row.missed_by_family.values())
        cells.append(
            f"<tr><td>{escape(rule.label)}</td><td>{escape(rule.numerical)}</td>"
            f"<td>{escape(rule.criterion)}</td>"
            f'<td class="n">{row.false_alarms} / {row.correct_cases}</td>'
            f'<td class="n">{missed} / {sum(row.mutants_by_family.values())}</td>'
            f'<td class="n">{escape(_scientific(row.smallest_scaling))}</td></tr>')
    return "".join(cells) + "</table>"


def render_html(result: StudyResult) -> str:
    """``sensitivity.html``: one self-contained page, the figures inline as SVG (no
    script, no other file)."""
    if plots.available():
        figures = "".join(f"<figure>{svg}<figcaption>{escape(caption)}</figcaption></figure>"
                          for svg, caption in (
                              (plots.step_figure(result), "Step sweep: error of the central "
                               "difference against the step"),
                              (plots.boundary_figure(result), "Detection boundary: a block "
                               "scaled by 1 + δ"),
                              (plots.roc_figure(result), "ROC on correct backprops and "
                               "mutants")))
    else:
        figures = ('<p class="note">The figures need matplotlib: <code>pip install '
                   "'gcverify[plots]'</code>.</p>")
    note = "".join(f'<p class="note">{escape(line.replace("**", ""))}</p>'
                   for line in incomplete_lines(result))
    text = render_markdown(result).split("\n")
    prose = "".join(f"<p>{escape(line.replace('**', ''))}</p>" for line in text
                    if line.startswith("**") and not line.startswith("**Detection"))
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8"/>',
        "<title>gcverify sensitivity study</title>", f"<style>{_STYLE}</style></head>",
        "<body><main>",
        f"<h1>How close is close enough?</h1><p>Preset {escape(result.preset.name)}, seed "
        f"{result.seed}, gcverify {escape(__version__)}.</p>", note,
        "<h2>Each rule at its defaults</h2>", _html_table(result), prose,
        "<h2>Figures</h2>", figures, "</main></body></html>"]) + "\n"


STUDY_FILES = ("sensitivity.json", "sensitivity.csv", "sensitivity.md", "sensitivity.html")


def write_study(result: StudyResult, directory: str | Path) -> dict[str, Path]:
    """Write the four files into ``directory`` (created if needed)."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, render in zip(STUDY_FILES, (render_json, None, render_markdown, render_html),
                            strict=True):
        path = folder / name
        if render is None:
            with path.open("w", encoding="utf-8", newline="") as out:
                _write_csv(result, out)
        else:
            path.write_text(render(result), encoding="utf-8")
        written[name] = path
    return written
