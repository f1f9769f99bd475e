"""pytest plugin: a ``gradcheck`` fixture, ``--gcverify-*`` options, a ``gradcheck`` marker.

Registered through the ``pytest11`` entry point, so installing gcverify is enough::

    def test_my_backprop(gradcheck):
        gradcheck(forward, backward, X, Y, parameters)

The fixture raises an :class:`AssertionError` carrying the full report unless the check
passes. It is session-scoped and keeps nothing of any test (a test's marker is read
when the test calls it), so a test may take it and be decorated with Hypothesis's
``@given``: Hypothesis's ``function_scoped_fixture`` health check has nothing to warn
about. Its options are generated from :class:`~gcverify.options.CheckOptions` (``pytest
--help`` lists them: ``--gcverify-threshold``, ``--gcverify-method``,
``--gcverify-epsilon``, ``--gcverify-seed``, ``--gcverify-sample``,
``--gcverify-noise-limit``, ``--gcverify-mode``, ``--gcverify-directions``,
``--gcverify-jobs``) plus ``--gcverify-allow-inconclusive``. A test overrides any
of them with ``@pytest.mark.gradcheck(threshold=1e-6, noise_limit=1e-3)``.

The module imports nothing heavy at load: gcverify's checker (and numpy) are imported
when the fixture is first used.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pytest

from gcverify.errors import InvalidArgument
from gcverify.options import CheckOptions, option_fields

if TYPE_CHECKING:
    from gcverify.result import GradCheckResult

__all__ = ["GradCheck"]

_MARKER = "gradcheck"
_ALLOW = "allow_inconclusive"


def _marker_options() -> tuple[str, ...]:
    return (*(spec.name for spec in option_fields()), _ALLOW)


def _flag(name: str) -> str:
    return "--gcverify-" + name.replace("_", "-")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gcverify", "gradient checking with gcverify (gradcheck fixture)")
    for spec in option_fields():
        group.addoption(_flag(spec.name), type=spec.parse, choices=spec.choices,
                        default=spec.default, metavar=None if spec.choices else spec.metavar,
                        dest=f"gcverify_{spec.name}",
                        help=f"{spec.help} (default: %(default)s)")
    group.addoption(_flag(_ALLOW), action="store_true", default=False, dest=f"gcverify_{_ALLOW}",
                    help="let an INCONCLUSIVE check pass (default: it fails the test)")


_SESSION_OPTIONS = pytest.StashKey[CheckOptions]()
_RUNNING = pytest.StashKey[pytest.Item]()


def pytest_configure(config: pytest.Config) -> None:
    defaults = ", ".join(f"{spec.name}={spec.default!r}" for spec in option_fields())
    config.addinivalue_line(
        "markers", f"{_MARKER}({defaults}, {_ALLOW}=False): options of the gradcheck fixture "
                   "for this test")
    # The --gcverify-* values are checked once, before any test runs.
    values = {spec.name: config.getoption(f"gcverify_{spec.name}") for spec in option_fields()}
    try:
        config.stash[_SESSION_OPTIONS] = CheckOptions(**values)
    except InvalidArgument as error:
        flags = {spec.name: _flag(spec.name) for spec in option_fields()}
        raise pytest.UsageError(str(error.renamed(flags))) from None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """Remember which test runs, so that the session's fixture reads its marker."""
    item.config.stash[_RUNNING] = item
    try:
        return (yield)
    finally:
        del item.config.stash[_RUNNING]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Reject a malformed ``gradcheck`` marker before any test runs."""
    for item in items:
        for marker in item.iter_markers(_MARKER):
            _validate_marker(item.nodeid, marker.args, marker.kwargs)


def _validate_marker(nodeid: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    if args:
        raise pytest.UsageError(
            f"{nodeid}: @pytest.mark.{_MARKER}{args!r} takes keyword arguments only; write "
            f"e.g. @pytest.mark.{_MARKER}(threshold=1e-6)")
    unknown = sorted(set(kwargs) - set(_marker_options()))
    if unknown:
        raise pytest.UsageError(
            f"{nodeid}: @pytest.mark.{_MARKER}({unknown[0]}=...) is not an option; use "
            f"{', '.join(_marker_options())}")
    try:
        CheckOptions(**{name: value for name, value in kwargs.items() if name != _ALLOW})
    except InvalidArgument as error:
        raise pytest.UsageError(f"{nodeid}: @pytest.mark.{_MARKER}: {error}") from None
    if not isinstance(kwargs.get(_ALLOW, False), bool):
        raise pytest.UsageError(f"{nodeid}: @pytest.mark.{_MARKER}({_ALLOW}="
                                f"{kwargs[_ALLOW]!r}) is not a bool; pass True or False")


class GradCheck:
    """The ``gradcheck`` fixture: assert that a backprop passes gcverify's check.

    ``gradcheck(forward, backward, X, Y, parameters)`` checks a forward/backward pair
    in the notebook's convention; ``gradcheck.gradients(cost, gradients, parameters)``
    checks given gradients of a cost. Both return the
    :class:`~gcverify.result.GradCheckResult` when it passes; keyword arguments (any
    :class:`~gcverify.options.CheckOptions` field, or ``allow_inconclusive``) override
    the test's options for one call.

    >>> GradCheck(CheckOptions(threshold=1e-6))
    GradCheck(CheckOptions(threshold=1e-06, ...), allow_inconclusive=False)
    """

    def __init__(self, options: CheckOptions, allow_inconclusive: bool = False) -> None:
        self.options = options
        self.allow_inconclusive = allow_inconclusive

    def __repr__(self) -> str:
        return f"GradCheck({self.options!r}, allow_inconclusive={self.allow_inconclusive})"

    def _current(self) -> tuple[CheckOptions, bool]:
        """The options and ``allow_inconclusive`` that apply now."""
        return self.options, self.allow_inconclusive

    def _settings(self, overrides: dict[str, Any]) -> dict[str, Any]:
        options, allow = self._current()
        allow = overrides.pop(_ALLOW, allow)
        return {**options.replace(**overrides).as_dict(), _ALLOW: allow}

    def __call__(self, forward: Any, backward: Any, X: Any, Y: Any, parameters: Any,
                 **overrides: Any) -> GradCheckResult:
        __tracebackhide__ = True
        from gcverify.check import assert_backprop_correct
        return assert_backprop_correct(forward, backward, X, Y, parameters,
                                       **self._settings(overrides))

    def gradients(self, cost: Any, gradients: Any, parameters: Any,
                  **overrides: Any) -> GradCheckResult:
        __tracebackhide__ = True
        from gcverify.check import assert_gradients_correct
        return assert_gradients_correct(cost, gradients, parameters,
                                        **self._settings(overrides))


class _SessionGradCheck(GradCheck):
    """The fixture's object, one for the session: the ``--gcverify-*`` options, and at
    each call the ``gradcheck`` marker of the test that is running."""

    def __init__(self, config: pytest.Config) -> None:
        super().__init__(config.stash[_SESSION_OPTIONS],
                         bool(config.getoption(f"gcverify_{_ALLOW}")))
        self._config = config

    def _current(self) -> tuple[CheckOptions, bool]:
        item = self._config.stash.get(_RUNNING, None)
        marker = item.get_closest_marker(_MARKER) if item is not None else None
        if marker is None:
            return self.options, self.allow_inconclusive
        # validated at collection
        options = self.options.replace(**{k: v for k, v in marker.kwargs.items()
                                          if k != _ALLOW})
        return options, marker.kwargs.get(_ALLOW, self.allow_inconclusive)


@pytest.fixture(scope="session")
def gradcheck(pytestconfig: pytest.Config) -> GradCheck:
    """Assert that a backprop passes gcverify's gradient check (see :class:`GradCheck`).

    Session-scoped, and so usable under Hypothesis's ``@given``; the running test's
    ``@pytest.mark.gradcheck(...)`` applies to each of its calls."""
    return _SessionGradCheck(pytestconfig)
