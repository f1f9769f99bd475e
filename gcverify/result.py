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

from gcverify.certificate import Sensitivity
from gcverify.options import CheckOptions
from gcverify.result_text import format_number, report_lines

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
    backprop takes there. ``gradient_share``: the share of the block's gradient norm that
    the verdict rests on, ``||g over the evaluated coordinates|| / ||g||`` (1.0 unless
    ``sample=k`` left coordinates out; NaN when the block's gradient is zero).

    ``sensitivity`` is the block's certificate (:class:`~gcverify.certificate.Sensitivity`):
    the smallest relative error ``‖δ‖ / ‖g‖`` this check would have FAILed, whatever its
    direction, and the scale factors it would have let through (None when nothing was
    judged or the gradient is not finite). ``coverage`` is the share of its judged
    coordinates whose gradient is distinguishable from zero (``|g| + |n|`` beyond three
    error bars; NaN when none was judged); ``dead_units`` the indices along its first
    axis (the units of ``W`` and ``b``) whose judged coordinates all have a zero
    gradient: a bug in their gradient could not show on these examples.

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
    sensitivity: Sensitivity | None = None
    coverage: float = math.nan
    dead_units: tuple[int, ...] = ()
    gradient_share: float = 1.0

    @property
    def certifies(self) -> bool:
        """Whether the certificate says something: the block is informative and its
        gradient not zero (a sampled block's certificate speaks of scalings only)."""
        return (self.informative and self.sensitivity is not None
                and (math.isfinite(self.sensitivity.relative_error)
                     or self.sensitivity.confidence == 0))

    def certificate_line(self) -> str:
        """The certificate in one line, as the text report prints it."""
        if self.sensitivity is None:
            return f"{self.gradient_key}: certifies nothing (nothing judged, or not finite)"
        if not self.certifies:
            return (f"{self.gradient_key}: certifies nothing (zero within the error bars, "
                    "or too noisy, here)")
        return self.sensitivity.describe(self.gradient_key)

    def __repr__(self) -> str:
        scale = "None" if self.scale is None else f"{self.scale:.4g}"
        return (f"BlockFinding({self.name!r}, {self.verdict}, difference="
                f"{format_number(self.difference)}, scale={scale})")


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
    order, with NaN where a coordinate was not evaluated. ``mode`` is the mode the check
    ran in ("coordinates" or "directional", also when chosen by ``mode="auto"``); in
    directional mode a block's "coordinates" are random directions (``n_judged`` and
    ``BlockFinding.judged`` count directions, ``worst`` holds the entries localised in a
    failing block) and ``numerical`` and ``error`` are empty: no coordinate was estimated.

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
    mode: str = "coordinates"

    def __post_init__(self) -> None:
        object.__setattr__(self, "blocks", BlockMap(self.blocks))
        object.__setattr__(self, "excluded", FrozenMap(self.excluded))
        for name in ("analytic", "numerical", "error"):
            array = np.array(getattr(self, name), dtype=np.float64)
            array.flags.writeable = False
            object.__setattr__(self, name, array)

    def __repr__(self) -> str:
        mismatched = [block.name for block in self.mismatched]
        return (f"GradCheckResult({self.verdict}, difference={format_number(self.difference)}, "
                f"blocks={len(self.blocks)}, mismatched={mismatched})")

    @property
    def threshold(self) -> float:
        """The threshold the check applied (``options.threshold``)."""
        return self.options.threshold

    @property
    def passed(self) -> bool:
        return self.verdict is Verdict.PASS

    @property
    def sensitivity(self) -> Sensitivity | None:
        """The weakest block's certificate: the largest ``relative_error`` among the
        blocks that certify something (:attr:`BlockFinding.certifies`). None when no block
        does (a stationary point, nothing judged): such a check certifies nothing.

        >>> from gcverify import MLP, check_backprop
        >>> net = MLP((3, 4, 1))
        >>> X, Y = net.make_batch(5)
        >>> result = check_backprop(net.forward, net.backward, X, Y, net.init_parameters())
        >>> result.sensitivity.relative_error < 1e-5
        True
        """
        certified = [b.sensitivity for b in self.blocks.values()
                     if b.certifies and b.sensitivity is not None]
        return max(certified, key=lambda s: s.relative_error, default=None)

    @property
    def mismatched(self) -> tuple[BlockFinding, ...]:
        """The blocks whose verdict is FAIL."""
        return tuple(b for b in self.blocks.values() if b.verdict is Verdict.FAIL)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready): everything but the flat vectors.

        Non-finite numbers (a NaN difference, an infinite resolution) are None (JSON
        null), as in every JSON document gcverify writes; the text report shows them.
        ``options`` are the options checked with; ``method`` is the method used (with
        ``method="auto"``, "complex" or "central"). ``sensitivity`` (the weakest block's,
        top level) and each block's ``sensitivity`` hold ``relative_error``, ``tolerated``
        and ``scaling`` (``[k_lo, k_hi]``, null when no factor passes), null where
        nothing is certified; each block has its ``coverage`` and ``dead_units``.

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
            "mode": self.mode,
            "options": self.options.as_dict(),
            "evaluator": self.evaluator,
            "n_coordinates": self.n_coordinates,
            "n_judged": self.n_judged,
            "n_at_kinks": self.n_at_kinks,
            "excluded": dict(self.excluded),
            "reasons": list(self.reasons),
            "sensitivity": None if self.sensitivity is None else self.sensitivity.as_dict(),
            "blocks": {name: {
                "verdict": block.verdict.value,
                "difference": _json_number(block.difference),
                "scale": _json_number(block.scale),
                "resolution": _json_number(block.resolution),
                "size": block.size,
                "judged": block.judged,
                "at_kinks": block.at_kinks,
                "gradient_share": _json_number(block.gradient_share),
                "excluded": dict(block.excluded),
                "informative": block.informative,
                "diagnosis": block.diagnosis,
                "sensitivity": (block.sensitivity.as_dict() if block.certifies
                                and block.sensitivity is not None else None),
                "coverage": _json_number(block.coverage),
                "dead_units": list(block.dead_units),
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
                    f"difference {format_number(self.difference)} > {self.threshold:g}")
        if self.verdict is Verdict.INCONCLUSIVE:
            return f"INCONCLUSIVE: {self.reasons[0]}"
        excluded = sum(self.excluded.values())
        within = (f"<= {self.threshold:g}" if self.difference <= self.threshold else
                  f"(above {self.threshold:g}, within the numerical error bars)")
        if self.mode == "directional":
            return (f"PASS: difference {format_number(self.difference)} {within} over "
                    f"{self.n_judged} directions in {len(self.blocks)} blocks "
                    f"({self.n_coordinates} coordinates; {excluded} directions excluded)")
        return (f"PASS: difference {format_number(self.difference)} {within} over "
                f"{self.n_judged} of {self.n_coordinates} coordinates ({excluded} excluded)")

    def __str__(self) -> str:
        return "\n".join(report_lines(self))


def _json_number(value: float | None) -> float | None:
    """JSON has no NaN or infinity: those become None (null)."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)
