"""How the code under test ended badly, as plain data: one line a person reads, the
place in their file, and the traceback.

A :class:`Failure` is what a supervised child (:mod:`gcverify.supervise`) reports
instead of a value: the user's code raised, called ``sys.exit``, died (``os._exit``, a
signal), hung, ran out of memory, or Ctrl-C stopped it. It holds strings and numbers
only, so it crosses process boundaries; :meth:`Failure.line` is the sentence the
command line prints, naming ``path:line`` in the user's file when it is known.

>>> Failure(FailureKind.RAISED, error="ValueError: boom", location="net.py:7").line()
'the code under test raised ValueError: boom at net.py:7'
>>> Failure(FailureKind.TIMEOUT, limit=3.0).describe()
'hung (still running after 3 s)'
"""

from __future__ import annotations

import enum
import os
import re
import traceback
from collections.abc import Collection
from dataclasses import dataclass
from types import TracebackType

from gcverify.errors import GCVerifyError
from gcverify.limits import format_size

__all__ = [
    "Failure",
    "FailureKind",
    "UserCodeFailed",
    "dump_location",
    "error_text",
    "frame_location",
    "signal_name",
]

# A frame line of a traceback ('File "x.py", line 3, in f') or of a faulthandler dump
# ('File "x.py", line 3 in f').
_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+),? in ', re.M)
_DUMP_START = "most recent call first):"
# What the interpreter or a library writes when an allocation fails for good.
_OUT_OF_MEMORY = ("MemoryError", "out of memory", "Cannot allocate memory", "bad_alloc")
_LONGEST_MESSAGE = 300


class FailureKind(enum.Enum):
    """How the code under test ended, when it did not return."""

    RAISED = "raised"            # an exception; ``error`` is "Type: message"
    EXITED = "exited"            # SystemExit (sys.exit, argparse); ``exit_code`` its code
    CRASHED = "crashed"          # died without reporting: ``exit_code`` or ``signal``
    TIMEOUT = "timeout"          # still running after ``limit`` seconds, and killed
    MEMORY = "memory"            # out of its ``limit`` bytes of memory
    INTERRUPTED = "interrupted"  # Ctrl-C


@dataclass(frozen=True)
class Failure:
    """How the code under test ended badly (see :class:`FailureKind`).

    ``location`` is ``path:line`` of the innermost frame in the user's files (empty
    when unknown); ``traceback`` the formatted traceback (or fault dump), for
    ``--traceback``.

    >>> Failure(FailureKind.CRASHED, signal="SIGSEGV", location="net.py:9").describe()
    'was killed by SIGSEGV'
    """

    kind: FailureKind
    error: str = ""
    exit_code: int | str | None = None
    signal: str = ""
    limit: float = 0.0
    location: str = ""
    traceback: str = ""

    def describe(self) -> str:
        """What happened, as the predicate of a sentence.

        >>> Failure(FailureKind.EXITED, exit_code=0).describe()
        'called sys.exit(0)'
        """
        kind = self.kind
        if kind is FailureKind.RAISED:
            return f"raised {self.error}"
        if kind is FailureKind.EXITED:
            code = "" if self.exit_code is None else repr(self.exit_code)
            return f"called sys.exit({code})"
        if kind is FailureKind.CRASHED:
            if self.signal:
                return f"was killed by {self.signal}"
            return f"exited with code {self.exit_code}"
        if kind is FailureKind.TIMEOUT:
            return f"hung (still running after {self.limit:.3g} s)"
        if kind is FailureKind.MEMORY:
            limit = f" (limit {format_size(self.limit)})" if self.limit else ""
            return f"ran out of memory{limit}"
        return "was interrupted"

    def line(self, subject: str = "the code under test") -> str:
        """One sentence: the subject, what happened, and where when known.

        >>> Failure(FailureKind.MEMORY, limit=2**30).line("the mutant")
        'the mutant ran out of memory (limit 1 GiB)'
        """
        where = f" at {self.location}" if self.location else ""
        return f"{subject} {self.describe()}{where}"

    @classmethod
    def of_exception(cls, error: BaseException, user_files: Collection[str] = (), *,
                     memory_limit: float = 0.0) -> Failure:
        """The failure an exception that escaped the code under test stands for.

        >>> try:
        ...     raise SystemExit(2)
        ... except SystemExit as stop:
        ...     Failure.of_exception(stop).describe()
        'called sys.exit(2)'
        """
        text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        location = frame_location(error.__traceback__, user_files)
        if isinstance(error, KeyboardInterrupt):
            return cls(FailureKind.INTERRUPTED, location=location, traceback=text)
        if isinstance(error, SystemExit):
            code = error.code if isinstance(error.code, (int, type(None))) else str(error.code)
            return cls(FailureKind.EXITED, exit_code=code, location=location, traceback=text)
        if _ran_out_of_memory(error):
            return cls(FailureKind.MEMORY, limit=memory_limit, location=location,
                       traceback=text)
        return cls(FailureKind.RAISED, error=error_text(error), location=location,
                   traceback=text)

    @classmethod
    def of_death(cls, exit_code: int | None, stderr: str, user_files: Collection[str] = (),
                 *, memory_limit: float = 0.0) -> Failure:
        """A child that died without reporting: its exit status and the tail of what it
        wrote on its stderr (a fault dump names the place).

        >>> Failure.of_death(-11, "").describe()
        'was killed by SIGSEGV'
        """
        dump = stderr[stderr.rfind(_DUMP_START):] if _DUMP_START in stderr else ""
        location = dump_location(dump, user_files)
        if any(words in stderr for words in _OUT_OF_MEMORY):
            return cls(FailureKind.MEMORY, limit=memory_limit, location=location,
                       traceback=stderr)
        if exit_code is not None and exit_code < 0:
            return cls(FailureKind.CRASHED, signal=signal_name(-exit_code), location=location,
                       traceback=stderr)
        return cls(FailureKind.CRASHED, exit_code=exit_code, location=location,
                   traceback=stderr)


class UserCodeFailed(GCVerifyError):
    """The code under test crashed, exited, hung or ran out of memory; ``failure`` says
    how (``gcverify`` exits 4 with its :meth:`Failure.line`).

    >>> str(UserCodeFailed(Failure(FailureKind.EXITED, exit_code=0), "the original"))
    'the original called sys.exit(0)'
    """

    def __init__(self, failure: Failure, subject: str = "the code under test") -> None:
        super().__init__(failure.line(subject))
        self.failure = failure
        self.subject = subject


def error_text(error: BaseException) -> str:
    """``"Type: message"`` on one line, shortened when long.

    >>> error_text(ValueError("two\\nlines"))
    'ValueError: two lines'
    """
    message = " ".join(str(error).split())
    if len(message) > _LONGEST_MESSAGE:
        message = message[: _LONGEST_MESSAGE - 1] + "…"
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def signal_name(number: int) -> str:
    """``"SIGSEGV"`` for 11, ``"signal 99"`` for a number with no name.

    >>> signal_name(9), signal_name(99)
    ('SIGKILL', 'signal 99')
    """
    import signal

    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def frame_location(tb: TracebackType | None, user_files: Collection[str]) -> str:
    """``path:line`` of the innermost frame of ``tb`` in one of ``user_files`` ("" if
    none), the path written as in ``user_files``.

    >>> def f():
    ...     raise ValueError
    >>> try:
    ...     f()
    ... except ValueError as error:
    ...     frame_location(error.__traceback__, [f.__code__.co_filename]).endswith(":2")
    True
    """
    wanted = _resolved(user_files)
    found = ""
    for frame, line in traceback.walk_tb(tb):
        shown = wanted.get(_resolve(frame.f_code.co_filename))
        if shown is not None:
            found = f"{shown}:{line}"
    return found


def dump_location(dump: str, user_files: Collection[str]) -> str:
    """``path:line`` of the innermost frame of a faulthandler dump (most recent call
    first) in one of ``user_files`` ("" if none).

    >>> dump = 'Stack (most recent call first):\\n  File "/tmp/net.py", line 6 in forward'
    >>> dump_location(dump, ["/tmp/net.py"])
    '/tmp/net.py:6'
    """
    wanted = _resolved(user_files)
    for match in _FRAME.finditer(dump):
        shown = wanted.get(_resolve(match["file"]))
        if shown is not None:
            return f"{shown}:{match['line']}"
    return ""


def _ran_out_of_memory(error: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, MemoryError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _resolved(files: Collection[str]) -> dict[str, str]:
    """Each file's real path -> the file as the user named it (as locations show it)."""
    return {_resolve(file): file for file in files}


def _resolve(file: str) -> str:
    return os.path.realpath(file) if not file.startswith("<") else file
