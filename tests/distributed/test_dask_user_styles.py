"""``gcverify mutate`` on code written in other conventions, on a real Dask cluster: a
class's method (the model rebuilt on the worker from the mutated class) and a layer
function called from a ``loss`` give the same report as the local run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.distributed.cluster import running_cluster

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = {
    "class_based": ["--convention", "model", "--model", "TwoLayerNet(4, 4, 3)", "--case",
                    "make_data"],
    "row_major": ["--convention", "loss-and-grads", "--layout", "rows", "--forward", "loss",
                  "--layers", "4,5,3", "--mutate", "affine_backward"],
}


def mutate(project: Path, name: str, output: str, *extra: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "gcverify", "mutate", f"project/{name}.py",
                           *COMMANDS[name], "--examples", "2", "--output", output, *extra],
                          cwd=project, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    document = json.loads((project / output / "report.json").read_text())
    document.pop("timing")
    return document


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_user_style_campaign_on_dask_writes_the_local_report(tmp_path: Path, name: str):
    (tmp_path / "project").mkdir()  # a folder the workers never see
    shutil.copy(ROOT / "examples" / f"{name}.py", tmp_path / "project" / f"{name}.py")
    local = mutate(tmp_path, name, "local")
    with running_cluster(workers=2) as cluster:
        remote = mutate(tmp_path, name, "remote", "--scheduler", cluster.address)
    assert remote == local
    assert local["summary"]["survived"] == 0 and local["summary"]["total"] >= 27
