"""A plain-text progress bar on stderr, for campaigns (mutants, with their outcomes)
and studies (tasks).

>>> import io
>>> from types import SimpleNamespace
>>> stream = io.StringIO()
>>> bar = ProgressBar(stream, interactive=False, width=10)
>>> bar(1, 2, SimpleNamespace(outcome=SimpleNamespace(label="killed")))
>>> print(stream.getvalue().strip())
mutants 1/2 [#####-----]  killed 1  0 s
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections import Counter
from collections.abc import Iterator
from typing import IO, Any

__all__ = ["ProgressBar", "progress_bar"]


class ProgressBar:
    """``progress(done, total, result)`` for :func:`gcverify.mutation.run_campaign`, and
    :meth:`count` ``(done, total)`` for :func:`gcverify.sensitivity.run_study`.

    On a terminal it redraws one line; elsewhere it writes a line at every tenth.
    """

    def __init__(self, stream: IO[str], *, interactive: bool, width: int = 30,
                 unit: str = "mutants") -> None:
        self.stream = stream
        self.interactive = interactive
        self.width = width
        self.unit = unit
        self.tally: Counter[str] = Counter()
        self.started = time.monotonic()
        self.shown_tenth = -1

    def __call__(self, done: int, total: int, result: Any) -> None:
        self.tally[result.outcome.label] += 1
        self.count(done, total)

    def count(self, done: int, total: int) -> None:
        """``done`` of ``total`` finished.

        >>> import io
        >>> stream = io.StringIO()
        >>> ProgressBar(stream, interactive=False, width=4, unit="tasks").count(3, 4)
        >>> stream.getvalue()
        'tasks 3/4 [###-]  0 s\\n'
        """
        tenth = 10 * done // max(total, 1)
        if self.interactive or tenth != self.shown_tenth or done == total:
            self.shown_tenth = tenth
            self._draw(done, total)

    def phase(self, text: str) -> None:
        """Say on a line of its own what starts now (importing, the baseline, ...).

        >>> import io
        >>> stream = io.StringIO()
        >>> ProgressBar(stream, interactive=False).phase("importing net.py")
        >>> stream.getvalue()
        'importing net.py ...\\n'
        """
        prefix = "\r\x1b[K" if self.interactive else ""
        self.stream.write(f"{prefix}{text} ...\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.interactive:
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self, done: int, total: int) -> None:
        filled = self.width * done // max(total, 1)
        counts = "  ".join(f"{label} {count}" for label, count in sorted(self.tally.items()))
        elapsed = time.monotonic() - self.started
        line = (f"{self.unit} {done}/{total} [{'#' * filled}{'-' * (self.width - filled)}]"
                + (f"  {counts}" if counts else "") + (f"  {elapsed:.0f} s" if done else ""))
        if self.interactive:
            self.stream.write("\r" + line + "\x1b[K")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


@contextlib.contextmanager
def progress_bar(wanted: bool | None, unit: str = "mutants"
                 ) -> Iterator[ProgressBar | None]:
    """A bar on stderr when ``wanted`` (None: when stderr is a terminal), finished on exit.

    >>> with progress_bar(False) as bar:
    ...     bar is None
    True
    """
    interactive = sys.stderr.isatty()
    bar = ProgressBar(sys.stderr, interactive=interactive, unit=unit) \
        if (wanted if wanted is not None else interactive) else None
    try:
        yield bar
    finally:
        if bar is not None:
            bar.finish()
