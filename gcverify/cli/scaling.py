"""Where a command's tasks run: ``--jobs``, ``--executor`` and ``--scheduler``, shared by
``gcverify mutate`` and ``gcverify sensitivity`` (see :mod:`gcverify.executors`).

>>> import click
>>> @click.command()
... @executor_options("Tasks run")
... def command(jobs, executor, scheduler):
...     click.echo(f"{jobs} {executor} {scheduler}")
>>> from click.testing import CliRunner
>>> CliRunner().invoke(command, ["--scheduler", "tcp://127.0.0.1:8786"]).output
'None None tcp://127.0.0.1:8786\\n'
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click

from gcverify.cli.exit_codes import ExitCode
from gcverify.cli.shared import jobs_option
from gcverify.executors import EXECUTORS

__all__ = ["executor_options", "exit_after_run"]

F = TypeVar("F", bound=Callable[..., Any])


def executor_options(what: str) -> Callable[[F], F]:
    """``--jobs``, ``--executor local|dask`` and ``--scheduler ADDRESS``."""
    def decorate(command: F) -> F:
        command = click.option(
            "--scheduler", metavar="ADDRESS", default=None,
            help="Run on the Dask cluster whose scheduler is at ADDRESS (e.g. "
                 "tcp://10.0.0.5:8786); needs pip install 'gcverify[dask]'.")(command)
        command = click.option(
            "--executor", type=click.Choice(EXECUTORS), default=None,
            help="local: child processes on this machine; dask: a Dask cluster (the one at "
                 "--scheduler, or one started on this machine with --jobs workers)  "
                 "[default: local; dask with --scheduler]")(command)
        return jobs_option(what)(command)
    return decorate


def exit_after_run(stopped: bool, lost: str | None, finished: ExitCode) -> NoReturn:
    """Exit once the reports of what finished are written: 130 when Ctrl-C stopped the
    run (what the user asked for comes first), else one line on stderr and 4 when the
    cluster went away (``lost`` says how), else ``finished``.

    >>> exit_after_run(True, "the Dask scheduler went away", ExitCode.OK)
    Traceback (most recent call last):
    SystemExit: 130
    """
    if stopped:
        sys.exit(ExitCode.INTERRUPTED)
    if lost:
        click.echo(f"gcverify: error: {lost}; the reports cover what finished", err=True)
        sys.exit(ExitCode.CRASHED)
    sys.exit(finished)
