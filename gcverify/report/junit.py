"""``report.xml``: JUnit XML, one test case per mutant, so that any CI lists them.

A survivor is a ``<failure>`` (its evidence and diff in the body); a probably
equivalent mutant, or one an interruption left unrun, is ``<skipped>``; killed ones
(by the check, by an error, by the time limit) pass, with their evidence in
``<system-out>``. Test cases are grouped by family in their ``classname``
(``gcverify.mutation.scale``).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from gcverify.mutation.results import Outcome
from gcverify.report.wording import percent

if TYPE_CHECKING:
    from gcverify.mutation.results import CampaignResult

__all__ = ["render_junit"]

# Characters XML 1.0 cannot hold even escaped (an error message might carry one).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value: str) -> str:
    return _NOT_XML.sub("\ufffd", value)


def render_junit(result: CampaignResult) -> str:
    """``report.xml``'s text.

    >>> from gcverify.mutation import mutate_function, notebook_target, run_campaign
    >>> target = notebook_target()
    >>> pick = [m for m in mutate_function(target.backward) if m.description == "db1 × 4"]
    >>> xml = render_junit(run_campaign(target, examples=2, mutants=pick, jobs=1))
    >>> ET.fromstring(xml.split("\\n", 1)[1]).get("failures")
    '0'
    """
    counts = result.counts
    survived = counts[Outcome.SURVIVED]
    skipped = counts[Outcome.EQUIVALENT] + counts[Outcome.NOT_REACHED] + len(result.not_run)
    total_seconds = f"{result.timing.get('total', 0.0):.3f}"
    suites = ET.Element("testsuites", name="gcverify mutate",
                        tests=str(counts.total + len(result.not_run)),
                        failures=str(survived), errors="0", skipped=str(skipped),
                        time=total_seconds)
    suite = ET.SubElement(suites, "testsuite",
                          name="gcverify.mutation." + "+".join(
                              source.name for _, source in result.target.sources),
                          tests=suites.get("tests", "0"), failures=str(survived), errors="0",
                          skipped=str(skipped), time=total_seconds)
    properties = ET.SubElement(suite, "properties")
    for name, value in (("target", f"{result.target.source.path}::{result.target.function_names}"),
                        ("seed", str(result.seed)), ("examples", str(result.n_examples)),
                        ("score", percent(result.score)),
                        ("interrupted", str(result.interrupted).lower())):
        ET.SubElement(properties, "property", name=name, value=value)
    for mutant_result in result.results:
        mutant = mutant_result.mutant
        case = ET.SubElement(suite, "testcase", name=_text(f"{mutant.id}: {mutant.description}"),
                             classname=f"gcverify.mutation.{mutant.family}",
                             file=result.target.source.path, line=str(mutant.line),
                             time=f"{mutant_result.seconds:.3f}")
        outcome = mutant_result.outcome
        said = f"{outcome.label}: {mutant_result.evidence}"
        if outcome is Outcome.SURVIVED:
            failure = ET.SubElement(case, "failure", type=outcome.value, message=_text(said))
            failure.text = _text(f"{mutant_result.evidence}\n\n{mutant.diff}\n")
        elif outcome in (Outcome.EQUIVALENT, Outcome.NOT_REACHED):
            ET.SubElement(case, "skipped", message=_text(said))
        else:
            out = ET.SubElement(case, "system-out")
            out.text = _text(f"{said}\n\n{mutant.diff}\n")
    for mutant in result.not_run:
        case = ET.SubElement(suite, "testcase", name=_text(f"{mutant.id}: {mutant.description}"),
                             classname=f"gcverify.mutation.{mutant.family}",
                             file=result.target.source.path, line=str(mutant.line), time="0")
        ET.SubElement(case, "skipped", message="not run: the campaign was interrupted")
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") \
        + "\n"
