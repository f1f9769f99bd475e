"""``gcverify check FILE``: the per-block table and the verdict of a user's backprop.

FILE is imported, and checked, in a supervised child (:mod:`gcverify.supervise`):
this process imports nothing of the user's, so nothing FILE does (``sys.exit``,
``os._exit``, a top-level ``argparse``, a crash, a hang, printing) decides what
gcverify prints or how it exits. The child sends back plain data: the verdict, the
report's text and its JSON form.

>>> from click.testing import CliRunner
>>> CliRunner().invoke(check, ["--help"]).output.splitlines()[0]
'Usage: check [OPTIONS] FILE'
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from gcverify.cli.exit_codes import ExitCode
from gcverify.cli.shared import (
    build_check_options,
    check_options,
    exit_for_failure,
    memory_limit_option,
    styled_verdict,
    time_limit_option,
    traceback_option,
)
from gcverify.cli.target import CheckTarget, TargetOptions, target_options
from gcverify.errors import GCVerifyError
from gcverify.interrupts import catching_interrupts
from gcverify.limits import default_memory_limit
from gcverify.loading import ImportFailed
from gcverify.options import CheckOptions
from gcverify.result import Verdict
from gcverify.supervise import run_supervised

__all__ = ["check"]


@click.command()
@click.argument("file")
@target_options
@check_options(seed_help="With --layers it also seeds the generated data.")
@time_limit_option("Seconds FILE may take to import and be checked; then it counts as hung.")
@memory_limit_option
@traceback_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def check(file: str, time_limit: float, memory_limit: int | None, show_traceback: bool,
          as_json: bool, **options: Any) -> None:
    """Check the backprop in FILE: per-block table and verdict.

    Exit codes: 0 pass, 1 fail, 3 inconclusive, 2 usage error, 4 when FILE's code
    crashed, exited or hung (one line says where; --traceback shows the traceback),
    130 when interrupted. FILE runs in a child process, compiled in memory, with
    sys.argv = [FILE]; nothing is written, and what it prints is not shown.

    \b
    Examples:
      gcverify check mynet.py --forward forward --backward backward --case test_case
      gcverify check mynet.py --forward fwd --backward bwd --layers 4,5,3,1 --batch 3
      gcverify check net.py --convention l-layer --forward L_model_forward \\
          --cost compute_cost --backward L_model_backward --layers 5,4,3,1
      gcverify check net.py --convention loss-and-grads --forward loss \\
          --layers 4,5,3 --layout rows
      gcverify check net.py --convention model --model "TwoLayerNet(4, 5, 3)" \\
          --case make_data
    """
    settings = build_check_options(options)
    request = TargetOptions.from_values(file, options, settings.seed)
    request.require_file()  # a bad combination is a usage error before anything runs
    with catching_interrupts():
        report = run_supervised(
            _check_in_child, request, settings, time_limit=time_limit,
            memory_limit=memory_limit or default_memory_limit(), argv=[file],
            user_files=[file], reraise=(GCVerifyError,))
    if report.failure is not None:
        exit_for_failure(report.failure, show_traceback)
    verdict, text, data = report.value
    if as_json:
        click.echo(json.dumps(data, indent=2, allow_nan=False))
    else:
        # The report, with its first line ("Gradient check: VERDICT") in colour.
        click.echo(f"Gradient check: {styled_verdict(Verdict(verdict))}")
        click.echo(text.partition("\n")[2])
    sys.exit(ExitCode.of(Verdict(verdict)))


def _check_in_child(request: TargetOptions, settings: CheckOptions
                    ) -> tuple[str, str, dict[str, Any]]:
    """Load FILE and check it (in the child): the verdict, the text, the JSON data."""
    from gcverify.check import check_backprop

    try:
        target = CheckTarget.load(request)
    except ImportFailed as failed:  # the file's own exception, with its line
        raise failed.original from None
    result = check_backprop(target.forward, target.backward, target.X, target.Y,
                            target.parameters, **settings.as_dict())
    return result.verdict.value, str(result), result.to_dict()
