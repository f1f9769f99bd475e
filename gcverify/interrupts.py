"""Ctrl-C that is never lost.

Python turns SIGINT into a :class:`KeyboardInterrupt` raised in whatever Python code
runs next. When that code is a garbage-collector callback (Hypothesis installs one to
time the collector), a ``__del__`` method or a weakref callback, the interpreter prints
"Exception ignored in ..." and carries on as if nothing had happened: some Ctrl-C in
``gcverify run``'s property sweep were lost that way, and the run finished with exit 0.

While :func:`catching_interrupts` is active, SIGINT is also *counted* (and a swallowed
one is not printed as "Exception ignored": it is not ignored any more). The long loops
(the sweep's examples, a campaign's children, a supervised child's wait) call
:func:`check_interrupt`, which raises :class:`KeyboardInterrupt` again once one was
seen, and the commands exit 130 when :func:`interrupted` says so, whatever their steps
returned. Inside :func:`deferred_interrupts` (writing reports) SIGINT is only counted:
the files are written whole, then the command exits 130.

>>> with catching_interrupts():
...     interrupted()
False
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

__all__ = ["catching_interrupts", "check_interrupt", "deferred_interrupts", "interrupted"]


class _State:
    seen = 0        # SIGINTs counted since the outermost catching_interrupts() began
    deferred = 0    # depth of deferred_interrupts()


def _handler(signum: int, frame: FrameType | None) -> None:
    _State.seen += 1
    if not _State.deferred:
        raise KeyboardInterrupt


@contextlib.contextmanager
def catching_interrupts() -> Iterator[None]:
    """Count SIGINT (and raise :class:`KeyboardInterrupt`, as Python does) inside.

    Only in the main thread, and only where SIGINT has Python's default handler (or
    this one, when nested): a handler someone else installed is left alone.

    >>> import os, signal
    >>> with catching_interrupts():
    ...     try:
    ...         os.kill(os.getpid(), signal.SIGINT)
    ...         check_interrupt()
    ...     except KeyboardInterrupt:
    ...         print("stopped", interrupted())
    stopped True
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    current = signal.getsignal(signal.SIGINT)
    if current is _handler or current is not signal.default_int_handler:
        yield
        return
    _State.seen = 0
    previous_hook = sys.unraisablehook

    def unraisable(event: Any) -> None:
        if not (isinstance(event.exc_value, KeyboardInterrupt) and _State.seen):
            previous_hook(event)  # a counted Ctrl-C is raised again: no need to print it

    signal.signal(signal.SIGINT, _handler)
    sys.unraisablehook = unraisable
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, current)
        sys.unraisablehook = previous_hook


def interrupted() -> bool:
    """Was SIGINT received since the outermost :func:`catching_interrupts` began?

    >>> interrupted() in (True, False)
    True
    """
    return _State.seen > 0 and signal.getsignal(signal.SIGINT) is _handler


def check_interrupt() -> None:
    """Raise :class:`KeyboardInterrupt` if SIGINT was received (and is not deferred),
    even if the first one was swallowed where it landed.

    >>> check_interrupt()  # nothing received: nothing happens
    """
    if interrupted() and not _State.deferred:
        raise KeyboardInterrupt


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Inside, SIGINT is only counted (under :func:`catching_interrupts`): what is being
    written is written whole; :func:`interrupted` tells afterwards.

    >>> import os, signal
    >>> with catching_interrupts():
    ...     with deferred_interrupts():
    ...         os.kill(os.getpid(), signal.SIGINT)
    ...         print("still writing")
    ...     interrupted()
    still writing
    True
    """
    _State.deferred += 1
    try:
        yield
    finally:
        _State.deferred -= 1
