"""The ``gcverify`` command line: thin commands over the library.

Exit codes: 0 ok, 1 a check failed, 2 usage error (bad option, missing file, invalid
argument).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from gcverify._version import __version__
from gcverify.errors import GCVerifyError
from gcverify.replay import NotebookReplay, replay_notebook

__all__ = ["cli", "main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

_VERDICT_COLOURS = {"PASS": "green", "FAIL": "red", "INCONCLUSIVE": "yellow"}


def _verdict(word: str) -> str:
    return click.style(f"{word:<12}", fg=_VERDICT_COLOURS.get(word), bold=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="gcverify")
def cli() -> None:
    """Verify hand-written backpropagation by gradient checking."""


@cli.command()
def notebook() -> None:
    """Replay the "Gradient Checking" notebook: the 1-D and N-D checks, with verdicts.

    Exits 0 when the notebook's results are reproduced (its buggy backprop is caught
    and its correct one passes), 1 otherwise.
    """
    replay = replay_notebook()
    _print_replay(replay)
    sys.exit(EXIT_OK if replay.reproduced else EXIT_FAILED)


def _print_replay(replay: NotebookReplay) -> None:
    click.echo(f'The "Gradient Checking" notebook, replayed '
               f"(threshold {replay.threshold:g}, epsilon {replay.epsilon:g})\n")
    click.echo(f"  {'check':<44} {'difference':<24} verdict")
    for row in replay.rows:
        click.echo(f"  {row.label:<44} {row.difference!r:<24} {_verdict(row.verdict)}"
                   f" expected {row.expected}")
    click.echo()
    if replay.reproduced:
        click.echo("Reproduced: the buggy backprop is caught and the correct one passes.")
    else:
        click.echo("NOT reproduced: a verdict differs from the notebook's.")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; library errors become one line on stderr and exit code 2."""
    try:
        outcome = cli.main(args=list(argv) if argv is not None else None,
                           prog_name="gcverify", standalone_mode=False)
    except click.ClickException as error:
        error.show()
        return EXIT_USAGE
    except click.Abort:
        click.echo("Aborted.", err=True)
        return EXIT_USAGE
    except GCVerifyError as error:
        click.echo(f"gcverify: error: {error}", err=True)
        return EXIT_USAGE
    except SystemExit as stop:
        return int(stop.code or 0)
    # Without standalone mode click returns the exit code of --help / --version.
    return outcome if isinstance(outcome, int) else EXIT_OK
