"""``gcverify mutate [FILE]``: the mutation campaign from the command line.

Exit codes: 0 when no non-equivalent mutant survived, 1 when one did, 2 for bad input
(one line on stderr, before anything runs, an unwritable ``--output`` included), 4 when
FILE's code crashed, exited, hung or ran out of memory while imported or in the
baseline, or when the Dask scheduler went away (the reports of what finished are
written first), 130 when Ctrl-C interrupted the run (at any phase: the reports of what
finished are written first, and say it was interrupted).

>>> from click.testing import CliRunner
>>> CliRunner().invoke(mutate, ["--help"]).output.splitlines()[0]
'Usage: mutate [OPTIONS] [FILE]'
"""

from __future__ import annotations

import contextlib
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import click

from gcverify.cli.exit_codes import ExitCode
from gcverify.cli.progress import ProgressBar, progress_bar
from gcverify.cli.scaling import executor_options, exit_after_run
from gcverify.cli.shared import (
    build_check_options,
    check_options,
    exit_for_failure,
    memory_limit_option,
    output_option,
    progress_option,
    time_limit_option,
    traceback_option,
)
from gcverify.cli.target import TargetOptions, mutate_option, mutation_target, target_options
from gcverify.errors import GCVerifyError
from gcverify.executors import open_executor
from gcverify.failure import FailureKind, UserCodeFailed
from gcverify.interrupts import catching_interrupts, deferred_interrupts, interrupted
from gcverify.limits import DEFAULT_TIME_LIMIT, default_memory_limit
from gcverify.loading import ImportFailed
from gcverify.mutation.campaign import (
    DEFAULT_EXAMPLES,
    run_campaign,
    unstarted_campaign,
)
from gcverify.mutation.results import CampaignResult, Outcome
from gcverify.mutation.targets import Target, notebook_target, unloaded_file_target
from gcverify.options import CheckOptions
from gcverify.parallel import available_cores
from gcverify.report import prepare_output, write_reports
from gcverify.report.wording import headline_tone, percent, stopped_note
from gcverify.supervise import ChildReport, run_guarded, run_supervised

__all__ = ["mutate", "print_campaign"]

_TONES = {"ok": "green", "warn": "yellow", "bad": "red"}


@click.command("mutate", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("file", required=False, metavar="[FILE]")
@target_options
@mutate_option
@click.option("--examples", "n_examples", type=click.IntRange(min=1), default=DEFAULT_EXAMPLES,
              show_default=True, help="Examples each mutant is checked on: with --case, the "
              "case and jittered copies of it; with --layers, generated networks.")
@check_options(seed_help="It also seeds the examples: the same seed gives the same "
                         "report.json.", without=("jobs",))
@output_option("report.md, .html, .json and .xml")
@executor_options("Mutants run")
@time_limit_option("Seconds per mutant, and for importing FILE and for checking the "
                   "original on every example (the baseline).", default=None,
                   shown=f"per mutant 20 × the original's time, at least 5 s; "
                         f"{DEFAULT_TIME_LIMIT:g} s for the import and the baseline")
@memory_limit_option
@traceback_option
@progress_option
def mutate(file: str | None, n_examples: int, output: str,
           jobs: int | None, executor: str | None, scheduler: str | None,
           time_limit: float | None, memory_limit: int | None,
           show_traceback: bool, progress: bool | None, **options: Any) -> None:
    """Plant bugs in a backward pass and report which ones the gradient check catches.

    Without FILE: the notebook's backward_propagation_n, checked against
    forward_propagation_n on its test case and random 4-5-3-1 networks. With FILE:
    its functions named as for gcverify check; the backward pass (or the function
    returning the grads) is mutated, or the functions --mutate names (repeat it for
    several), checked through the functions that call them.

    \b
    Examples:
      gcverify mutate net.py --convention loss-and-grads --forward loss \\
          --layers 4,5,3 --layout rows --mutate loss --mutate affine_backward
      gcverify mutate net.py --convention model --model "TwoLayerNet(4, 5, 3)" \\
          --case make_data

    Exit status: 0 when every non-equivalent mutant was detected, 1 when one
    survived, 2 for bad input, 4 when FILE's code crashed, exited or hung while
    imported or checked unmutated, or the Dask scheduler went away, 130 when
    interrupted (partial reports are written).
    """
    # --jobs counts the campaign's workers: each check runs in one of them, alone.
    settings = build_check_options(options, without=("jobs",), jobs=1)
    request = TargetOptions.from_values(file, options, settings.seed)
    if not request.names_nothing:
        request.require_file()  # a bad combination is a usage error before anything runs
    existed = Path(output).exists()
    folder = prepare_output(output)
    jobs = jobs or available_cores()
    memory_limit = memory_limit or default_memory_limit(jobs)
    campaign = _Campaign(request, n_examples, jobs, time_limit, memory_limit, settings)
    with catching_interrupts():
        with open_executor(jobs, executor=executor, scheduler=scheduler) as campaign.executor, \
                progress_bar(progress) as bar:
            try:
                result = campaign.run(bar)
            except UserCodeFailed as error:
                if not existed:  # no report will be written: leave no empty folder
                    with contextlib.suppress(OSError):
                        folder.rmdir()
                exit_for_failure(error.failure, show_traceback)
        with deferred_interrupts():
            written = write_reports(result, folder)
            print_campaign(result, written)
        stopped = result.interrupted or interrupted()
    exit_after_run(stopped, result.lost, ExitCode.OK if result.passed else ExitCode.FAILED)


class _Campaign:
    """The campaign a ``gcverify mutate`` command line asks for, however far it gets.

    FILE is imported twice: first in a supervised child (a probe, with the time and
    memory limits), then here. Why not run the whole campaign in a child: its result
    holds the user's functions (the reports are rendered here, and Ctrl-C must keep
    whatever finished), and every mutant's child inherits the imported module by fork
    (one import, not one per mutant). The probe proves that importing FILE ends, within
    the limits, without exiting or crashing; the import here is that same import,
    guarded (``sys.argv = [FILE]``, output silenced, any exception or ``SystemExit``
    reported, the SIGINT handler restored). Every call of the user's functions (the
    examples, the baseline, each mutant) then runs in a child.
    """

    def __init__(self, request: TargetOptions, examples: int, jobs: int,
                 time_limit: float | None, memory_limit: int, settings: CheckOptions
                 ) -> None:
        self.request = request
        self.examples = examples
        self.jobs = jobs
        self.time_limit = time_limit
        self.memory_limit = memory_limit
        self.settings = settings
        self.argv = [request.file] if request.file is not None else None
        self.target: Target | None = None
        self.executor: Executor | None = None

    def run(self, bar: ProgressBar | None) -> CampaignResult:
        """Import, baseline, mutants; on Ctrl-C, what finished (maybe nothing)."""
        try:
            self.target = self._load(bar)
            return run_campaign(
                self.target, examples=self.examples, jobs=self.jobs,
                time_limit=self.time_limit, memory_limit=self.memory_limit,
                check_options=self.settings, progress=bar, argv=self.argv,
                on_phase=bar.phase if bar is not None else None, executor=self.executor)
        except KeyboardInterrupt:
            with deferred_interrupts():
                try:
                    return self._unstarted()
                except GCVerifyError:  # FILE cannot even be read: no report to write
                    raise KeyboardInterrupt from None

    def _load(self, bar: ProgressBar | None) -> Target:
        request = self.request
        if request.names_nothing:
            return notebook_target(request.seed)
        if bar is not None:
            bar.phase(f"importing {request.file}")
        files = [request.file] if request.file is not None else []
        _settled(run_supervised(
            _probe, request, time_limit=self.time_limit or DEFAULT_TIME_LIMIT,
            memory_limit=self.memory_limit, argv=self.argv, user_files=files,
            reraise=(GCVerifyError,)))
        target: Target = _settled(run_guarded(_import, request, argv=self.argv,
                                              user_files=files, reraise=(GCVerifyError,)))
        return target

    def _unstarted(self) -> CampaignResult:
        target = self.target
        request = self.request
        if target is None:
            assert request.file is not None
            target = unloaded_file_target(request.file, convention=request.spec,
                                          case=request.case, layers=request.widths,
                                          batch=request.batch, seed=request.seed,
                                          layout=request.layout, mutate=request.mutate)
        return unstarted_campaign(target, examples=self.examples, jobs=self.jobs,
                                  time_limit=self.time_limit, memory_limit=self.memory_limit,
                                  check_options=self.settings)


def _settled(report: ChildReport) -> Any:
    """The value, or the failure raised: KeyboardInterrupt for Ctrl-C, else
    :class:`UserCodeFailed`."""
    if report.failure is not None:
        if report.failure.kind is FailureKind.INTERRUPTED:
            raise KeyboardInterrupt
        raise UserCodeFailed(report.failure)
    return report.value


def _import(request: TargetOptions) -> Target:
    try:
        return mutation_target(request)
    except ImportFailed as failed:  # the file's own exception, with its line
        raise failed.original from None


def _probe(request: TargetOptions) -> None:
    _import(request)  # the target holds the user's functions: it stays in the child


def print_campaign(result: CampaignResult, written: dict[str, Path]) -> None:
    """The campaign's summary, family table and survivors, as ``gcverify mutate`` prints."""
    target, counts = result.target, result.counts
    click.echo(f"Mutation testing {target.function_names} ({target.source.path}, line "
               f"{target.source.first_line}), checked against {target.forward_name}")
    click.echo(f"{counts.total} mutants, {result.n_examples} examples each, seed "
               f"{result.seed}, {int(result.timing.get('jobs', 1))} jobs, "
               f"{result.timing.get('total', 0.0):.1f} s")
    click.echo()
    click.secho(result.summary(), fg=_TONES[headline_tone(result)], bold=True)
    click.echo()
    click.echo(f"  {'family':<12} {'mutants':>7} {'killed':>6} {'error':>6} {'timeout':>7} "
               f"{'survived':>8} {'unreached':>9} {'equiv.':>6} {'score':>8}")
    for family, row in result.families.items():
        click.echo(f"  {family:<12} {row.total:>7} {row[Outcome.KILLED]:>6} "
                   f"{row[Outcome.KILLED_BY_ERROR]:>6} {row[Outcome.TIMEOUT]:>7} "
                   f"{row[Outcome.SURVIVED]:>8} {row[Outcome.NOT_REACHED]:>9} "
                   f"{row[Outcome.EQUIVALENT]:>6} {percent(row.score):>8}")
    click.echo()
    if result.survivors:
        click.secho(f"Survivors ({len(result.survivors)}):", fg="red", bold=True)
        for survivor in result.survivors:
            click.echo(f"  {survivor.summary()}")
    else:
        click.echo("Survivors: none.")
    if result.not_reached:
        click.secho(f"Not reached by the examples ({len(result.not_reached)}; left out of the "
                    "score: add examples that reach them):", fg="yellow", bold=True)
        for unreached in result.not_reached:
            click.echo(f"  {unreached.summary()}")
    if note := stopped_note(result):
        click.secho(note, fg="yellow", bold=True)
    click.echo("Reports: " + ", ".join(str(path) for path in written.values()))
