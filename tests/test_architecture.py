"""The shape of the code base: layers that do not leak, modules of one idea, no private
names reached across modules. Read from the source with ``ast``, not from imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gcverify"
MODULES = sorted(PACKAGE.rglob("*.py"))
LONGEST = 450


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (``from a import b`` gives ``a.b`` too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@pytest.mark.parametrize("core", ["check", "pipeline", "verdict", "diagnosis", "numdiff",
                                  "evaluate", "options", "result", "validate",
                                  "backward_noise"])
def test_the_checker_core_knows_nothing_of_the_reference_network(core):
    package = PACKAGE / core
    paths = sorted(package.glob("*.py")) if package.is_dir() else [PACKAGE / f"{core}.py"]
    imports = set().union(*map(imported_modules, paths))
    assert not {name for name in imports if name.startswith("gcverify.models")}, imports


def test_the_library_never_imports_the_command_line():
    for path in MODULES:
        if "cli" in path.relative_to(PACKAGE).parts or path.name == "__main__.py":
            continue
        assert not {n for n in imported_modules(path) if n.startswith("gcverify.cli")}, path


def test_renderers_import_no_campaign_machinery():
    for path in (PACKAGE / "report").glob("*.py"):
        imports = imported_modules(path)
        assert "gcverify.mutation.campaign" not in imports, path


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_is_longer_than_one_idea_needs(path):
    assert len(path.read_text().splitlines()) <= LONGEST


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_private_name_is_imported_from_another_module(path):
    # A package may import its own private modules (gcverify imports gcverify._version);
    # no one else may.
    package = module_name(path) if path.name == "__init__.py" else module_name(path.parent)
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gcverify"):
            parent, _, last = node.module.rpartition(".")
            if any(part.startswith("_") for part in parent.split(".")) or (
                    last.startswith("_") and parent != package):
                pytest.fail(f"{module_name(path)} imports the private module {node.module}")
            private = [a.name for a in node.names
                       if a.name.startswith("_") and a.name != "__version__"]
            assert not private, f"{module_name(path)} imports {private} from {node.module}"


def test_a_campaign_and_the_sampling_of_cases_do_not_import_hypothesis():
    # Hypothesis is for the strategies and their tests; a mutation campaign draws its
    # examples with gcverify.sampling, which needs numpy only.
    import subprocess
    import sys

    code = ("import sys, gcverify.sampling, gcverify.mutation.campaign; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'hypothesis'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]", out.stdout
