"""sensitivity.html in a real browser: headless Chromium renders its three figures and
reports no console error. Skipped only where Chromium is absent (.ci/run installs it)."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from gcverify.sensitivity import PRESETS, run_study, write_study

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")
# Headless, and quiet on a machine without network or D-Bus.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-quic", "--enable-logging=stderr", "--v=0"]


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    pytest.importorskip("matplotlib")
    folder = tmp_path_factory.mktemp("study")
    return write_study(run_study(PRESETS["tiny"], seed=5, jobs=2), folder)["sensitivity.html"]


def chromium(tmp_path, *arguments):
    done = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                           *arguments], capture_output=True, text=True, timeout=120)
    return done.stdout, done.stderr


def test_the_page_renders_three_figures_and_logs_no_console_error(page, tmp_path):
    dom, log = chromium(tmp_path, "--dump-dom", page.as_uri())
    assert dom.count("<svg") == 3 and dom.count("<path") > 30
    console = [line for line in log.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == []


def test_the_figures_are_drawn_in_colour(page, tmp_path):
    image_module = pytest.importorskip("matplotlib.image")
    shot = tmp_path / "page.png"
    chromium(tmp_path, "--window-size=1000,2600", f"--screenshot={shot}", page.as_uri())
    pixels = image_module.imread(shot)[..., :3]
    # gcverify's green (#1a7f37) and the notebook's red (#cf222e) lines are on screen.
    for colour in ((0x1a, 0x7f, 0x37), (0xcf, 0x22, 0x2e)):
        close = np.all(np.abs(pixels - np.array(colour) / 255) < 0.08, axis=-1)
        assert close.sum() > 50, colour
