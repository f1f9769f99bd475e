"""The ``gcverify`` command line: thin commands over the library.

Exit codes: 0 ok, 1 a check failed, 2 usage error (bad option, missing file or name,
invalid argument), 3 inconclusive (``gcverify check``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from gcverify._version import __version__
from gcverify.errors import GCVerifyError, invalid_argument
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

def _layers(value: str | None) -> tuple[int, ...] | None:
    if value is None:
        return None
    try:
        dims = tuple(int(part) for part in value.split(","))
    except ValueError:
        raise invalid_argument("--layers", value, "is not a list of widths",
                               "write e.g. --layers 4,5,3,1") from None
    if len(dims) < 2 or min(dims) < 1:
        raise invalid_argument("--layers", value, "needs at least two positive widths",
                               "write e.g. --layers 4,5,3,1")
    return dims


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
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
def check(file: Path, forward_name: str, backward_name: str, case_name: str | None,
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
    dims = _layers(layers)
    module = load_module(file)
    forward = load_function(module, forward_name, "--forward")
    backward = load_function(module, backward_name, "--backward")
    if case_name is not None:
        X, Y, parameters = _case(load_function(module, case_name, "--case"), case_name)
    else:
        from gcverify.models import MLP
        net = MLP(dims or ())
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
        raise invalid_argument("--case", name, "does not return (X, Y, parameters)",
                               "return the three, as gradient_check_n_test_case does")
    return value


def _print_result(result: GradCheckResult) -> None:
    # The report, with its first line ("Gradient check: VERDICT") in colour.
    click.echo(f"Gradient check: {_verdict(result.verdict.name, 0)}")
    click.echo(str(result).partition("\n")[2])


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
