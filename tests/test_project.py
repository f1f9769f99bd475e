"""Project-level promises: the README's commands, .ci/run, the mutants/ workspace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    first_block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert first_block and text.index(first_block.group(0)) < text.index("\n## "), \
        "the README must start with its commands"
    return first_block.group(1).strip().splitlines()


def test_readme_starts_with_the_two_commands():
    commands = readme_commands()
    assert len(commands) == 2
    main_job, tests = commands
    assert main_job == "python -m pip install '.[plots]' && gcverify run"
    assert tests == "python -m pip install '.[test]' && python -m pytest"


def test_ci_runs_exactly_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert readme_commands()[1] in ci.splitlines()
    assert "-eq 5" in ci, ".ci/run must fail loudly when pytest collects no tests"


def test_ci_type_checks_the_package_with_the_projects_configuration():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert "python -m mypy gcverify" in ci
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert config["tool"]["mypy"]["check_untyped_defs"] is True
    test_extra = config["project"]["optional-dependencies"]["test"]
    assert any(req.startswith("mypy") for req in test_extra)


def test_design_card_top_level_exists():
    for name in ("pyproject.toml", "README.md", "gcverify", "tests", "mutants", "setup.cfg"):
        assert (ROOT / name).exists(), name
    assert (ROOT / "gcverify" / "py.typed").exists()


def test_only_the_mutants_readme_is_tracked():
    ignore = (ROOT / ".gitignore").read_text().splitlines()
    assert "mutants/*" in ignore and "!mutants/README.md" in ignore
    assert (ROOT / "mutants" / "README.md").exists()


def test_console_script_and_test_extra_are_declared():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["gcverify"] == "gcverify.cli:main"
    assert any(req.startswith("pytest") for req in project["optional-dependencies"]["test"])
    assert {"numpy", "hypothesis"} <= {re.split(r"[<>=!~ ]", r)[0] for r in project["dependencies"]}
