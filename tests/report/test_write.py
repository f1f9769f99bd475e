"""write_reports: four files in one folder, nothing else."""

from __future__ import annotations

import pytest

from gcverify.errors import InvalidArgument
from gcverify.report import REPORT_FILES, write_reports
from tests.mutation.campaigns import mixed_campaign


def test_all_four_files(tmp_path):
    written = write_reports(mixed_campaign(), tmp_path / "deep" / "mutants")
    assert {name: path.name for name, path in written.items()} == {
        "markdown": "report.md", "html": "report.html", "json": "report.json",
        "junit": "report.xml"}
    for name, path in written.items():
        assert path.read_text(encoding="utf-8") == REPORT_FILES[name][1](mixed_campaign())


def test_some_formats_only(tmp_path):
    written = write_reports(mixed_campaign(), tmp_path, formats=["json"])
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"] == [
        p.name for p in written.values()]


def test_bad_arguments(tmp_path):
    with pytest.raises(InvalidArgument, match=r"has unknown formats \['pdf'\]"):
        write_reports(mixed_campaign(), tmp_path, formats=["pdf"])
    file = tmp_path / "taken"
    file.write_text("")
    with pytest.raises(InvalidArgument, match="is a file, not a folder"):
        write_reports(mixed_campaign(), file)
