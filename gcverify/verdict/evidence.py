"""What the judge reads: the flat vectors of a check's evidence, and why a coordinate
is left out of the verdict.

>>> from gcverify.params import ParamLayout
>>> layout = ParamLayout.from_parameters({"W1": np.zeros((1, 2))})
>>> evidence = Evidence(layout, np.ones(2), np.ones(2), np.zeros(2),
...                     np.array([NOT_EXCLUDED, Exclusion.KINK]), np.ones(2, dtype=bool),
...                     2e-7, 0.1)
>>> evidence.judged.tolist(), excluded_totals(evidence)
([True, False], {'kink': 1})
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from gcverify.params import ParamLayout, gradient_key

__all__ = ["NOT_EXCLUDED", "Evidence", "Exclusion", "excluded_totals"]


class Exclusion(enum.IntEnum):
    """Why a coordinate is left out of the verdict; ``label`` is how reports name it.

    The values are the codes stored in :attr:`Evidence.exclusion`.

    >>> Exclusion.KINK.label, int(Exclusion.NONFINITE)
    ('kink', 2)
    """

    KINK = 0
    ROUGH = 1
    NONFINITE = 2
    STEP = 3

    @property
    def label(self) -> str:
        return _EXCLUSION_LABELS[self]


_EXCLUSION_LABELS = {Exclusion.KINK: "kink", Exclusion.ROUGH: "non-smooth cost",
                     Exclusion.NONFINITE: "non-finite cost", Exclusion.STEP: "step too small"}
#: The exclusion code of a coordinate that is judged.
NOT_EXCLUDED = -1


@dataclass(frozen=True)
class Evidence:
    """Everything the judge reads, as flat vectors in the layout's order.

    ``exclusion[i]`` is :data:`NOT_EXCLUDED` for a judged coordinate, else an
    :class:`Exclusion` code; ``evaluated[i]`` is False for coordinates not sampled;
    ``one_sided[i]`` marks coordinates at a kink whose analytic value equals a one-sided
    derivative (a consistent subgradient): they are judged against that side's estimate
    and its error bar (``numerical``, ``error``), and counted as at kinks, not excluded
    (their ``exclusion`` code says where the kink was seen). ``keys`` names each block's gradient
    as the user's code keyed it (``"dW1"`` by default); ``missing`` holds the indices of
    blocks the gradients lack (their analytic values are 0).
    """

    layout: ParamLayout
    analytic: np.ndarray
    numerical: np.ndarray
    error: np.ndarray
    exclusion: np.ndarray
    evaluated: np.ndarray
    threshold: float
    noise_limit: float
    one_sided: np.ndarray | None = None
    keys: tuple[str, ...] | None = None
    missing: frozenset[int] = frozenset()

    def key(self, k: int) -> str:
        """The name of block ``k``'s gradient."""
        return self.keys[k] if self.keys is not None else gradient_key(self.layout.names[k])

    @property
    def at_kinks(self) -> np.ndarray:
        """Coordinates judged by a one-sided derivative at a kink."""
        if self.one_sided is None:
            return np.zeros(self.exclusion.shape, dtype=bool)
        return self.evaluated & (self.exclusion >= 0) & self.one_sided

    @property
    def excluded(self) -> np.ndarray:
        """Coordinates evaluated but left out of the verdict."""
        return self.evaluated & (self.exclusion >= 0) & ~self.at_kinks

    @property
    def judged(self) -> np.ndarray:
        return self.evaluated & ~self.excluded


def excluded_totals(evidence: Evidence) -> dict[str, int]:
    """How many evaluated coordinates were excluded, by :attr:`Exclusion.label`."""
    codes = evidence.exclusion[evidence.excluded]
    return {reason.label: int(c) for reason, c in zip(Exclusion, np.bincount(codes)) if c}
