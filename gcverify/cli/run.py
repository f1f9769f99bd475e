"""``gcverify run``: the main job on the built-in default, as a summary table.

Ctrl-C at any step (the replay, the sweep, the campaign, writing the reports) exits
130 after writing the reports of what finished.

>>> from click.testing import CliRunner
>>> CliRunner().invoke(run, ["--help"]).output.splitlines()[0]
'Usage: run [OPTIONS]'
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from gcverify.cli.exit_codes import ExitCode
from gcverify.cli.progress import progress_bar
from gcverify.cli.shared import jobs_option, memory_limit_option, output_option, progress_option
from gcverify.interrupts import catching_interrupts, deferred_interrupts, interrupted
from gcverify.limits import default_memory_limit
from gcverify.main_job import MainJob, run_main_job
from gcverify.mutation.campaign import DEFAULT_EXAMPLES
from gcverify.parallel import available_cores
from gcverify.report import prepare_output, write_reports
from gcverify.sensitivity.report import write_study

__all__ = ["run"]


@click.command()
@click.option("--networks", "n_networks", default=200, show_default=True,
              type=click.IntRange(min=1), help="Generated networks in the property sweep.")
@click.option("--examples", "n_examples", default=DEFAULT_EXAMPLES, show_default=True,
              type=click.IntRange(min=1), help="Examples each mutant is checked on.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0),
              help="Seed of the sweep and of the campaign's examples.")
@output_option("the mutation reports (and the study's, in a sensitivity folder inside)")
@jobs_option("Mutants run")
@memory_limit_option
@progress_option
def run(n_networks: int, n_examples: int, seed: int, output: str, jobs: int | None,
        memory_limit: int | None, progress: bool | None) -> None:
    """The main job, on the built-in default: replay the notebook, sweep the property
    over generated networks, run the mutation campaign on the notebook's backprop and
    a short sensitivity study (five checkers' rules), write the reports (the study's
    under OUTPUT/sensitivity), and print a summary table.

    Exits 0 when the notebook is reproduced, no correct backprop failed, no
    non-equivalent mutant survived and gcverify's rule had no false alarm and missed
    no mutant in the study; 1 otherwise; 2 for bad input (an unwritable
    --output included, before anything runs); 130 if interrupted (the reports of what
    finished are written).
    """
    folder = prepare_output(output)
    jobs = jobs or available_cores()
    with catching_interrupts():
        with progress_bar(progress) as bar:
            job = run_main_job(networks=n_networks, examples=n_examples, seed=seed, jobs=jobs,
                               memory_limit=memory_limit or default_memory_limit(jobs),
                               progress=bar, on_phase=bar.phase if bar is not None else None)
        with deferred_interrupts():
            written = write_reports(job.campaign, folder)
            if job.study is not None:
                written.update(write_study(job.study, folder / "sensitivity"))
            _print_job(job, written)
        stopped = job.interrupted or interrupted()
    if stopped:
        sys.exit(ExitCode.INTERRUPTED)
    sys.exit(ExitCode.OK if job.passed else ExitCode.FAILED)


def _print_job(job: MainJob, written: dict[str, Path]) -> None:
    click.echo("gcverify run: the main job on the built-in default\n")
    click.echo(f"  {'step':<36} {'':<6} {'seconds':>7}  outcome")
    for step in job.steps:
        mark = click.style(f"{'ok' if step.ok else 'FAIL':<6}", fg="green" if step.ok else "red",
                           bold=True)
        click.echo(f"  {step.name:<36} {mark} {step.seconds:>7.1f}  {step.outcome}")
    total = sum(step.seconds for step in job.steps)
    click.echo(f"  {'total':<36} {'':<6} {total:>7.1f}")
    if job.interrupted:
        click.secho("\nInterrupted: the steps above are what finished.", fg="yellow",
                    bold=True)
    click.echo("\nReports: " + ", ".join(str(path) for path in written.values()))
