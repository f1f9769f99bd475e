"""The exit codes of every ``gcverify`` command, defined once.

>>> int(ExitCode.INCONCLUSIVE), ExitCode.of(Verdict.FAIL)
(3, <ExitCode.FAILED: 1>)
"""

from __future__ import annotations

import enum

from gcverify.result import Verdict

__all__ = ["ExitCode"]


class ExitCode(enum.IntEnum):
    """What a ``gcverify`` command tells the shell (and CI)."""

    #: The check passed / the notebook was reproduced / no mutant survived.
    OK = 0
    #: The check failed / a result was not reproduced / a mutant survived.
    FAILED = 1
    #: Bad input: an unknown option, a missing file or name, an invalid argument.
    USAGE = 2
    #: The check could not judge the backprop (``gcverify check``).
    INCONCLUSIVE = 3
    #: 128 + SIGINT, the shell's convention for a run stopped by Ctrl-C.
    INTERRUPTED = 130

    @classmethod
    def of(cls, verdict: Verdict) -> ExitCode:
        """The exit code of a check's verdict."""
        return {Verdict.PASS: cls.OK, Verdict.FAIL: cls.FAILED,
                Verdict.INCONCLUSIVE: cls.INCONCLUSIVE}[verdict]
