"""The ``gcverify`` command line: thin commands over the library, one module each.

``gcverify check`` (:mod:`~gcverify.cli.check`), ``mutate``, ``notebook`` and ``run``
share one target resolver (:mod:`~gcverify.cli.target`), options generated from
:class:`~gcverify.options.CheckOptions` (:mod:`~gcverify.cli.shared`) and one set of
exit codes (:class:`~gcverify.cli.exit_codes.ExitCode`). Library errors become one
line on stderr, in the command line's words, and exit code 2.

>>> main(["--version"]) == ExitCode.OK
gcverify, version ...
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from gcverify import __version__
from gcverify.cli.check import check
from gcverify.cli.exit_codes import ExitCode
from gcverify.cli.mutate import mutate
from gcverify.cli.notebook import notebook
from gcverify.cli.run import run
from gcverify.cli.shared import error_line
from gcverify.errors import GCVerifyError

__all__ = ["ExitCode", "cli", "main"]


class _Commands(click.Group):
    """A group whose commands' library errors are one line on stderr and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GCVerifyError as error:
            click.echo(error_line(error), err=True)
            ctx.exit(ExitCode.USAGE)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="gcverify")
def cli() -> None:
    """Verify hand-written backpropagation by gradient checking."""


for _command in (check, mutate, notebook, run):
    cli.add_command(_command)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code; usage errors are one line, not a traceback."""
    try:
        outcome = cli.main(args=list(argv) if argv is not None else None,
                           prog_name="gcverify", standalone_mode=False)
    except click.ClickException as error:
        error.show()
        return ExitCode.USAGE
    except click.Abort:
        click.echo("Aborted.", err=True)
        return ExitCode.USAGE
    except SystemExit as stop:
        return int(stop.code or 0)
    # Without standalone mode click returns the exit code of --help / --version.
    return outcome if isinstance(outcome, int) else ExitCode.OK
