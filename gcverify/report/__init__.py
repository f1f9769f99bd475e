"""Reports of a mutation campaign: Markdown, HTML, JSON and JUnit XML.

Each renderer only reads a :class:`~gcverify.mutation.CampaignResult` and returns
text; :func:`write_reports` writes all four into one folder (``mutants/`` by default).
The JSON follows the schema shipped as ``gcverify/report/report.schema.json``
(:func:`load_schema`; the fields are described in :mod:`gcverify.report.json`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from gcverify.errors import invalid_argument
from gcverify.report.html import render_html
from gcverify.report.json import SCHEMA_VERSION, load_schema, render_json, report_document
from gcverify.report.junit import render_junit
from gcverify.report.markdown import render_markdown

if TYPE_CHECKING:
    from gcverify.mutation.results import CampaignResult

__all__ = [
    "REPORT_FILES",
    "SCHEMA_VERSION",
    "load_schema",
    "prepare_output",
    "render_html",
    "render_json",
    "render_junit",
    "render_markdown",
    "report_document",
    "write_reports",
]

#: Format name -> (file name, renderer).
REPORT_FILES: dict[str, tuple[str, Callable[[CampaignResult], str]]] = {
    "markdown": ("report.md", render_markdown),
    "html": ("report.html", render_html),
    "json": ("report.json", render_json),
    "junit": ("report.xml", render_junit),
}


def prepare_output(directory: str | Path) -> Path:
    """Make sure the reports can be written into ``directory`` before anything runs:
    it is (or is now) a folder, and a file can be created in it (and is removed).

    Raises an InvalidArgument naming ``directory`` otherwise, so that a campaign never
    runs only to lose its results.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     prepare_output(Path(folder) / "mutants").is_dir()
    True
    """
    folder = Path(directory)
    if folder.exists() and not folder.is_dir():
        raise invalid_argument("directory", str(directory), "is a file, not a folder",
                               "pass a folder for the reports, e.g. mutants/")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".gcverify-probe-"):
            pass
    except OSError as error:
        raise invalid_argument("directory", str(directory),
                               f"cannot be written ({error.strerror or error})",
                               "pass a folder you can write to, e.g. mutants/") from None
    return folder


def write_reports(result: CampaignResult, directory: str | Path = "mutants", *,
                  formats: Sequence[str] = tuple(REPORT_FILES)) -> dict[str, Path]:
    """Write the reports of ``result`` into ``directory`` (created if needed).

    Returns format name -> path written. Files are written whole, as UTF-8.

    >>> import tempfile
    >>> from gcverify.mutation import mutate_function, notebook_target, run_campaign
    >>> target = notebook_target()
    >>> pick = [m for m in mutate_function(target.backward) if m.description == "db1 × 4"]
    >>> result = run_campaign(target, examples=2, mutants=pick, jobs=1)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     sorted(path.name for path in write_reports(result, folder).values())
    ['report.html', 'report.json', 'report.md', 'report.xml']
    """
    unknown = [name for name in formats if name not in REPORT_FILES]
    if unknown:
        raise invalid_argument("formats", list(formats), f"has unknown formats {unknown}",
                               f"use some of {', '.join(REPORT_FILES)}")
    folder = Path(directory)
    if folder.exists() and not folder.is_dir():
        raise invalid_argument("directory", str(directory), "is a file, not a folder",
                               "pass a folder for the reports, e.g. mutants/")
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name in formats:
        file_name, render = REPORT_FILES[name]
        path = folder / file_name
        path.write_text(render(result), encoding="utf-8")
        written[name] = path
    return written
