"""The study's three figures, as SVG text (matplotlib's object-oriented API, Agg backend).

matplotlib is an optional dependency (the ``plots`` extra): :func:`available` says
whether it is installed, and the HTML report says how to get the figures when it is not.

>>> from gcverify.sensitivity.study import PRESETS, run_study
>>> result = run_study(PRESETS["tiny"], seed=1, jobs=1)
>>> svg = step_figure(result) if available() else "<svg"
>>> svg.lstrip().startswith(("<?xml", "<svg"))
True
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from gcverify.sensitivity.rules import RULES

if TYPE_CHECKING:
    from gcverify.sensitivity.study import StudyResult

__all__ = ["available", "boundary_figure", "roc_figure", "step_figure"]

_COLOURS = {"notebook": "#cf222e", "torch": "#bc4c00", "jax": "#8250df", "scipy": "#0969da",
            "gcverify": "#1a7f37"}


def available() -> bool:
    """Is matplotlib installed (``pip install 'gcverify[plots]'``)?"""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _figure(width: float = 6.4, height: float = 4.0) -> tuple[Any, Any]:
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    figure = Figure(figsize=(width, height), layout="constrained")
    return figure, figure.subplots()


def _svg(figure: Any) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})   # same input, same SVG
    return buffer.getvalue()


def step_figure(result: StudyResult) -> str:
    """Error of the central difference against the step, per cost form and activation."""
    figure, ax = _figure(width=8.4)
    steps = result.steps["steps"]
    band = result.steps.get("all")
    if band:
        ax.fill_between(steps, band["p05"], band["p95"], color="#d0d7de", alpha=0.6,
                        label="all networks, 5-95 %")
    for name, group in result.steps["groups"].items():
        ax.plot(steps, group["median"], linewidth=1.2, label=f"{name} (median)")
    for step, style, label in (
            (result.steps.get("measured_optimum"), "-", "measured optimum"),
            (result.steps.get("theory_optimum"), "--", "theory cbrt(3 eps |J| / |J'''|)"),
            (1e-7, ":", "the notebook's ε = 1e-7")):
        if step:
            ax.axvline(step, color="black", linestyle=style, linewidth=1, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("step ε (absolute)")
    ax.set_ylabel("relative error ‖n − g‖ / ‖g‖")
    ax.set_title("Central differences: truncation against rounding")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))  # beside the curves
    return _svg(figure)


def boundary_figure(result: StudyResult, kind: str = "scaling") -> str:
    """The probability that each rule FAILs an error of relative size δ."""
    figure, ax = _figure()
    deltas = result.detection["deltas"]
    for rule in RULES:
        ax.plot(deltas, result.detection["kinds"][kind][rule.name], marker="o", markersize=3,
                color=_COLOURS[rule.name], label=rule.label)
    ax.axvline(result.detection["analytic"]["per_block"], color="black", linestyle="--",
               linewidth=1, label="per-block boundary 2t / (1 - t), t = 2e-7")
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(f"relative size δ of the planted error ({kind})")
    ax.set_ylabel("share of networks where the check FAILs")
    ax.set_title("Detection boundary")
    ax.legend(fontsize=7, loc="lower right")
    return _svg(figure)


def roc_figure(result: StudyResult) -> str:
    """Detection of mutants against false alarms on correct backprops, as each rule's
    tolerance is scaled; each rule's default is marked."""
    figure, ax = _figure(5.2, 4.4)
    scales = result.roc["scales"]
    default = min(range(len(scales)), key=lambda i: abs(scales[i] - 1.0))
    for rule in RULES:
        curve = result.roc["rules"][rule.name]
        ax.plot(curve["false_alarm"], curve["detection"], color=_COLOURS[rule.name],
                label=rule.label, linewidth=1.2)
        ax.plot(curve["false_alarm"][default], curve["detection"][default], marker="o",
                color=_COLOURS[rule.name])
    ax.set_xscale("symlog", linthresh=1e-2)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("false alarms on correct backprops (share)")
    ax.set_ylabel("mutants detected (share of mutant × example)")
    ax.set_title("ROC (tolerance × 1e-4 … 1e4; ● default)")
    ax.legend(fontsize=7, loc="lower right")
    return _svg(figure)
