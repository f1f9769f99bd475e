"""``gcverify check FILE``: the per-block table and the verdict of a user's backprop."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from gcverify.cli.exit_codes import ExitCode
from gcverify.cli.shared import build_check_options, check_options, styled_verdict
from gcverify.cli.target import CheckTarget, TargetOptions, target_options
from gcverify.result import GradCheckResult

__all__ = ["check"]


@click.command()
@click.argument("file")
@target_options
@check_options(seed_help="With --layers it also seeds the generated data.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def check(file: str, forward: str | None, backward: str | None, case: str | None,
          layers: str | None, batch: int | None, as_json: bool, **options: Any) -> None:
    """Check the backprop in FILE: per-block table and verdict.

    Exit codes: 0 pass, 1 fail, 3 inconclusive, 2 usage error. FILE is compiled in
    memory; nothing is written.

    \b
    Examples:
      gcverify check mynet.py --forward forward --backward backward --case test_case
      gcverify check mynet.py --forward fwd --backward bwd --layers 4,5,3,1 --batch 3
    """
    from gcverify.check import check_backprop

    settings = build_check_options(options)
    target = CheckTarget.load(TargetOptions(file, forward, backward, case, layers, batch,
                                            settings.seed))
    result = check_backprop(target.forward, target.backward, target.X, target.Y,
                            target.parameters, **settings.as_dict())
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, allow_nan=False))
    else:
        _print_result(result)
    sys.exit(ExitCode.of(result.verdict))


def _print_result(result: GradCheckResult) -> None:
    # The report, with its first line ("Gradient check: VERDICT") in colour.
    click.echo(f"Gradient check: {styled_verdict(result.verdict)}")
    click.echo(str(result).partition("\n")[2])
