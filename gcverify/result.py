"""Result objects of a gradient check, and their text renderings.

Renderers (the report, the CLI, the pytest plugin) only read these objects.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from gcverify.numdiff import COMPLEX_STEP, DEFAULT_STEP
from gcverify.options import CheckOptions

__all__ = ["BlockFinding", "BlockMap", "Entry", "FrozenMap", "GradCheckResult", "Verdict"]

K = TypeVar("K")
V = TypeVar("V")


class FrozenMap(Mapping[K, V]):
    """A read-only mapping that pickles (results travel between processes).

    >>> counts = FrozenMap({"kink": 2})
    >>> counts["kink"], dict(counts)
    (2, {'kink': 2})
    >>> counts["kink"] = 3
    Traceback (most recent call last):
    ...
    TypeError: 'FrozenMap' object does not support item assignment
    """

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[K, V] | None = None) -> None:
        self._items: dict[K, V] = dict(items or {})

    def __getitem__(self, key: K) -> V:
        return self._items[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._items!r})"

    def __eq__(self, other: object) -> bool:
        return dict(self) == dict(other) if isinstance(other, Mapping) else NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self._items.items()))

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self._items,))


class Verdict(enum.Enum):
    """The outcome of a check. ``INCONCLUSIVE`` is never a pass.

    >>> Verdict.PASS.value
    'pass'
    """

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Entry:
    """One coordinate: its index inside its block, both derivatives, the error bar.

    >>> Entry((0, 1), analytic=2.0, numerical=1.0, error=1e-9).index
    (0, 1)
    """

    index: tuple[int, ...]
    analytic: float
    numerical: float
    error: float


@dataclass(frozen=True)
class BlockFinding:
    """What the check found for one parameter block (``"W2"``).

    ``difference`` is the notebook's formula over the block's judged coordinates;
    ``scale`` the least-squares factor ``k`` with ``analytic ≈ k × numerical``
    (None when the numerical gradient is zero); ``resolution`` the relative size of
    the error bars (the smallest relative mismatch the check can see here);
    ``excluded`` counts the coordinates left out of the verdict, by reason;
    ``informative`` is False when the error bars are too wide to see a mismatch of
    ``noise_limit`` (for a block that passes: its gradient is zero here, so a
    scaling bug in it could not show at this point). ``gradient_key`` is the block's one
    name in reports: the key its gradient was found under (``"dW2"``, or ``"W2"``).
    ``max_absolute`` and ``max_relative``: the largest ``|g - n|`` and ``|g - n| / |n|``
    over the judged coordinates, as numpy.testing reports them. ``at_kinks``: how many
    of the judged coordinates sit at a kink, judged by the one-sided derivative that
    backprop takes there. ``coverage``: the share of the block's gradient norm that the
    judged verdict rests on, ``||g over the evaluated coordinates|| / ||g||`` (1.0 unless
    ``sample=k`` left coordinates out; NaN when the block's gradient is zero).

    >>> from gcverify import check_backprop
    >>> from gcverify.models import notebook as nb
    >>> X, Y, p = nb.gradient_check_n_test_case()
    >>> block = check_backprop(nb.forward_propagation_n, nb.backward_propagation_n_buggy,
    ...                        X, Y, p).blocks["W2"]
    >>> block
    BlockFinding('W2', FAIL, difference=0.333333, scale=2)
    >>> block.diagnosis
    'dW2 ≈ 2.000 × numerical (scaling bug)'
    """

    name: str
    gradient_key: str
    verdict: Verdict
    difference: float
    scale: float | None
    resolution: float
    size: int
    judged: int
    excluded: Mapping[str, int]
    worst: tuple[Entry, ...]
    diagnosis: str
    informative: bool = True
    max_absolute: float = math.nan
    max_relative: float = math.nan
    at_kinks: int = 0
    coverage: float = 1.0

    def __repr__(self) -> str:
        scale = "None" if self.scale is None else f"{self.scale:.4g}"
        return (f"BlockFinding({self.name!r}, {self.verdict}, difference="
                f"{_number(self.difference)}, scale={scale})")


class BlockMap(FrozenMap[str, BlockFinding]):
    """The blocks of a result by parameter name (``"W2"``), also found by their gradient's
    key (``"dW2"``).

    >>> from gcverify.models import notebook as nb
    >>> from gcverify import check_backprop
    >>> X, Y, p = nb.gradient_check_n_test_case()
    >>> blocks = check_backprop(nb.forward_propagation_n, nb.backward_propagation_n, X, Y,
    ...                         p).blocks
    >>> blocks["dW2"] is blocks["W2"], list(blocks)[:2]
    (True, ['W1', 'b1'])
    """

    __slots__ = ()

    def __getitem__(self, key: str) -> BlockFinding:
        if key in self._items:
            return self._items[key]
        for block in self._items.values():
            if block.gradient_key == key:
                return block
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return key in self._items or any(b.gradient_key == key for b in self._items.values())


@dataclass(frozen=True)
class GradCheckResult:
    """The outcome of :func:`gcverify.check_gradients` / :func:`gcverify.check_backprop`.

    ``difference`` is the notebook's ``|g - n| / (|g| + |n|)`` over all judged
    coordinates; ``blocks`` maps each parameter name to its :class:`BlockFinding`;
    ``reasons`` explains the verdict in sentences a person can act on. ``analytic``,
    ``numerical`` and ``error`` are the flat vectors (read-only) in the layout's
    order, with NaN where a coordinate was not evaluated.

    >>> from gcverify import MLP, check_backprop
    >>> net = MLP((3, 4, 1))
    >>> X, Y = net.make_batch(5)
    >>> result = check_backprop(net.forward, net.backward, X, Y, net.init_parameters())
    >>> result.verdict
    <Verdict.PASS: 'pass'>
    >>> result.summary().startswith("PASS: difference")
    True
    """

    verdict: Verdict
    difference: float
    options: CheckOptions
    method: str
    blocks: Mapping[str, BlockFinding]
    reasons: tuple[str, ...]
    n_coordinates: int
    n_judged: int
    excluded: Mapping[str, int]
    evaluator: str = "loop"
    n_at_kinks: int = 0
    analytic: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    numerical: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    error: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "blocks", BlockMap(self.blocks))
        object.__setattr__(self, "excluded", FrozenMap(self.excluded))
        for name in ("analytic", "numerical", "error"):
            array = np.array(getattr(self, name), dtype=np.float64)
            array.flags.writeable = False
            object.__setattr__(self, name, array)

    def __repr__(self) -> str:
        mismatched = [block.name for block in self.mismatched]
        return (f"GradCheckResult({self.verdict}, difference={_number(self.difference)}, "
                f"blocks={len(self.blocks)}, mismatched={mismatched})")

    @property
    def threshold(self) -> float:
        """The threshold the check applied (``options.threshold``)."""
        return self.options.threshold

    @property
    def passed(self) -> bool:
        return self.verdict is Verdict.PASS

    @property
    def mismatched(self) -> tuple[BlockFinding, ...]:
        """The blocks whose verdict is FAIL."""
        return tuple(b for b in self.blocks.values() if b.verdict is Verdict.FAIL)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready): everything but the flat vectors.

        Non-finite numbers (a NaN difference, an infinite resolution) are None (JSON
        null), as in every JSON document gcverify writes; the text report shows them.
        ``options`` are the options checked with; ``method`` is the method used (with
        ``method="auto"``, "complex" or "central").

        >>> from gcverify import MLP, check_backprop
        >>> net = MLP((2, 1))
        >>> X, Y = net.make_batch(3)
        >>> data = check_backprop(net.forward, net.backward, X, Y, net.init_parameters()
        ...                       ).to_dict()
        >>> data["verdict"], data["options"]["threshold"]
        ('pass', 2e-07)
        """
        return {
            "verdict": self.verdict.value,
            "difference": _json_number(self.difference),
            "method": self.method,
            "options": self.options.as_dict(),
            "evaluator": self.evaluator,
            "n_coordinates": self.n_coordinates,
            "n_judged": self.n_judged,
            "n_at_kinks": self.n_at_kinks,
            "excluded": dict(self.excluded),
            "reasons": list(self.reasons),
            "blocks": {name: {
                "verdict": block.verdict.value,
                "difference": _json_number(block.difference),
                "scale": _json_number(block.scale),
                "resolution": _json_number(block.resolution),
                "size": block.size,
                "judged": block.judged,
                "at_kinks": block.at_kinks,
                "coverage": _json_number(block.coverage),
                "excluded": dict(block.excluded),
                "informative": block.informative,
                "diagnosis": block.diagnosis,
                "worst": [{"index": list(entry.index), "analytic": _json_number(entry.analytic),
                           "numerical": _json_number(entry.numerical),
                           "error": _json_number(entry.error)} for entry in block.worst],
            } for name, block in self.blocks.items()},
        }

    def summary(self) -> str:
        """One line: the verdict and why."""
        if self.verdict is Verdict.FAIL:
            bad = self.mismatched
            what = "; ".join(b.diagnosis for b in bad) or self.reasons[0]
            return (f"FAIL: {len(bad)} of {len(self.blocks)} blocks mismatched ({what}); "
                    f"difference {_number(self.difference)} > {self.threshold:g}")
        if self.verdict is Verdict.INCONCLUSIVE:
            return f"INCONCLUSIVE: {self.reasons[0]}"
        excluded = sum(self.excluded.values())
        within = (f"<= {self.threshold:g}" if self.difference <= self.threshold else
                  f"(above {self.threshold:g}, within the numerical error bars)")
        return (f"PASS: difference {_number(self.difference)} {within} over "
                f"{self.n_judged} of {self.n_coordinates} coordinates ({excluded} excluded)")

    def __str__(self) -> str:
        return "\n".join(self._report_lines())

    def _report_lines(self) -> list[str]:
        excluded = sum(self.excluded.values())
        lines = [
            f"Gradient check: {self.verdict}",
            f"  threshold {self.threshold:g} | method {self.method} | step "
            f"{_describe_step(self.options.epsilon, self.method)} | "
            f"{self.evaluator} evaluation",
            f"  {self.n_coordinates} coordinates, {self.n_judged} judged"
            + (f" ({self.n_at_kinks} at kinks, by one-sided derivatives)"
               if self.n_at_kinks else "") + f", {excluded} excluded"
            + (f" ({_counts(self.excluded)})" if excluded else ""),
            f"  difference {_number(self.difference)} (the notebook's formula over the "
            "judged coordinates)",
        ]
        if self.options.sample is not None:
            shares = ", ".join(f"{b.gradient_key} {_share(b.coverage)}"
                               for b in self.blocks.values())
            lines.append(f"  sampled: up to {self.options.sample} coordinates per block, "
                         f"picked by |g|; share of each block's gradient norm checked: "
                         f"{shares}")
        bad = self.mismatched
        if bad:
            lines += ["", f"Mismatched blocks: {len(bad)} / {len(self.blocks)}"]
            for block in bad:
                lines += _block_failure_lines(block)
        lines += ["", "Blocks:", _block_table_header()]
        lines += [_block_table_row(block) for block in self.blocks.values()]
        if any(not block.informative and block.judged for block in self.blocks.values()):
            lines.append("  * error bars wider than noise_limit: a mismatch this small "
                         "could not show")
        if self.reasons:
            lines += ["", "Reasons:"] + [f"  - {reason}" for reason in self.reasons]
        return lines


def _share(value: float) -> str:
    return "-" if not math.isfinite(value) else f"{value:.3g}"


def _json_number(value: float | None) -> float | None:
    """JSON has no NaN or infinity: those become None (null)."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _describe_step(epsilon: float | None, method: str) -> str:
    central = f"{epsilon:g}" if epsilon is not None else f"{DEFAULT_STEP:.3g} × max(1, |θ|)"
    if method == "complex":
        return f"{COMPLEX_STEP:g}i (central {central} for kinks and error bars)"
    return central


def _number(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return str(value)
    return f"{value:.6g}" if value >= 1e-3 or value == 0 else f"{value:.4e}"


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{reason} {count}" for reason, count in counts.items() if count)


def _block_failure_lines(block: BlockFinding) -> list[str]:
    lines = [f"  {block.gradient_key}: difference {_number(block.difference)}, "
             f"{block.judged} of {block.size} coordinates judged",
             f"    {'index':<12} {'analytic':>24} {'numerical':>24}"]
    for entry in block.worst:
        lines.append(f"    {entry.index!s:<12} {entry.analytic!r:>24} {entry.numerical!r:>24}")
    if math.isfinite(block.max_absolute):
        lines += [f"    Max absolute difference: {block.max_absolute:.6g}",
                  f"    Max relative difference: {block.max_relative:.6g}"]
    lines.append(f"    {block.diagnosis}")
    return lines


def _block_table_header() -> str:
    return (f"  {'block':<8} {'verdict':<13} {'difference':>12} {'scale':>9} "
            f"{'judged':>9} {'resolution':>11}  excluded")


def _block_table_row(block: BlockFinding) -> str:
    scale = "-" if block.scale is None else f"{block.scale:.4g}"
    verdict = str(block.verdict) + ("" if block.informative else "*")
    return (f"  {block.gradient_key:<8} {verdict:<13} {_number(block.difference):>12} {scale:>9} "
            f"{f'{block.judged}/{block.size}':>9} {_number(block.resolution):>11}  "
            f"{_counts({**block.excluded, 'one-sided at kink': block.at_kinks}) or '-'}")
