"""Whether a process still runs, for the tests that check that gcverify killed one."""

from __future__ import annotations

from pathlib import Path


def running(pid: int) -> bool:
    """Running: it exists and is not a zombie (dead, waiting for its parent to reap it).

    >>> import os
    >>> running(os.getpid())
    True
    """
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"
