"""``gcverify mutate``: the mutation campaign from the command line.

A click command, registered in ``gcverify.cli`` as ``gcverify mutate``. Exit codes: 0
when no non-equivalent mutant survived, 1 when one did, 2 for bad input (one line on
stderr), 130 when Ctrl-C interrupted the campaign (the reports of what finished are
written first).

>>> from click.testing import CliRunner
>>> CliRunner().invoke(mutate, ["--help"]).output.splitlines()[0]
'Usage: mutate [OPTIONS] [FILE]'
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import IO, Any

import click

from gcverify.errors import GCVerifyError, invalid_argument
from gcverify.mutation.campaign import (
    DEFAULT_EXAMPLES,
    CampaignResult,
    MutantResult,
    run_campaign,
)
from gcverify.mutation.targets import Target, file_target, notebook_target
from gcverify.report import write_reports
from gcverify.report._common import percent

__all__ = ["EXIT_INTERRUPTED", "ProgressBar", "mutate", "parse_layers"]

EXIT_OK, EXIT_SURVIVORS, EXIT_USAGE = 0, 1, 2
#: 128 + SIGINT, the shell's convention for a run stopped by Ctrl-C.
EXIT_INTERRUPTED = 130


class ProgressBar:
    """A plain-text progress bar on a stream (stderr), for ``run_campaign(progress=...)``.

    On a terminal it redraws one line; elsewhere it writes a line at every tenth.

    >>> import io
    >>> from types import SimpleNamespace
    >>> stream = io.StringIO()
    >>> bar = ProgressBar(stream, interactive=False, width=10)
    >>> bar(1, 2, SimpleNamespace(outcome=SimpleNamespace(label="killed")))
    >>> print(stream.getvalue().strip())
    mutants 1/2 [#####-----]  killed 1  0 s
    """

    def __init__(self, stream: IO[str], *, interactive: bool, width: int = 30) -> None:
        self.stream = stream
        self.interactive = interactive
        self.width = width
        self.tally: Counter[str] = Counter()
        self.started = time.monotonic()
        self.shown_tenth = -1

    def __call__(self, done: int, total: int, result: MutantResult) -> None:
        self.tally[result.outcome.label] += 1
        tenth = 10 * done // max(total, 1)
        if self.interactive or tenth != self.shown_tenth or done == total:
            self.shown_tenth = tenth
            self._draw(done, total, final=done == total)

    def finish(self) -> None:
        if self.interactive:
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self, done: int, total: int, *, final: bool) -> None:
        filled = self.width * done // max(total, 1)
        counts = "  ".join(f"{label} {count}" for label, count in sorted(self.tally.items()))
        elapsed = time.monotonic() - self.started
        line = (f"mutants {done}/{total} [{'#' * filled}{'-' * (self.width - filled)}]"
                + (f"  {counts}" if counts else "") + (f"  {elapsed:.0f} s" if done else ""))
        if self.interactive:
            self.stream.write("\r" + line + "\x1b[K")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def parse_layers(text: str) -> tuple[int, ...]:
    """``"4,5,3,1"`` -> ``(4, 5, 3, 1)``.

    >>> parse_layers("4, 5,3,1")
    (4, 5, 3, 1)
    """
    try:
        widths = tuple(int(part) for part in text.split(","))
    except ValueError:
        widths = ()
    if len(widths) < 2 or min(widths) < 1:
        raise invalid_argument("--layers", text, "is not a list of at least two positive "
                               "widths", "pass e.g. --layers 4,5,3,1")
    return widths


def _target(file: str | None, forward: str | None, backward: str | None, case: str | None,
            layers: str | None, batch: int | None, seed: int) -> Target:
    if file is None:
        given = [f"--{name}" for name, value in (("forward", forward), ("backward", backward),
                                                 ("case", case), ("layers", layers),
                                                 ("batch", batch)) if value is not None]
        if given:
            raise invalid_argument("FILE", None, f"is missing but {', '.join(given)} "
                                   "name what is in it", "pass the file first, e.g. "
                                   "gcverify mutate net.py --forward f --backward b --case c")
        return notebook_target(seed)
    missing = [f"--{name} NAME" for name, value in (("forward", forward),
                                                    ("backward", backward)) if value is None]
    if missing:
        raise invalid_argument("FILE", file, f"needs {' and '.join(missing)}",
                               "name the functions to check, e.g. --forward forward_pass "
                               "--backward backward_pass")
    if batch is not None and layers is None:
        raise invalid_argument("--batch", batch, "only applies with --layers",
                               "pass --layers 4,5,3,1 too, or drop --batch")
    assert forward is not None and backward is not None
    return file_target(file, forward=forward, backward=backward, case=case,
                       layers=parse_layers(layers) if layers is not None else None,
                       batch=batch, seed=seed)


def _print_summary(result: CampaignResult, written: dict[str, Any], jobs: int | None) -> None:
    target = result.target
    click.echo(f"Mutation testing {target.source.name} ({target.source.path}, line "
               f"{target.source.first_line}), checked against {target.forward_name}")
    click.echo(f"{result.counts['total']} mutants, {result.n_examples} examples each, seed "
               f"{result.seed}, {int(result.timing.get('jobs', jobs or 1))} jobs, "
               f"{result.timing.get('total', 0.0):.1f} s")
    click.echo()
    style = "red" if result.survivors else "green"
    click.secho(result.summary(), fg=style, bold=True)
    click.echo()
    click.echo(f"  {'family':<12} {'mutants':>7} {'killed':>6} {'error':>6} {'timeout':>7} "
               f"{'survived':>8} {'equiv.':>6} {'score':>8}")
    for family, row in result.families.items():
        click.echo(f"  {family:<12} {row['total']:>7} {row['killed']:>6} "
                   f"{row['killed_by_error']:>6} {row['timeout']:>7} {row['survived']:>8} "
                   f"{row['equivalent']:>6} {percent(row['score']):>8}")
    click.echo()
    if result.survivors:
        click.secho(f"Survivors ({len(result.survivors)}):", fg="red", bold=True)
        for survivor in result.survivors:
            click.echo(f"  {survivor.summary()}")
    else:
        click.echo("Survivors: none.")
    if result.interrupted:
        click.secho(f"Interrupted: {len(result.not_run)} mutants not run.", fg="yellow",
                    bold=True)
    click.echo("Reports: " + ", ".join(str(path) for path in written.values()))


@click.command("mutate", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("file", required=False, metavar="[FILE]")
@click.option("--forward", metavar="NAME", help="The forward pass in FILE: "
              "forward(X, Y, parameters) -> (cost, cache).")
@click.option("--backward", metavar="NAME", help="The backward pass in FILE to mutate: "
              "backward(X, Y, cache) -> gradients.")
@click.option("--case", metavar="NAME", help="A function in FILE returning (X, Y, parameters); "
              "the examples are it and jittered copies of it.")
@click.option("--layers", metavar="WIDTHS", help="Instead of --case: random networks of these "
              "widths, e.g. 4,5,3,1.")
@click.option("--batch", type=click.IntRange(min=1), metavar="M",
              help="With --layers: examples per batch (default: random, 2 to 6).")
@click.option("--examples", "n_examples", type=click.IntRange(min=1), default=DEFAULT_EXAMPLES,
              show_default=True, help="Examples each mutant is checked on.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the examples: the same seed gives the same report.json.")
@click.option("--output", type=click.Path(file_okay=False), default="mutants",
              show_default=True, help="Folder for report.md, .html, .json and .xml.")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Mutants run at once  [default: the usable cores]")
@click.option("--time-limit", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="SECONDS", help="Per mutant  [default: 20 × the original's time, "
              "at least 5 s]")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar on stderr  [default: when stderr is a terminal]")
def mutate(file: str | None, forward: str | None, backward: str | None, case: str | None,
           layers: str | None, batch: int | None, n_examples: int, seed: int, output: str,
           jobs: int | None, time_limit: float | None, progress: bool | None) -> None:
    """Plant bugs in a backward pass and report which ones the gradient check catches.

    Without FILE: the notebook's backward_propagation_n, checked against
    forward_propagation_n on its test case and random 4-5-3-1 networks.

    Exit status: 0 when every non-equivalent mutant was detected, 1 when one
    survived, 2 for bad input, 130 when interrupted (partial reports are written).
    """
    try:
        target = _target(file, forward, backward, case, layers, batch, seed)
        interactive = sys.stderr.isatty()
        bar = ProgressBar(sys.stderr, interactive=interactive) \
            if (progress if progress is not None else interactive) else None
        result = run_campaign(target, examples=n_examples, jobs=jobs, time_limit=time_limit,
                              progress=bar)
        if bar is not None:
            bar.finish()
        written = write_reports(result, output)
    except GCVerifyError as error:
        click.echo(f"gcverify: error: {error}", err=True)
        sys.exit(EXIT_USAGE)
    _print_summary(result, written, jobs)
    if result.interrupted:
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(EXIT_OK if result.passed else EXIT_SURVIVORS)
