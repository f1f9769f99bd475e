"""The checker's options, defined once: :class:`CheckOptions`.

Every way to set an option reads this one definition: the keyword-only parameters of
:func:`gcverify.check_backprop` and friends take their defaults from it, the pytest
plugin's ``--gcverify-*`` options and ``@pytest.mark.gradcheck(...)`` marker, and the
command line's ``--threshold ...`` options are generated from its fields
(:func:`option_fields`), and a campaign records the options it ran with as one
:class:`CheckOptions`.

>>> CheckOptions(threshold=1e-6).threshold
1e-06
>>> CheckOptions(method="forward")
Traceback (most recent call last):
...
gcverify.errors.InvalidArgument: method='forward' is not a known method; use 'central', ...
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any

from gcverify.errors import invalid_argument

__all__ = ["METHODS", "MODES", "CheckOptions", "OptionField", "option_fields"]

#: Ways to compute the numerical gradient.
METHODS = ("central", "complex", "auto")
#: What a check estimates: every coordinate, or random directions per block
#: (:mod:`gcverify.directional`); "auto" picks by the number of parameters.
MODES = ("coordinates", "directional", "auto")
# A threshold must be below this: the difference |k - 1| / (|k| + 1) of a gradient k = 3
# times too large.
_LARGEST_THRESHOLD = 0.5


@dataclass(frozen=True)
class OptionField:
    """One option as front ends show it: name, default, help, and how to parse a string.

    >>> spec = {f.name: f for f in option_fields()}["noise_limit"]
    >>> spec.flag, spec.parse("1e-3"), spec.default
    ('noise-limit', 0.001, 0.0001)
    """

    name: str
    default: Any
    help: str
    parse: Callable[[str], Any]
    metavar: str
    choices: tuple[str, ...] | None = None

    @property
    def flag(self) -> str:
        """The option's name in command lines: ``noise_limit`` -> ``noise-limit``."""
        return self.name.replace("_", "-")


def _option(default: Any, help: str, parse: Callable[[str], Any], metavar: str,
            choices: tuple[str, ...] | None = None) -> Any:
    return field(default=default, metadata={"help": help, "parse": parse, "metavar": metavar,
                                            "choices": choices})


@dataclass(frozen=True)
class CheckOptions:
    """How a gradient check is done. Validated when made; immutable.

    Each field's help below is the one description of that option, shown by
    ``pytest --help`` and ``gcverify check --help`` too.

    Examples
    --------
    >>> options = CheckOptions()
    >>> options.threshold, options.method, options.epsilon
    (2e-07, 'central', None)
    >>> options.replace(sample=5).sample
    5
    >>> CheckOptions(threshold=-1)
    Traceback (most recent call last):
    ...
    gcverify.errors.InvalidArgument: threshold=-1 is not a positive finite number; pass ...
    """

    threshold: float = _option(
        2e-7, "largest acceptable difference |g - n| / (|g| + |n|), per block and over "
        "the whole gradient (the notebook's is 2e-7)", float, "T")
    method: str = _option(
        "central", "numerical derivative: 'central' (central differences with error bars "
        "and kink tests), 'complex' (the complex step, exact to rounding; an error if the "
        "cost is not complex-safe) or 'auto' (complex where safe, else central)", str,
        "METHOD", METHODS)
    epsilon: float | None = _option(
        None, "absolute step of the central difference (the notebook's is 1e-7); by "
        "default cbrt(eps) * max(1, |θ|) per coordinate, with larger steps where the cost is "
        "too noisy", float, "H")
    seed: int = _option(
        0, "seed of the check's random choices (the sampled coordinates, the directions of "
        "directional mode, the direction of the backward pass's rounding probe): the same "
        "seed gives the same result", int, "S")
    sample: int | None = _option(
        None, "check this many coordinates per block (by default every coordinate)", int,
        "K")
    noise_limit: float = _option(
        1e-4, "largest relative numerical error |e| / (|g| + |n|) at which a block is still "
        "judged (wider error bars make it INCONCLUSIVE)", float, "R")
    mode: str = _option(
        "coordinates", "what is estimated: 'coordinates' (every coordinate, 4 cost "
        "evaluations each), 'directional' (`directions` random directions per block, about "
        "4 evaluations each whatever the block's size, and group testing to name the wrong "
        "entries of a failing block) or 'auto' (directional for large networks)", str,
        "MODE", MODES)
    directions: int = _option(
        8, "random directions per block in directional mode (a block no larger is checked "
        "coordinate by coordinate)", int, "K")
    jobs: int | None = _option(
        None, "processes that evaluate the user's code (forked workers, each with its own "
        "copy of the parameters, and one BLAS thread where threadpoolctl is installed; the "
        "result is the same, bit for bit, for any number); by default one per available "
        "core", int, "N")

    def __post_init__(self) -> None:
        _positive("threshold", self.threshold, "pass e.g. threshold=2e-7, the notebook's")
        if self.threshold >= _LARGEST_THRESHOLD:
            # |k g - g| / (|k g| + |g|) = 1/2 at k = 3: nothing milder than a threefold
            # error (or a sign error) could fail.
            raise invalid_argument("threshold", self.threshold, "is not below 0.5, the "
                                   "difference of a gradient 3 times too large, so no milder "
                                   "bug could fail", "pass e.g. threshold=2e-7, the notebook's")
        if self.method not in METHODS:
            raise invalid_argument("method", self.method, "is not a known method",
                                   "use 'central', 'complex' or 'auto'")
        if self.epsilon is not None:
            fix = "pass e.g. epsilon=1e-7, or None for the default step"
            _positive("epsilon", self.epsilon, fix)
            if self.epsilon >= 1:
                raise invalid_argument("epsilon", self.epsilon, "is not a small step", fix)
        if isinstance(self.seed, bool) or not isinstance(self.seed, Integral):
            raise invalid_argument("seed", self.seed, "is not an integer", "pass e.g. seed=0")
        if self.sample is not None and (isinstance(self.sample, bool) or not isinstance(
                self.sample, Integral) or self.sample < 1):
            raise invalid_argument("sample", self.sample, "is not a positive integer",
                                   "pass the number of coordinates to check per block, or "
                                   "None for all")
        _positive("noise_limit", self.noise_limit, "pass e.g. noise_limit=1e-4")
        if self.mode not in MODES:
            raise invalid_argument("mode", self.mode, "is not a known mode",
                                   "use 'coordinates', 'directional' or 'auto'")
        if isinstance(self.directions, bool) or not isinstance(
                self.directions, Integral) or self.directions < 1:
            raise invalid_argument("directions", self.directions, "is not a positive integer",
                                   "pass the number of random directions per block, e.g. "
                                   "directions=8")
        if self.jobs is not None and (isinstance(self.jobs, bool) or not isinstance(
                self.jobs, Integral) or self.jobs < 1):
            raise invalid_argument("jobs", self.jobs, "is not a positive integer",
                                   "pass e.g. jobs=2, or None for one per available core")

    def replace(self, **changes: Any) -> CheckOptions:
        """A copy with ``changes``, validated; a misspelt name is an error that lists the
        right ones."""
        known = tuple(f.name for f in dataclasses.fields(self))
        for name, value in changes.items():
            if name not in known:
                raise invalid_argument(name, value, "is not a checker option",
                                       f"use one of {', '.join(known)}")
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """The options as keyword arguments of :func:`gcverify.check_backprop`.

        >>> CheckOptions().as_dict()["noise_limit"]
        0.0001
        """
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def option_fields() -> tuple[OptionField, ...]:
    """The fields of :class:`CheckOptions`, in order, as front ends generate options from.

    >>> [spec.name for spec in option_fields()]     # doctest: +NORMALIZE_WHITESPACE
    ['threshold', 'method', 'epsilon', 'seed', 'sample', 'noise_limit', 'mode', 'directions',
     'jobs']
    """
    return tuple(OptionField(f.name, f.default, f.metadata["help"], f.metadata["parse"],
                             f.metadata["metavar"], f.metadata["choices"])
                 for f in dataclasses.fields(CheckOptions))


def _positive(name: str, value: Any, fix: str) -> None:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value) \
            or value <= 0:
        raise invalid_argument(name, value, "is not a positive finite number", fix)
