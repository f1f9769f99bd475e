"""The exit codes of every ``gcverify`` command, defined once.

>>> int(ExitCode.INCONCLUSIVE), ExitCode.of(Verdict.FAIL)
(3, <ExitCode.FAILED: 1>)
>>> ExitCode.of_failure(Failure(FailureKind.EXITED, exit_code=0))
<ExitCode.CRASHED: 4>
"""

from __future__ import annotations

import enum

from gcverify.failure import Failure, FailureKind
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
    #: The code under test crashed, exited or hung (or ran out of memory): it raised,
    #: called ``sys.exit``/``os._exit``, died by a signal, or outran a limit; or the
    #: Dask cluster running it went away (its scheduler was lost).
    CRASHED = 4
    #: 128 + SIGINT, the shell's convention for a run stopped by Ctrl-C.
    INTERRUPTED = 130

    @classmethod
    def of(cls, verdict: Verdict) -> ExitCode:
        """The exit code of a check's verdict."""
        return {Verdict.PASS: cls.OK, Verdict.FAIL: cls.FAILED,
                Verdict.INCONCLUSIVE: cls.INCONCLUSIVE}[verdict]

    @classmethod
    def of_failure(cls, failure: Failure) -> ExitCode:
        """The exit code when the code under test did not return: 130 for Ctrl-C, else 4."""
        return cls.INTERRUPTED if failure.kind is FailureKind.INTERRUPTED else cls.CRASHED
