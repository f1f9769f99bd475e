"""The ``gcverify`` command line: thin commands over the library.

Exit codes: 0 ok, 1 a check failed, 2 usage error (bad option, missing file or name,
invalid argument), 3 inconclusive (``gcverify check``).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence

import click

from gcverify._version import __version__
from gcverify.errors import GCVerifyError, invalid_argument
from gcverify.mutation.command import EXIT_INTERRUPTED, ProgressBar, mutate, parse_layers
from gcverify.replay import NotebookReplay, replay_notebook
from gcverify.result import GradCheckResult, Verdict

__all__ = ["cli", "main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INCONCLUSIVE = 0, 1, 2, 3
_EXIT_CODES = {Verdict.PASS: EXIT_OK, Verdict.FAIL: EXIT_FAILED,
               Verdict.INCONCLUSIVE: EXIT_INCONCLUSIVE}
_VERDICT_COLOURS = {"PASS": "green", "FAIL": "red", "INCONCLUSIVE": "yellow"}


def _verdict(word: str, width: int = 13) -> str:
    return click.style(f"{word:<{width}}", fg=_VERDICT_COLOURS.get(word), bold=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="gcverify")
def cli() -> None:
    """Verify hand-written backpropagation by gradient checking."""


# --- gcverify notebook ---------------------------------------------------------------------

@cli.command()
def notebook() -> None:
    """Replay the "Gradient Checking" notebook: the 1-D and N-D checks, with verdicts.

    Each check shows the notebook's difference and verdict (threshold 2e-7) and,
    beside it, the verdict of gcverify's checker. Exits 0 when the notebook's results
    are reproduced (its buggy backprop is caught and its correct one passes), 1
    otherwise.
    """
    replay = replay_notebook()
    _print_replay(replay)
    sys.exit(EXIT_OK if replay.reproduced else EXIT_FAILED)


def _print_replay(replay: NotebookReplay) -> None:
    click.echo(f'The "Gradient Checking" notebook, replayed '
               f"(threshold {replay.threshold:g}, epsilon {replay.epsilon:g})\n")
    click.echo(f"  {'check':<38} {'difference':<24} {'notebook':<13} {'gcverify':<13} "
               "expected")
    for row in replay.rows:
        click.echo(f"  {row.label:<38} {row.difference!r:<24} {_verdict(row.verdict)} "
                   f"{_verdict(row.robust)} {row.expected}")
    click.echo()
    for row in replay.rows:
        click.echo(f"  {row.label.split('  ')[-1]}: {row.robust_summary}")
    click.echo()
    if replay.reproduced:
        click.echo("Reproduced: the buggy backprop is caught and the correct one passes.")
    else:
        click.echo("NOT reproduced: a verdict differs from the notebook's.")


# --- gcverify check ----------------------------------------------------------------------

@cli.command()
@click.argument("file")
@click.option("--forward", "forward_name", required=True, metavar="NAME",
              help="forward(X, Y, parameters) -> (cost, cache) in FILE.")
@click.option("--backward", "backward_name", required=True, metavar="NAME",
              help="backward(X, Y, cache) -> gradients in FILE.")
@click.option("--case", "case_name", metavar="NAME",
              help="A function in FILE returning (X, Y, parameters).")
@click.option("--layers", metavar="N0,N1,...",
              help="Generate X, Y and parameters W1, b1, ... for these widths.")
@click.option("--batch", default=8, show_default=True, type=click.IntRange(min=1),
              help="Examples generated with --layers.")
@click.option("--seed", default=0, show_default=True, type=int,
              help="Seed of the generated data and parameters.")
@click.option("--threshold", default=2e-7, show_default=True, type=float)
@click.option("--method", default="central", show_default=True,
              type=click.Choice(["central", "complex", "auto"]))
@click.option("--epsilon", type=float, default=None,
              help="Absolute step (the notebook's is 1e-7); default: cbrt(eps) * max(1, |θ|).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def check(file: str, forward_name: str, backward_name: str, case_name: str | None,
          layers: str | None, batch: int, seed: int, threshold: float, method: str,
          epsilon: float | None, as_json: bool) -> None:
    """Check the backprop in FILE: per-block table and verdict.

    Exit codes: 0 pass, 1 fail, 3 inconclusive, 2 usage error.

    \b
    Examples:
      gcverify check mynet.py --forward forward --backward backward --case test_case
      gcverify check mynet.py --forward fwd --backward bwd --layers 4,5,3,1 --batch 3
    """
    from gcverify.check import check_backprop
    from gcverify.loading import load_function, load_module

    if (case_name is None) == (layers is None):
        raise click.UsageError("give exactly one of --case NAME or --layers N0,N1,...")
    dims = parse_layers(layers) if layers is not None else ()
    module = load_module(file)
    forward = load_function(module, file, "forward", forward_name)
    backward = load_function(module, file, "backward", backward_name)
    if case_name is not None:
        X, Y, parameters = _case(load_function(module, file, "case", case_name), case_name)
    else:
        from gcverify.models import MLP
        net = MLP(dims)
        X, Y = net.make_batch(batch, seed=seed)
        parameters = net.init_parameters(seed=seed)
    result = check_backprop(forward, backward, X, Y, parameters, threshold=threshold,
                            method=method, epsilon=epsilon)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        _print_result(result)
    sys.exit(_EXIT_CODES[result.verdict])


def _case(function: object, name: str) -> tuple:
    value = function()  # type: ignore[operator]
    if not (isinstance(value, tuple) and len(value) == 3):
        raise invalid_argument("case", name, "does not return (X, Y, parameters)",
                               "return the three, as gradient_check_n_test_case does")
    return value


def _print_result(result: GradCheckResult) -> None:
    # The report, with its first line ("Gradient check: VERDICT") in colour.
    click.echo(f"Gradient check: {_verdict(result.verdict.name, 0)}")
    click.echo(str(result).partition("\n")[2])


cli.add_command(mutate)


# --- gcverify run: the main job ---------------------------------------------------------------

@cli.command()
@click.option("--networks", "n_networks", default=200, show_default=True,
              type=click.IntRange(min=1), help="Generated networks in the property sweep.")
@click.option("--examples", "n_examples", default=None, type=click.IntRange(min=1),
              help="Examples each mutant is checked on  [default: the campaign's]")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0),
              help="Seed of the sweep and of the campaign's examples.")
@click.option("--output", default="mutants", show_default=True,
              type=click.Path(file_okay=False), help="Folder for the mutation reports.")
@click.option("--jobs", default=None, type=click.IntRange(min=1),
              help="Mutants run at once  [default: the usable cores]")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar on stderr  [default: when stderr is a terminal]")
def run(n_networks: int, n_examples: int | None, seed: int, output: str, jobs: int | None,
        progress: bool | None) -> None:
    """The main job, on the built-in default: replay the notebook, sweep the property
    over generated networks, run the mutation campaign on the notebook's backprop,
    write the reports, and print a summary table.

    Exits 0 when the notebook is reproduced, no correct backprop failed and no
    non-equivalent mutant survived; 1 otherwise; 130 if interrupted.
    """
    from gcverify.mutation import notebook_target, run_campaign, write_reports
    from gcverify.mutation.campaign import DEFAULT_EXAMPLES
    from gcverify.sweep import sweep_correct_backprop

    rows = []
    start = time.perf_counter()
    replay = replay_notebook()
    buggy, correct = replay.rows[1], replay.rows[2]
    rows.append(("notebook replayed", replay.reproduced,
                 f"{'reproduced' if replay.reproduced else 'NOT reproduced'}: buggy "
                 f"{buggy.difference!r} {buggy.verdict}, correct {correct.difference!r} "
                 f"{correct.verdict}", time.perf_counter() - start))

    start = time.perf_counter()
    sweep = sweep_correct_backprop(n_networks, seed=seed)
    rows.append((f"property sweep ({n_networks} networks)", sweep.passed,
                 sweep.summary().split(": ", 1)[1], time.perf_counter() - start))

    start = time.perf_counter()
    interactive = sys.stderr.isatty()
    bar = ProgressBar(sys.stderr, interactive=interactive) \
        if (progress if progress is not None else interactive) else None
    campaign = run_campaign(notebook_target(seed), examples=n_examples or DEFAULT_EXAMPLES,
                            jobs=jobs, progress=bar)
    if bar is not None:
        bar.finish()
    written = write_reports(campaign, output)
    rows.append((f"mutation campaign ({campaign.counts['total']} mutants)", campaign.passed,
                 campaign.summary().replace("\n", " "), time.perf_counter() - start))
    _print_run(rows, written)
    if campaign.interrupted:
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(EXIT_OK if all(ok for _, ok, _, _ in rows) else EXIT_FAILED)


def _print_run(rows: list[tuple[str, bool, str, float]], written: dict) -> None:
    click.echo("gcverify run: the main job on the built-in default\n")
    click.echo(f"  {'step':<36} {'':<6} {'seconds':>7}  outcome")
    for step, ok, outcome, seconds in rows:
        mark = click.style(f"{'ok' if ok else 'FAIL':<6}", fg="green" if ok else "red",
                           bold=True)
        click.echo(f"  {step:<36} {mark} {seconds:>7.1f}  {outcome}")
    total = sum(seconds for *_, seconds in rows)
    click.echo(f"  {'total':<36} {'':<6} {total:>7.1f}")
    click.echo("\nReports: " + ", ".join(str(path) for path in written.values()))


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
