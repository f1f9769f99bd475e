"""What several commands share: options generated from :class:`CheckOptions`, the common
options (``--seed``, ``--jobs``, ``--output``, ...), verdict colours, and the translation
of library errors into the command line's words.

The library names arguments as Python does (``threshold=-1``, ``path='net.py'``); the
command line names them as the user typed them (``--threshold``, ``FILE``):
:func:`error_line` renames them.

>>> from gcverify.errors import invalid_argument
>>> error_line(invalid_argument("threshold", -1, "is not positive", "pass e.g. threshold=2e-7"))
'gcverify: error: --threshold=-1 is not positive; pass e.g. --threshold 2e-7'
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click

from gcverify.cli.exit_codes import ExitCode
from gcverify.errors import GCVerifyError, InvalidArgument
from gcverify.failure import Failure, FailureKind
from gcverify.limits import DEFAULT_TIME_LIMIT, parse_size
from gcverify.options import CheckOptions, option_fields
from gcverify.result import Verdict

__all__ = [
    "CommandLineError",
    "build_check_options",
    "check_option_names",
    "check_options",
    "error_line",
    "exit_for_failure",
    "failure_line",
    "jobs_option",
    "memory_limit_option",
    "output_option",
    "progress_option",
    "styled_verdict",
    "time_limit_option",
    "traceback_option",
]

F = TypeVar("F", bound=Callable[..., Any])

#: Library argument names and how the command line spells them.
FLAGS = {
    "path": "FILE",
    "convention": "--convention",
    "forward": "--forward",
    "backward": "--backward",
    "cost": "--cost",
    "model": "--model",
    "lambd": "--lambd",
    "keep_prob": "--keep-prob",
    "case": "--case",
    "layers": "--layers",
    "batch": "--batch",
    "layout": "--layout",
    "mutate": "--mutate",
    "examples": "--examples",
    "jobs": "--jobs",
    "executor": "--executor",
    "scheduler": "--scheduler",
    "time_limit": "--time-limit",
    "memory_limit": "--memory-limit",
    "directory": "--output",
    **{spec.name: f"--{spec.flag}" for spec in option_fields()},
}

_VERDICT_COLOURS = {Verdict.PASS: "green", Verdict.FAIL: "red", Verdict.INCONCLUSIVE: "yellow"}


class CommandLineError(GCVerifyError):
    """Options that do not go together; the message names them as flags."""


def error_line(error: GCVerifyError) -> str:
    """The one line a command prints for a library error, in the command line's words."""
    if isinstance(error, InvalidArgument):
        error = error.renamed(FLAGS)
    return f"gcverify: error: {error}"


def failure_line(failure: Failure) -> str:
    """The one line a command prints when the code under test did not return.

    >>> failure_line(Failure(FailureKind.RAISED, error="ValueError: boom", location="n.py:3"))
    'gcverify: error: the code under test raised ValueError: boom at n.py:3'
    """
    if failure.kind is FailureKind.INTERRUPTED:
        return "gcverify: interrupted"
    return f"gcverify: error: {failure.line()}"


def exit_for_failure(failure: Failure, show_traceback: bool = False) -> NoReturn:
    """Print :func:`failure_line` (and, with ``--traceback``, the traceback) on stderr,
    and exit 4 (130 for Ctrl-C).

    >>> try:
    ...     exit_for_failure(Failure(FailureKind.TIMEOUT, limit=3.0))
    ... except SystemExit as stop:
    ...     stop.code
    <ExitCode.CRASHED: 4>
    """
    click.echo(failure_line(failure), err=True)
    if show_traceback and failure.traceback:
        click.echo(failure.traceback.rstrip("\n"), err=True)
    sys.exit(ExitCode.of_failure(failure))


def styled_verdict(verdict: Verdict, width: int = 0) -> str:
    """``PASS`` in green, ``FAIL`` in red, ``INCONCLUSIVE`` in yellow, padded to ``width``."""
    return click.style(f"{verdict!s:<{width}}", fg=_VERDICT_COLOURS[verdict], bold=True)


def check_option_names() -> tuple[str, ...]:
    """The parameter names :func:`check_options` adds to a command."""
    return tuple(spec.name for spec in option_fields())


def check_options(*, seed_help: str = "", without: tuple[str, ...] = ()) -> Callable[[F], F]:
    """Add one option per :class:`CheckOptions` field (``--threshold``, ``--method``, ...),
    with the field's help and default; ``seed_help`` adds to ``--seed``'s help what else
    the command seeds with it; ``without`` names fields the command sets itself (a
    campaign's ``--jobs`` counts its workers, not a check's)."""
    def decorate(command: F) -> F:
        for spec in reversed(option_fields()):
            if spec.name in without:
                continue
            kind: Any = click.Choice(spec.choices) if spec.choices else spec.parse
            text = spec.help[0].upper() + spec.help[1:] + "."
            if spec.name == "seed" and seed_help:
                text += " " + seed_help
            command = click.option(f"--{spec.flag}", spec.name, type=kind,
                                   default=spec.default, show_default=spec.default is not None,
                                   metavar=None if spec.choices else spec.metavar,
                                   help=text)(command)
        return command
    return decorate


def build_check_options(values: dict[str, Any], *, without: tuple[str, ...] = (),
                        **fixed: Any) -> CheckOptions:
    """The :class:`CheckOptions` from a command's parameters (its check options only, but
    those ``without``), and the ``fixed`` ones."""
    return CheckOptions(**{name: values[name] for name in check_option_names()
                           if name not in without}, **fixed)


def jobs_option(what: str) -> Callable[[F], F]:
    return click.option("--jobs", type=click.IntRange(min=1), default=None,
                        help=f"{what} at once  [default: the usable cores]")


def output_option(what: str) -> Callable[[F], F]:
    return click.option("--output", type=click.Path(file_okay=False), default="mutants",
                        show_default=True, help=f"Folder for {what}.")


progress_option = click.option(
    "--progress/--no-progress", default=None,
    help="Progress bar on stderr  [default: when stderr is a terminal]")


class MemorySize(click.ParamType):
    """A size such as ``2G`` or ``512M``, in bytes.

    >>> MemorySize().convert("512M", None, None)
    536870912
    """

    name = "size"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            return parse_size(value)
        except InvalidArgument:
            self.fail(f"{value!r} is not a size; pass e.g. 2G or 512M", param, ctx)


def time_limit_option(what: str, default: float | None = DEFAULT_TIME_LIMIT,
                      shown: str | None = None) -> Callable[[F], F]:
    """``--time-limit SECONDS``: how long ``what`` may run before it counts as hung.

    >>> @time_limit_option("Seconds per check.")
    ... @click.command()
    ... def command(time_limit: float) -> None:
    ...     print(time_limit)
    >>> command.main(["--time-limit", "3"], standalone_mode=False)
    3.0
    """
    note = f"  [default: {shown}]" if shown else ""
    return click.option("--time-limit", type=click.FloatRange(min=0, min_open=True),
                        default=default, show_default=shown is None and default is not None,
                        metavar="SECONDS", help=f"{what}{note}")


memory_limit_option = click.option(
    "--memory-limit", type=MemorySize(), default=None, metavar="SIZE",
    help="Memory each child running your code may add, e.g. 2G or 512M; a child that "
         "needs more counts as out of memory  [default: half the machine's memory "
         "shared among the jobs, at least 1G]")

traceback_option = click.option(
    "--traceback", "show_traceback", is_flag=True,
    help="When your code raises, exits, crashes or hangs: print its traceback after "
         "the one-line error.")
