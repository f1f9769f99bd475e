"""``gcverify sensitivity``: how close is close enough? The study of
:mod:`gcverify.sensitivity` from the command line.

Exit codes: 0 when the study ran to the end, 2 for bad input (one line on stderr,
before anything runs), 4 when the Dask scheduler went away (one line on stderr; the
reports of what finished are written first), 130 when Ctrl-C stopped it (likewise).

>>> from click.testing import CliRunner
>>> CliRunner().invoke(sensitivity, ["--help"]).output.splitlines()[0]
'Usage: sensitivity [OPTIONS]'
"""

from __future__ import annotations

import click

from gcverify.cli.exit_codes import ExitCode
from gcverify.cli.progress import progress_bar
from gcverify.cli.scaling import executor_options, exit_after_run
from gcverify.cli.shared import progress_option
from gcverify.executors import open_executor
from gcverify.interrupts import catching_interrupts, deferred_interrupts, interrupted
from gcverify.report import prepare_output
from gcverify.sensitivity.report import incomplete_lines, table_lines, write_study
from gcverify.sensitivity.study import PRESETS, StudyResult, run_study

__all__ = ["print_study", "sensitivity"]


@click.command("sensitivity", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--preset", type=click.Choice(list(PRESETS)), default="quick", show_default=True,
              help="How big: tiny (seconds), quick (under a minute on 2 cores), paper (about "
                   "20 minutes on 2 idle cores; under 10 on 5 single-threaded Dask "
                   "workers).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seeds the networks and the planted errors: the same seed gives the same "
                   "sensitivity.json (apart from timing).")
@click.option("--output", type=click.Path(file_okay=False), default="mutants/sensitivity",
              show_default=True,
              help="Folder for sensitivity.json, .csv, .md and .html.")
@executor_options("Networks measured")
@progress_option
def sensitivity(preset: str, seed: int, output: str, jobs: int | None, executor: str | None,
                scheduler: str | None, progress: bool | None) -> None:
    """Measure how small an error five gradient checkers' rules catch, and at what price
    in false alarms: the notebook's, torch.autograd.gradcheck's, jax's check_grads',
    scipy's check_grad's and gcverify's, on the same numbers.

    Exit status: 0 when the study ran to the end, 2 for bad input, 4 when the Dask
    scheduler went away, 130 when interrupted (the reports of what finished are
    written).
    """
    folder = prepare_output(output)
    with catching_interrupts():
        with open_executor(jobs, executor=executor, scheduler=scheduler) as pool, \
                progress_bar(progress, unit="tasks") as bar:
            result = run_study(PRESETS[preset], seed=seed, executor=pool,
                               progress=bar.count if bar is not None else None)
        with deferred_interrupts():
            written = write_study(result, folder)
            print_study(result, [str(path) for path in written.values()])
        stopped = result.interrupted or interrupted()
    exit_after_run(stopped, result.lost, ExitCode.OK)


def print_study(result: StudyResult, written: list[str]) -> None:
    """The table at each rule's defaults, what was left out, and the files written."""
    click.echo(f"gcverify sensitivity: preset {result.preset.name}, seed {result.seed}, "
               f"{result.timing.get('total', 0.0):.1f} s")
    for line in [*incomplete_lines(result), *table_lines(result)]:
        click.echo(line.replace("**", ""))
    click.echo("Reports: " + ", ".join(written))
