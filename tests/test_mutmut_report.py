"""mutmut on gcverify itself: the configuration, the report writer and the allowlist.

``.ci/mutmut`` runs mutmut (minutes); these tests check in a fraction of a second what
can go wrong before that: a [mutmut] section that selects missing tests or loses the
deterministic profile, an allowlist entry whose code has changed, and the report
writer's rules (every survivor reviewed, every entry still alive). mutmut itself is not
needed: the report writer imports it only to read a finished run.
"""

from __future__ import annotations

import ast
import configparser
import importlib.util
import json
import os
import re
import sys
from pathlib import Path

import pytest
from hypothesis import Phase, settings

from gcverify.hypothesis_profiles import PROFILES

ROOT = Path(__file__).resolve().parents[1]


def load_report_module():
    path = ROOT / ".ci" / "mutmut_report.py"
    spec = importlib.util.spec_from_file_location("mutmut_report", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module               # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


report = load_report_module()
Mutant, Entry = report.Mutant, report.Entry

DIFF = """--- gcverify/verdict.py
+++ gcverify/verdict.py
@@ -1,4 +1,4 @@
 def _format_factor(k: float) -> str:
     digits = 3
-    if 0 < abs(k - 1) < 1e-2:
+    if 0 < abs(k - 1) < 1.01:
         digits = 4"""
CHANGE = "- if 0 < abs(k - 1) < 1e-2:\n+ if 0 < abs(k - 1) < 1.01:"
FUNCTION = "gcverify.verdict._format_factor"


def mutant(number, status, diff=DIFF, function_name="x__format_factor"):
    return Mutant(name=f"gcverify.verdict.{function_name}__mutmut_{number}",
                  function=report.function_of(f"gcverify.verdict.{function_name}__mutmut_1"),
                  status=status, diff=diff)


def entry(change=CHANGE, function=FUNCTION):
    return Entry(function, change, "equivalent", "the bound never binds")


# --- names and changes -------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "function"), [
    ("gcverify.verdict.x__judge_block__mutmut_12", "gcverify.verdict._judge_block"),
    ("gcverify.verdict.x_judge_whole__mutmut_3", "gcverify.verdict.judge_whole"),
    ("gcverify.models.mlp.xǁMLPǁbackward__mutmut_3", "gcverify.models.mlp.MLP.backward"),
    ("gcverify.models.mlp.xǁNetworkCostǁ__repr____mutmut_1",
     "gcverify.models.mlp.NetworkCost.__repr__"),
])
def test_function_of_a_mutant_name(name, function):
    assert report.function_of(name) == function


def test_a_name_that_is_not_mutmut_s_is_rejected():
    with pytest.raises(ValueError, match=r"^mutant_name='gcverify.verdict.judge' is not a "):
        report.function_of("gcverify.verdict.judge")


def test_the_change_is_the_diff_s_changed_lines_without_indentation():
    assert report.change_of(DIFF) == CHANGE
    # Re-indenting the function (or moving it) does not change the key.
    moved = DIFF.replace("\n-    if", "\n-        if").replace("\n+    if", "\n+        if")
    assert report.change_of(moved.replace("@@ -1,4 +1,4 @@", "@@ -9,4 +9,4 @@")) == CHANGE


# --- the allowlist -----------------------------------------------------------------------------

GOOD = '''
[[survivor]]
function = "gcverify.verdict._format_factor"
diff = """
-    if 0 < abs(k - 1) < 1e-2:
+    if 0 < abs(k - 1) < 1.01:
"""
kind = "equivalent"
reason = """the bound
   never binds"""
'''


def test_an_allowlist_entry_is_read_with_its_change_and_reason():
    assert report.parse_allowlist(GOOD) == [Entry(FUNCTION, CHANGE, "equivalent",
                                                  "the bound never binds")]
    assert report.parse_allowlist("") == []


@pytest.mark.parametrize(("text", "message"), [
    (GOOD.replace('kind = "equivalent"\n', ""),
     "allowlist: survivor 1 lacks kind; every entry needs function, diff, kind and reason"),
    (GOOD.replace('kind = "equivalent"', 'kind = "harmless"'),
     "allowlist: survivor 1 has kind='harmless'; use one of 'equivalent', 'unreachable', "
     "'test data only'"),
    (GOOD.replace('kind = "equivalent"', 'kind = "equivalent"\nowner = "me"'),
     "allowlist: survivor 1 has unknown keys ['owner']; use function, diff, kind and reason"),
    (GOOD + GOOD, "allowlist: 1 entries listed twice, e.g. gcverify.verdict._format_factor: "
                  "'- if 0 < abs(k - 1) < 1e-2:\\n+ if 0 < abs(k - 1) < 1.01:'; keep one"),
    (GOOD.replace("-    if", "     if").replace("+    if", "     if"),
     "allowlist: survivor 1 has a diff without '- ' or '+ ' lines; copy the change from "
     "mutants/mutmut-report.md"),
    ('[survivors]\nx = 1', "allowlist: unknown top-level keys ['survivors']; write each "
                           "survivor as a [[survivor]] table"),
], ids=["no kind", "unknown kind", "unknown key", "twice", "no change", "bad table"])
def test_a_malformed_allowlist_is_rejected_with_the_fix(text, message):
    with pytest.raises(ValueError) as info:
        report.parse_allowlist(text)
    assert str(info.value) == message


# --- review: survivors against the allowlist, both ways ----------------------------------------

def test_a_listed_survivor_passes_and_carries_its_reason():
    result = report.review([mutant(1, "killed"), mutant(2, "survived")], [entry()])
    assert result.ok and not result.unlisted and not result.stale
    assert result.mutants[1].allowlisted == "equivalent: the bound never binds"
    assert result.mutants[0].allowlisted is None


def test_an_unlisted_survivor_fails():
    other = DIFF.replace("1.01", "0.5")
    result = report.review([mutant(1, "survived", other), mutant(2, "survived")], [entry()])
    assert not result.ok
    assert [m.name for m in result.unlisted] == ["gcverify.verdict.x__format_factor__mutmut_1"]
    assert report.problems(result) == [
        "gcverify.verdict.x__format_factor__mutmut_1 (gcverify.verdict._format_factor) "
        "survived and is not on the allowlist: '- if 0 < abs(k - 1) < 1e-2:\\n+ if 0 < "
        "abs(k - 1) < 0.5:'; kill it with a test, or review it and add it to the allowlist "
        "with its reason"]


def test_a_mutant_no_test_runs_counts_as_a_survivor():
    assert not report.review([mutant(1, "no tests")], []).ok
    assert report.review([mutant(1, "no tests")], [entry()]).ok


def test_an_entry_that_no_longer_survives_fails():
    for status in ("killed", "timeout", "caught by type check"):
        result = report.review([mutant(1, status)], [entry()])
        assert not result.ok and result.stale == [entry()]
    result = report.review([mutant(1, "survived", function_name="x__counts")], [entry()])
    assert result.stale == [entry()] and len(result.unlisted) == 1


def test_an_unfinished_run_fails_and_an_empty_one_too():
    result = report.review([mutant(1, "not checked")], [])
    assert not result.ok and report.problems(result)[0].endswith(
        "is 'not checked': the run did not finish; run .ci/mutmut again from a clean state")
    assert not report.review([], []).ok


def test_counts_score_and_headline():
    mutants = [mutant(1, "killed"), mutant(2, "killed"), mutant(3, "timeout"),
               mutant(4, "caught by type check"), mutant(5, "survived")]
    result = report.review(mutants, [entry()])
    counts = result.counts()
    assert {key: counts[key] for key in ("total", "killed", "timeout", "caught_by_type_check",
                                         "survived", "detected", "escaped", "allowlisted",
                                         "unlisted", "stale_entries")} == {
        "total": 5, "killed": 2, "timeout": 1, "caught_by_type_check": 1, "survived": 1,
        "detected": 4, "escaped": 1, "allowlisted": 1, "unlisted": 0, "stale_entries": 0}
    assert report.score(counts) == 0.8
    assert report.headline(result) == ("Score 80.0 %: 4 of 5 mutants detected; 1 survived, "
                                       "1 of them reviewed.")
    assert report.headline(report.review(mutants[:4], [])) == (
        "Score 100.0 %: 4 of 4 mutants detected; no mutant survived.")


def test_statuses_follow_mutmut_s_exit_codes():
    assert [report.status_of(code) for code in (1, 3, 0, 33, 36, -24, 37, None, 35, 99)] == [
        "killed", "killed", "survived", "no tests", "timeout", "timeout",
        "caught by type check", "not checked", "suspicious", "suspicious"]


# --- the outputs ---------------------------------------------------------------------------------

def test_json_report_lists_every_mutant_and_the_summary():
    result = report.review([mutant(1, "killed"), mutant(2, "survived")], [entry()])
    data = json.loads(json.dumps(report.to_json(result, {"wall_time_s": 12})))
    assert data["ok"] is True and data["wall_time_s"] == 12 and data["problems"] == []
    assert data["summary"]["total"] == 2 and data["summary"]["score"] == 0.5
    assert [m["status"] for m in data["mutants"]] == ["killed", "survived"]
    assert set(data["mutants"][0]) >= {"name", "function", "status", "diff", "change"}
    assert data["mutants"][1]["allowlisted"] == "equivalent: the bound never binds"
    assert data["allowlist"][0]["function"] == FUNCTION


def test_markdown_report_has_the_mutation_report_s_layout():
    result = report.review([mutant(1, "killed"), mutant(2, "survived"),
                            mutant(3, "survived", DIFF.replace("1.01", "0.5"))], [entry()])
    text = report.to_markdown(result, {"wall_time_s": 12, "mutmut": "3.8.1"})
    lines = text.splitlines()
    assert lines[0] == "## mutmut: gcverify's own tests against mutants of gcverify"
    assert lines[2] == ("**Score 33.3 %: 1 of 3 mutants detected; 2 survived, 1 of them "
                        "reviewed, 1 not reviewed.**")
    assert "> **Fails.** Survivors not on the allowlist: 1." in lines
    assert "| killed by a failing test | 1 |" in lines
    assert "| **survived** | **2** |" in lines
    assert ("Score = detected / (total − skipped) = 33.3 %. Every survivor must be on the "
            "reviewed allowlist (`.ci/mutmut-allowlist.toml`): 1 of 2 are.") in lines
    assert "| `gcverify.verdict._format_factor` | 3 | 1 | 2 | 1 |" in lines
    assert "#### `gcverify.verdict.x__format_factor__mutmut_3` (survived)" in lines
    assert "In `gcverify.verdict._format_factor`. equivalent: the bound never binds" in lines
    assert "Run: mutmut 3.8.1, wall time 12 s." in lines
    assert "<summary>All 3 mutants</summary>" in lines
    assert text.endswith("\n</details>\n")


# --- the committed configuration and allowlist --------------------------------------------------

def mutmut_config():
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    return {key: [line for line in value.split("\n") if line]
            for key, value in parser["mutmut"].items()}


def test_mutmut_mutates_the_backward_pass_and_the_checker_s_judgement():
    config = mutmut_config()
    assert config["source_paths"] == ["gcverify"]
    assert {"gcverify/models/mlp.py", "gcverify/verdict/*.py",
            "gcverify/numdiff.py"} <= set(config["only_mutate"])
    for pattern in config["only_mutate"]:
        assert [path for path in ROOT.glob(pattern) if path.is_file()], pattern


def test_mutmut_selects_existing_in_process_tests():
    selection = mutmut_config()["pytest_add_cli_args_test_selection"]
    for node in selection:
        path, _, name = node.partition("::")
        assert (ROOT / path).is_file(), node
        if name:
            assert f"def {name.partition('[')[0]}(" in (ROOT / path).read_text(), node
    # Subprocesses and pytester runs do not see mutmut's trampolines.
    assert not any(node.startswith(("tests/test_cli.py", "tests/test_pytest_plugin.py"))
                   for node in selection)
    assert "tests/test_mutmut_report.py" not in selection


def test_mutmut_mutates_the_checker_core_with_its_in_process_tests():
    config = mutmut_config()
    assert {"gcverify/check.py", "gcverify/options.py", "gcverify/validate.py",
            "gcverify/backward_noise.py"} <= set(config["only_mutate"])
    assert config["also_copy"] == ["examples"]          # tests/test_examples.py reads them
    # test_options.py also runs pytester and the CLI: only its in-process tests, by name.
    from_options = [node for node in config["pytest_add_cli_args_test_selection"]
                    if node.startswith("tests/test_options.py")]
    assert from_options and all("::" in node for node in from_options)
    assert not any("plugin" in node or "cli" in node for node in from_options)
    # Python names a misspelt keyword's function, under mutmut its trampoline: that one
    # fault case is deselected, and it exists.
    args = config["pytest_add_cli_args"]
    deselected = args[args.index("--deselect") + 1]
    path, _, case = deselected.partition("::")
    assert case == "test_each_fault_gets_its_outcome_and_loses_nothing[a misspelt option]"
    assert '"a misspelt option": Case(' in (ROOT / path).read_text()


def test_mutmut_runs_the_deterministic_hypothesis_profile_without_a_cache():
    args = mutmut_config()["pytest_add_cli_args"]
    assert "--hypothesis-profile=mutmut" in args
    disabled = {args[i + 1] for i, arg in enumerate(args) if arg == "-p"}
    assert "no:cacheprovider" in disabled
    # What costs each per-mutant run time and cannot change a verdict stays off.
    assert {"no:unraisableexception", "no:threadexception", "no:faulthandler"} <= disabled
    profile = settings(**PROFILES["mutmut"])
    assert profile.derandomize and profile.database is None and profile.deadline is None
    assert Phase.shrink not in profile.phases


def test_ci_mutmut_starts_clean_with_one_blas_thread_and_never_runs_the_pitfalls():
    script = (ROOT / ".ci" / "mutmut").read_text()
    assert os.access(ROOT / ".ci" / "mutmut", os.X_OK)
    code = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("#"))
    for variable in ("OPENBLAS_NUM_THREADS=1", "OMP_NUM_THREADS=1", "MKL_NUM_THREADS=1",
                     "GCVERIFY_HYPOTHESIS_PROFILE=mutmut"):
        assert variable in code
    assert "! -name README.md" in code and '"$MUTMUT" run' in code
    assert "print-time-estimates" not in code and "export-cicd-stats" not in code


def function_source(dotted: str) -> str:
    """The source of ``module.function`` or ``module.Class.method`` in this clone."""
    parts = dotted.split(".")
    for split in range(len(parts) - 1, 0, -1):
        path = ROOT.joinpath(*parts[:split]).with_suffix(".py")
        if path.is_file():
            break
    else:
        raise AssertionError(f"no module for {dotted}")
    source = path.read_text()
    nodes = ast.parse(source).body
    for name in parts[split:]:
        node = next((n for n in nodes if isinstance(n, (ast.FunctionDef, ast.ClassDef))
                     and n.name == name), None)
        assert node is not None, f"{dotted}: no {name} in {path.relative_to(ROOT)}"
        nodes = node.body
    return ast.get_source_segment(source, node)


def test_every_allowlist_entry_still_matches_its_function_s_code():
    # The removed lines of each reviewed mutant are still in its function: when the code
    # changes, the entry is reviewed again here, long before mutmut says it is stale.
    entries = report.parse_allowlist((ROOT / ".ci" / "mutmut-allowlist.toml").read_text(),
                                     ".ci/mutmut-allowlist.toml")
    assert entries, "the allowlist is empty: then say so in a comment and drop this test"
    for listed in entries:
        lines = {line.strip() for line in function_source(listed.function).splitlines()}
        removed = [line[2:] for line in listed.change.splitlines() if line.startswith("- ")]
        assert removed, f"{listed.function}: {listed.change!r} removes nothing"
        for line in removed:
            assert line in lines, f"{listed.function} no longer has {line!r}"
        assert len(listed.reason) >= 40 and re.search(r"[a-z]", listed.reason), listed
