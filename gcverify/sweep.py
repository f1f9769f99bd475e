"""The property sweep: check the correct backprop of many generated networks.

The same property as the test suite's (the correct backprop is never FAIL, and mostly
PASS), run as a library call with a seed, for ``gcverify run`` and for research.

It writes nothing in the working directory: no example database (``database=None``),
and Hypothesis's other files (a cache of the constants in the code it has seen) go to
a temporary folder removed afterwards, so ``gcverify run`` leaves no ``.hypothesis/``
behind.

Ctrl-C stops it with the networks checked so far (``interrupted=True``), and is never
lost: Hypothesis times the garbage collector with a callback, and a SIGINT that lands
in it is printed as "Exception ignored" and swallowed by the interpreter. The sweep
counts SIGINT (:mod:`gcverify.interrupts`) and stops at the next network.

>>> result = sweep_correct_backprop(examples=20, seed=1)
>>> result.verdicts[Verdict.FAIL]
0
>>> result.summary().startswith("20 networks: no FAIL")
True
"""

from __future__ import annotations

import contextlib
import re
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir, storage_directory

from gcverify.check import check_backprop
from gcverify.errors import invalid_argument
from gcverify.interrupts import catching_interrupts, check_interrupt
from gcverify.options import CheckOptions
from gcverify.result import FrozenMap, Verdict
from gcverify.strategies import Network, networks

__all__ = ["SweepResult", "sweep_correct_backprop"]


@dataclass(frozen=True)
class SweepResult:
    """Verdict counts over ``examples`` generated networks, and why not PASS;
    ``interrupted`` when Ctrl-C stopped the sweep before its ``requested`` networks.

    >>> SweepResult(3, 0, {Verdict.PASS: 3}, {}, interrupted=True, requested=10).summary()
    'interrupted after 3 of 10 networks: no FAIL; PASS 100.0%, INCONCLUSIVE 0.0%'
    """

    examples: int
    seed: int
    verdicts: Mapping[Verdict, int]
    reasons: Mapping[str, int]
    failures: tuple[str, ...] = ()
    seconds: float = field(default=0.0, compare=False)
    interrupted: bool = False
    requested: int = 0

    def __post_init__(self) -> None:
        counts = {verdict: self.verdicts.get(verdict, 0) for verdict in Verdict}
        object.__setattr__(self, "verdicts", FrozenMap(counts))
        object.__setattr__(self, "reasons", FrozenMap(dict(self.reasons)))

    @property
    def passed(self) -> bool:
        """No FAIL (a correct backprop must never fail), and the sweep ran to the end."""
        return not self.verdicts[Verdict.FAIL] and not self.interrupted

    @property
    def pass_share(self) -> float:
        return self.verdicts[Verdict.PASS] / max(1, self.examples)

    def tally(self) -> str:
        """The verdicts in words: ``no FAIL; PASS 99.5 %, INCONCLUSIVE 0.5 %``."""
        fails = self.verdicts[Verdict.FAIL]
        inconclusive = self.verdicts[Verdict.INCONCLUSIVE]
        head = "no FAIL" if not fails else f"{fails} FAIL"
        return (f"{head}; PASS {self.pass_share:.1%}, "
                f"INCONCLUSIVE {inconclusive / max(1, self.examples):.1%}")

    def summary(self) -> str:
        """One line: how many networks, and :meth:`tally`."""
        if self.interrupted:
            return (f"interrupted after {self.examples} of {self.requested or '?'} networks: "
                    f"{self.tally()}")
        return f"{self.examples} networks: {self.tally()}"


def _reason_kind(reason: str) -> str:
    return re.sub(r"[dW]?[Wb]\d+|\d[\d.e+-]*", "#", reason)


def sweep_correct_backprop(examples: int = 200, seed: int = 0,
                           strategy: st.SearchStrategy[Network] | None = None,
                           options: CheckOptions | None = None) -> SweepResult:
    """Check the correct backprop of ``examples`` networks drawn (with ``seed``) from
    ``strategy`` (default: :func:`gcverify.strategies.networks`), with ``options``
    (default: ``CheckOptions()``).

    A FAIL is recorded, not raised, so that the sweep always completes; Ctrl-C returns
    the networks checked so far, with ``interrupted=True``.
    """
    if isinstance(examples, bool) or not isinstance(examples, int) or examples < 1:
        raise invalid_argument("examples", examples, "is not a positive integer",
                               "pass e.g. examples=200")
    keywords = (options or CheckOptions()).as_dict()
    verdicts: Counter[Verdict] = Counter()
    reasons: Counter[str] = Counter()
    failures: list[str] = []

    @hypothesis_seed(seed)
    @settings(max_examples=examples, database=None, deadline=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(strategy if strategy is not None else networks())
    def sweep(network: Network) -> None:
        check_interrupt()  # one Hypothesis's GC callback swallowed
        result = check_backprop(*network, **keywords)
        verdicts[result.verdict] += 1
        if result.verdict is not Verdict.PASS:
            reasons[_reason_kind(result.reasons[0])] += 1
        if result.verdict is Verdict.FAIL:
            failures.append(f"{network.net!r}: {result.summary()}")

    start = time.perf_counter()
    interrupted = False
    with catching_interrupts(), _hypothesis_files_elsewhere():
        try:
            sweep()
            check_interrupt()  # one swallowed during the last network
        except KeyboardInterrupt:
            interrupted = True
    return SweepResult(sum(verdicts.values()), seed, verdicts, reasons, tuple(failures),
                       time.perf_counter() - start, interrupted, examples)


@contextlib.contextmanager
def _hypothesis_files_elsewhere() -> Iterator[None]:
    """Hypothesis's storage (``.hypothesis/`` in the working directory, where it caches
    the constants of the modules it sees even without a database) in a temporary
    folder for the duration; then where it was."""
    home: Any = storage_directory()
    before = Path(getattr(home, "path", home))  # a plain Path in older Hypothesis versions
    with tempfile.TemporaryDirectory(prefix="gcverify-hypothesis-") as folder:
        set_hypothesis_home_dir(folder)
        try:
            yield
        finally:
            set_hypothesis_home_dir(before)
