"""Campaigns shared by the mutation and report tests, each run once per test session."""

from __future__ import annotations

import functools
import textwrap
from pathlib import Path

from gcverify.mutation import (
    CampaignResult,
    CaseExamples,
    Target,
    custom_mutant,
    mutate_function,
    notebook_target,
    run_campaign,
)
from tests.mutation import tiny_network

TINY_FILE = Path(tiny_network.__file__)


def tiny_target(seed: int = 0) -> Target:
    return Target.from_functions(tiny_network.forward, tiny_network.backward,
                                 CaseExamples(tiny_network.case, seed=seed), label="tiny")


def with_line(target: Target, old: str, new: str):
    """A hand-written mutant: the line of ``target``'s backward containing ``old``
    replaced by ``new`` (one or more lines, indented like it)."""
    lines = target.source.text.splitlines(keepends=True)
    (at,) = [i for i, line in enumerate(lines) if old in line]
    indent = lines[at][: len(lines[at]) - len(lines[at].lstrip())]
    lines[at] = textwrap.indent(textwrap.dedent(new).strip("\n") + "\n", indent)
    return custom_mutant(target.source, "".join(lines), description=new.strip())


def pick(target: Target, *descriptions: str):
    mutants = {m.description: m for m in mutate_function(target.backward)}
    return [mutants[d] for d in descriptions]


@functools.cache
def default_campaign() -> CampaignResult:
    """The built-in notebook target, as ``gcverify mutate`` runs it by default."""
    return run_campaign(notebook_target(seed=0), jobs=2)


@functools.cache
def mixed_campaign() -> CampaignResult:
    """One mutant of every outcome, on the tiny network."""
    target = tiny_target()
    mutants = [
        *pick(target, "dW2 × 2", "Z1 > 0 → Z1 >= 0 in dZ1", "drop keepdims in db1"),
        with_line(target, "db2 = ", "db2 = 1. / m * np.sum(dZ2, axis=1, keepdims=True)"
                                    " * (1 + 1e-10)"),
        with_line(target, "dW1 = ", "raise RuntimeError('boom <&>')"),
        with_line(target, "dA1 = ", "while True:\n    pass"),
        with_line(target, "dZ2 = ", "import os\nos._exit(3)"),
    ]
    return run_campaign(target, examples=4, mutants=mutants, jobs=2, time_limit=2.0)
