"""``gcverify notebook``: the "Gradient Checking" notebook replayed, both verdicts side by side."""

from __future__ import annotations

import sys

import click

from gcverify.cli.exit_codes import ExitCode
from gcverify.cli.shared import styled_verdict
from gcverify.replay import NotebookReplay, replay_notebook

__all__ = ["notebook"]


@click.command()
def notebook() -> None:
    """Replay the "Gradient Checking" notebook: the 1-D and N-D checks, with verdicts.

    Each check shows the notebook's difference and verdict (threshold 2e-7) and,
    beside it, the verdict of gcverify's checker. Exits 0 when the notebook's results
    are reproduced (its buggy backprop is caught and its correct one passes), 1
    otherwise.
    """
    replay = replay_notebook()
    print_replay(replay)
    sys.exit(ExitCode.OK if replay.reproduced else ExitCode.FAILED)


def print_replay(replay: NotebookReplay) -> None:
    click.echo(f'The "Gradient Checking" notebook, replayed '
               f"(threshold {replay.threshold:g}, epsilon {replay.epsilon:g})\n")
    click.echo(f"  {'check':<38} {'difference':<24} {'notebook':<13} {'gcverify':<13} "
               "expected")
    for row in replay.rows:
        click.echo(f"  {row.label:<38} {row.difference!r:<24} {styled_verdict(row.verdict, 13)} "
                   f"{styled_verdict(row.robust, 13)} {row.expected}")
    click.echo()
    for row in replay.rows:
        click.echo(f"  {row.label.split('  ')[-1]}: {row.robust_summary}")
    click.echo()
    if replay.reproduced:
        click.echo("Reproduced: the buggy backprop is caught and the correct one passes.")
    else:
        click.echo("NOT reproduced: a verdict differs from the notebook's.")
