"""How long and how much memory the code under test may take: defaults, sizes in words.

Every child process that runs a user's code (``gcverify check``, a campaign's import
probe, its baseline and each mutant) has a time limit and a memory limit. The memory
limit is the address space the child may add to what it starts with (a forked child
starts with gcverify's own interpreter, numpy and its thread pools mapped in, which
depend on the machine, not on the user's code).

>>> parse_size("512M"), parse_size("1.5G"), format_size(3 * 2**29)
(536870912, 1610612736, '1.5 GiB')
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from gcverify.errors import invalid_argument

__all__ = [
    "DEFAULT_TIME_LIMIT",
    "MIN_MEMORY_LIMIT",
    "default_memory_limit",
    "format_size",
    "parse_size",
    "total_memory",
]

#: Seconds the code under test may run when no limit is given: ``gcverify check``, and a
#: campaign's import and baseline when the per-mutant limit is automatic.
DEFAULT_TIME_LIMIT = 600.0
#: The default memory limit is never below this (1 GiB).
MIN_MEMORY_LIMIT = 2**30

_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([KMGT]?)(?:I?B)?\s*$", re.IGNORECASE)
_CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


def parse_size(text: str) -> int:
    """Bytes in ``"2G"``, ``"512M"``, ``"1.5GiB"``, ``"300mb"`` or ``"1048576"`` (binary
    units: ``K`` is 1024 bytes), or an InvalidArgument naming ``memory_limit``.

    >>> parse_size("2G") == 2 * 1024**3
    True
    >>> parse_size("lots")
    Traceback (most recent call last):
    ...
    gcverify.errors.InvalidArgument: memory_limit='lots' is not a size; pass e.g. ...
    """
    match = _SIZE.match(text) if isinstance(text, str) else None
    size = int(float(match.group(1)) * _UNITS[match.group(2).upper()]) if match else 0
    if size < 1:
        raise invalid_argument("memory_limit", text, "is not a size",
                               "pass e.g. memory_limit='2G' or '512M'")
    return size


def format_size(size: float) -> str:
    """``size`` bytes in the largest binary unit that keeps a number of at least 1,
    with at most three significant digits.

    >>> format_size(300 * 2**20), format_size(2**30), format_size(512)
    ('300 MiB', '1 GiB', '512 B')
    """
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{int(size)} B"


def total_memory() -> int | None:
    """The memory this process may use: the machine's RAM, or its control group's limit
    when that is lower (a container); None where neither can be read.

    >>> total_memory() is None or total_memory() > 0
    True
    """
    try:
        total: int | None = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        total = None
    for name in _CGROUP_LIMITS:
        try:
            limit = int(Path(name).read_text().strip())
        except (OSError, ValueError):  # absent, or "max"
            continue
        total = limit if total is None else min(total, limit)
    return total if total is None or total > 0 else None


def default_memory_limit(jobs: int = 1) -> int:
    """A sensible share of the machine for each of ``jobs`` children at once: half the
    memory divided among them, and at least :data:`MIN_MEMORY_LIMIT`.

    >>> default_memory_limit(2) >= MIN_MEMORY_LIMIT
    True
    """
    total = total_memory()
    if total is None:
        return 4 * MIN_MEMORY_LIMIT
    return max(MIN_MEMORY_LIMIT, total // (2 * max(1, jobs)))
