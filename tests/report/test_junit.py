"""report.xml: JUnit that a standard parser reads; survivors are failures."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from gcverify.report import render_junit
from tests.mutation.campaigns import default_campaign, mixed_campaign


def parse(result):
    return ET.fromstring(render_junit(result).encode("utf-8"))


def test_one_test_case_per_mutant_and_survivors_fail():
    result = mixed_campaign()
    suites = parse(result)
    assert suites.tag == "testsuites"
    (suite,) = suites.findall("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == result.counts.total == int(suite.get("tests"))
    failed = [case for case in cases if case.find("failure") is not None]
    skipped = [case for case in cases if case.find("skipped") is not None]
    assert [case.get("name").split(":")[0] for case in failed] == [
        r.mutant.id for r in result.survivors]
    assert [case.get("name").split(":")[0] for case in skipped] == [
        r.mutant.id for r in result.equivalents]
    assert suite.get("failures") == "1" and suite.get("skipped") == "1"
    assert failed[0].find("failure").text.rstrip().endswith("* (1 + 1e-10)")


def test_killed_mutants_pass_with_their_evidence():
    suites = parse(default_campaign())
    assert suites.get("failures") == "0"
    case = next(c for c in suites.iter("testcase") if "dW2 × 2" in c.get("name"))
    assert case.get("classname") == "gcverify.mutation.scale"
    assert case.find("system-out").text.startswith("killed: the check FAILs on")


def test_code_is_escaped():
    text = render_junit(mixed_campaign())
    assert "boom <&>" not in text and "boom &lt;&amp;&gt;" in text
