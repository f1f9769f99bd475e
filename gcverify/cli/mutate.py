"""``gcverify mutate [FILE]``: the mutation campaign from the command line.

Exit codes: 0 when no non-equivalent mutant survived, 1 when one did, 2 for bad input
(one line on stderr), 130 when Ctrl-C interrupted the campaign (the reports of what
finished are written first).

>>> from click.testing import CliRunner
>>> CliRunner().invoke(mutate, ["--help"]).output.splitlines()[0]
'Usage: mutate [OPTIONS] [FILE]'
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from gcverify.cli.exit_codes import ExitCode
from gcverify.cli.progress import progress_bar
from gcverify.cli.shared import (
    build_check_options,
    check_options,
    jobs_option,
    output_option,
    progress_option,
)
from gcverify.cli.target import TargetOptions, mutation_target, target_options
from gcverify.mutation.campaign import DEFAULT_EXAMPLES, run_campaign
from gcverify.mutation.results import CampaignResult, Outcome
from gcverify.report import write_reports
from gcverify.report.wording import percent

__all__ = ["mutate", "print_campaign"]


@click.command("mutate", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("file", required=False, metavar="[FILE]")
@target_options
@click.option("--examples", "n_examples", type=click.IntRange(min=1), default=DEFAULT_EXAMPLES,
              show_default=True, help="Examples each mutant is checked on: with --case, the "
              "case and jittered copies of it; with --layers, generated networks.")
@check_options(seed_help="It also seeds the examples: the same seed gives the same "
                         "report.json.")
@output_option("report.md, .html, .json and .xml")
@jobs_option("Mutants run")
@click.option("--time-limit", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="SECONDS", help="Per mutant  [default: 20 × the original's time, "
              "at least 5 s]")
@progress_option
def mutate(file: str | None, forward: str | None, backward: str | None, case: str | None,
           layers: str | None, batch: int | None, n_examples: int, output: str,
           jobs: int | None, time_limit: float | None, progress: bool | None,
           **options: Any) -> None:
    """Plant bugs in a backward pass and report which ones the gradient check catches.

    Without FILE: the notebook's backward_propagation_n, checked against
    forward_propagation_n on its test case and random 4-5-3-1 networks.

    Exit status: 0 when every non-equivalent mutant was detected, 1 when one
    survived, 2 for bad input, 130 when interrupted (partial reports are written).
    """
    settings = build_check_options(options)
    target = mutation_target(TargetOptions(file, forward, backward, case, layers, batch,
                                           settings.seed))
    with progress_bar(progress) as bar:
        result = run_campaign(target, examples=n_examples, jobs=jobs, time_limit=time_limit,
                              check_options=settings, progress=bar)
    written = write_reports(result, output)
    print_campaign(result, written)
    if result.interrupted:
        sys.exit(ExitCode.INTERRUPTED)
    sys.exit(ExitCode.OK if result.passed else ExitCode.FAILED)


def print_campaign(result: CampaignResult, written: dict[str, Path]) -> None:
    """The campaign's summary, family table and survivors, as ``gcverify mutate`` prints."""
    target, counts = result.target, result.counts
    click.echo(f"Mutation testing {target.source.name} ({target.source.path}, line "
               f"{target.source.first_line}), checked against {target.forward_name}")
    click.echo(f"{counts.total} mutants, {result.n_examples} examples each, seed "
               f"{result.seed}, {int(result.timing.get('jobs', 1))} jobs, "
               f"{result.timing.get('total', 0.0):.1f} s")
    click.echo()
    click.secho(result.summary(), fg="red" if result.survivors else "green", bold=True)
    click.echo()
    click.echo(f"  {'family':<12} {'mutants':>7} {'killed':>6} {'error':>6} {'timeout':>7} "
               f"{'survived':>8} {'equiv.':>6} {'score':>8}")
    for family, row in result.families.items():
        click.echo(f"  {family:<12} {row.total:>7} {row[Outcome.KILLED]:>6} "
                   f"{row[Outcome.KILLED_BY_ERROR]:>6} {row[Outcome.TIMEOUT]:>7} "
                   f"{row[Outcome.SURVIVED]:>8} {row[Outcome.EQUIVALENT]:>6} "
                   f"{percent(row.score):>8}")
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
