"""The README's fault count is the suites' own: every fault it promises is a test here."""

from __future__ import annotations

import re
from pathlib import Path

from tests.faults import test_campaign_faults, test_checker_faults, test_command_faults
from tests.faults.processes import running_as_root

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_counts_the_fault_tables() -> None:
    checker = len(test_checker_faults.CASES)
    command = len(test_command_faults.CASES)
    # The read-only --output row needs a user that cannot write everywhere.
    campaign = len(test_campaign_faults.CASES) + (1 if running_as_root else 0)
    text = " ".join(README.read_text().split())
    promised = re.search(r"\*\*(\d+) bad inputs and faults\*\*, each a test in "
                         r"`tests/faults/` \((\d+) for the checker, (\d+) for `gcverify "
                         r"check`, (\d+) for `gcverify mutate` and `run`\)", text)
    assert promised, "the README must say how many faults tests/faults/ covers"
    assert [int(n) for n in promised.groups()] == [checker + command + campaign, checker,
                                                   command, campaign]
