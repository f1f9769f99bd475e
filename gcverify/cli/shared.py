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

from collections.abc import Callable
from typing import Any, TypeVar

import click

from gcverify.errors import GCVerifyError, InvalidArgument
from gcverify.options import CheckOptions, option_fields
from gcverify.result import Verdict

__all__ = [
    "CommandLineError",
    "build_check_options",
    "check_option_names",
    "check_options",
    "error_line",
    "jobs_option",
    "output_option",
    "progress_option",
    "styled_verdict",
]

F = TypeVar("F", bound=Callable[..., Any])

#: Library argument names and how the command line spells them.
FLAGS = {
    "path": "FILE",
    "forward": "--forward",
    "backward": "--backward",
    "case": "--case",
    "layers": "--layers",
    "batch": "--batch",
    "examples": "--examples",
    "jobs": "--jobs",
    "time_limit": "--time-limit",
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


def styled_verdict(verdict: Verdict, width: int = 0) -> str:
    """``PASS`` in green, ``FAIL`` in red, ``INCONCLUSIVE`` in yellow, padded to ``width``."""
    return click.style(f"{verdict!s:<{width}}", fg=_VERDICT_COLOURS[verdict], bold=True)


def check_option_names() -> tuple[str, ...]:
    """The parameter names :func:`check_options` adds to a command."""
    return tuple(spec.name for spec in option_fields())


def check_options(*, seed_help: str = "") -> Callable[[F], F]:
    """Add one option per :class:`CheckOptions` field (``--threshold``, ``--method``, ...),
    with the field's help and default; ``seed_help`` adds to ``--seed``'s help what else
    the command seeds with it."""
    def decorate(command: F) -> F:
        for spec in reversed(option_fields()):
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


def build_check_options(values: dict[str, Any]) -> CheckOptions:
    """The :class:`CheckOptions` from a command's parameters (its check options only)."""
    return CheckOptions(**{name: values[name] for name in check_option_names()})


def jobs_option(what: str) -> Callable[[F], F]:
    return click.option("--jobs", type=click.IntRange(min=1), default=None,
                        help=f"{what} at once  [default: the usable cores]")


def output_option(what: str) -> Callable[[F], F]:
    return click.option("--output", type=click.Path(file_okay=False), default="mutants",
                        show_default=True, help=f"Folder for {what}.")


progress_option = click.option(
    "--progress/--no-progress", default=None,
    help="Progress bar on stderr  [default: when stderr is a terminal]")
