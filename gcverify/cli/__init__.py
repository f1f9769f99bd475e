"""The ``gcverify`` command line: thin commands over the library, one module each.

``gcverify check`` (:mod:`~gcverify.cli.check`), ``mutate``, ``notebook`` and ``run``
share one target resolver (:mod:`~gcverify.cli.target`) and options generated from
:class:`~gcverify.options.CheckOptions` (:mod:`~gcverify.cli.shared`); ``mutate`` and
``sensitivity`` share where their tasks run (:mod:`~gcverify.cli.scaling`); all share
one set of exit codes (:class:`~gcverify.cli.exit_codes.ExitCode`). Library errors become one
line on stderr, in the command line's words, and exit code 2; the code under test
failing, one line and exit code 4; Ctrl-C anywhere, exit code 130.

>>> main(["--version"]) == ExitCode.OK
gcverify, version ...
True
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

import click

from gcverify import __version__
from gcverify.cli.exit_codes import ExitCode
from gcverify.cli.shared import error_line, failure_line
from gcverify.errors import GCVerifyError
from gcverify.failure import Failure, FailureKind, UserCodeFailed

__all__ = ["ExitCode", "cli", "main"]

#: Each command and the module that defines it, imported when the command is used (so
#: that ``gcverify check`` loads neither the mutation engine nor Hypothesis).
_COMMANDS = {"check": "gcverify.cli.check", "mutate": "gcverify.cli.mutate",
             "notebook": "gcverify.cli.notebook", "run": "gcverify.cli.run",
             "sensitivity": "gcverify.cli.sensitivity"}


class _Commands(click.Group):
    """A group whose commands' library errors are one line on stderr and exit code 2
    (4 when the code under test failed), and whose Ctrl-C is exit code 130."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*_COMMANDS, *super().list_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = _COMMANDS.get(cmd_name)
        if module is None:  # one added with cli.add_command
            return super().get_command(ctx, cmd_name)
        command: click.Command = getattr(importlib.import_module(module), cmd_name)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UserCodeFailed as error:
            click.echo(failure_line(error.failure), err=True)
            ctx.exit(ExitCode.of_failure(error.failure))
        except GCVerifyError as error:
            click.echo(error_line(error), err=True)
            ctx.exit(ExitCode.USAGE)
        except KeyboardInterrupt:
            click.echo(failure_line(Failure(FailureKind.INTERRUPTED)), err=True)
            ctx.exit(ExitCode.INTERRUPTED)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="gcverify")
def cli() -> None:
    """Verify hand-written backpropagation by gradient checking."""



def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code; usage errors are one line, not a traceback."""
    try:
        outcome = cli.main(args=list(argv) if argv is not None else None,
                           prog_name="gcverify", standalone_mode=False)
    except click.ClickException as error:
        error.show()
        return ExitCode.USAGE
    except click.Abort as abort:
        if isinstance(abort.__cause__, KeyboardInterrupt):  # Ctrl-C while parsing options
            click.echo(failure_line(Failure(FailureKind.INTERRUPTED)), err=True)
            return ExitCode.INTERRUPTED
        click.echo("Aborted.", err=True)
        return ExitCode.USAGE
    except KeyboardInterrupt:
        click.echo(failure_line(Failure(FailureKind.INTERRUPTED)), err=True)
        return ExitCode.INTERRUPTED
    except SystemExit as stop:
        return _exit_code(stop.code)
    # Without standalone mode click returns the exit code of --help / --version.
    return _exit_code(outcome) if isinstance(outcome, int) else ExitCode.OK


def _exit_code(code: object) -> ExitCode:
    """Every exit path gives an :class:`ExitCode` (a code gcverify does not use is
    a usage error: only gcverify's own commands reach here)."""
    if code is None:
        return ExitCode.OK
    if not isinstance(code, int) or code not in ExitCode._value2member_map_:
        return ExitCode.USAGE
    return ExitCode(code)
