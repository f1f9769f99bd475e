"""docs/ci-recipe.md's snippets, run as they are written: each ```python block whose first
line names a file (``# conftest.py``) is written to that file, beside the examples under
the module names the recipe gives them, and pytest runs the lot."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "docs" / "ci-recipe.md"
# The recipe's module names for the code under test, and the example each one is.
MODULES = {"mynet": "notebook_style", "deepnet": "l_layer", "rownet": "row_major",
           "classnet": "class_based"}


def recipe_files() -> dict[str, str]:
    """``{file name: code}`` of the recipe's Python snippets that name their file."""
    blocks = re.findall(r"```python\n# (\S+\.py)\n(.*?)```", RECIPE.read_text(), re.DOTALL)
    return dict(blocks)


def test_the_recipe_names_its_files_and_the_modules_they_import():
    files = recipe_files()
    assert sorted(files) == ["conftest.py", "test_backprop.py", "test_other_conventions.py"]
    imported = set(re.findall(r"^import (\w+)$", "".join(files.values()), re.MULTILINE))
    assert imported - {"pytest"} == set(MODULES)


def test_the_recipes_property_tests_pass_on_the_examples(pytester, monkeypatch):
    monkeypatch.setenv("GCVERIFY_HYPOTHESIS_PROFILE", "ci")
    for name, code in recipe_files().items():
        (pytester.path / name).write_text(code)
    for module, example in MODULES.items():
        (pytester.path / f"{module}.py").write_text((ROOT / "examples" / f"{example}.py")
                                                    .read_text())
    # In a subprocess, as a user's CI runs it: an in-process run would share (and, once
    # over, drop) the modules other pytester runs of this session imported.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=6)
