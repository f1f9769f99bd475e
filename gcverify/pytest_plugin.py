"""pytest plugin: a ``gradcheck`` fixture, ``--gcverify-*`` options, a ``gradcheck`` marker.

Registered through the ``pytest11`` entry point, so installing gcverify is enough::

    def test_my_backprop(gradcheck):
        gradcheck(forward, backward, X, Y, parameters)

The fixture raises an :class:`AssertionError` carrying the full report unless the check
passes. Options (``pytest --help`` lists them): ``--gcverify-threshold``,
``--gcverify-method``, ``--gcverify-epsilon``, ``--gcverify-allow-inconclusive``. A test
can override them with ``@pytest.mark.gradcheck(threshold=1e-6)``.

The module imports nothing heavy at load: gcverify's checker is imported when the
fixture is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from gcverify.result import GradCheckResult

__all__ = ["GradCheck"]

_MARKER = "gradcheck"
_MARKER_OPTIONS = ("threshold", "method", "epsilon", "allow_inconclusive")
_METHODS = ("central", "complex", "auto")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gcverify", "gradient checking with gcverify (gradcheck fixture)")
    group.addoption("--gcverify-threshold", type=float, default=2e-7, metavar="T",
                    help="largest acceptable difference |g - n| / (|g| + |n|) "
                         "(default: %(default)s, the notebook's)")
    group.addoption("--gcverify-method", choices=_METHODS, default="central",
                    help="numerical derivative: central, complex or auto (default: %(default)s)")
    group.addoption("--gcverify-epsilon", type=float, default=None, metavar="H",
                    help="absolute central-difference step (default: cbrt(eps) * max(1, |θ|))")
    group.addoption("--gcverify-allow-inconclusive", action="store_true", default=False,
                    help="let an INCONCLUSIVE check pass (default: it fails the test)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(threshold=2e-7, method='central', epsilon=None, allow_inconclusive=False):"
        " options of the gradcheck fixture for this test")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Reject a malformed ``gradcheck`` marker before any test runs."""
    for item in items:
        for marker in item.iter_markers(_MARKER):
            if marker.args:
                raise pytest.UsageError(
                    f"{item.nodeid}: @pytest.mark.{_MARKER}{marker.args!r} takes keyword "
                    f"arguments only; write e.g. @pytest.mark.{_MARKER}(threshold=1e-6)")
            unknown = sorted(set(marker.kwargs) - set(_MARKER_OPTIONS))
            if unknown:
                raise pytest.UsageError(
                    f"{item.nodeid}: @pytest.mark.{_MARKER}({unknown[0]}=...) is not an "
                    f"option; use {', '.join(_MARKER_OPTIONS)}")
            if marker.kwargs.get("method", "central") not in _METHODS:
                raise pytest.UsageError(
                    f"{item.nodeid}: @pytest.mark.{_MARKER}(method="
                    f"{marker.kwargs['method']!r}) is not a method; use one of "
                    f"{', '.join(_METHODS)}")


class GradCheck:
    """The ``gradcheck`` fixture: assert that a backprop passes gcverify's check.

    ``gradcheck(forward, backward, X, Y, parameters)`` checks a forward/backward pair
    in the notebook's convention; ``gradcheck.gradients(cost, gradients, parameters)``
    checks given gradients of a cost. Both return the
    :class:`~gcverify.result.GradCheckResult` when it passes; keyword arguments
    override the session's options for one call.
    """

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options

    def __repr__(self) -> str:
        return f"GradCheck({self.options!r})"

    def __call__(self, forward: Any, backward: Any, X: Any, Y: Any, parameters: Any,
                 **overrides: Any) -> GradCheckResult:
        __tracebackhide__ = True
        from gcverify.check import assert_backprop_correct
        return assert_backprop_correct(forward, backward, X, Y, parameters,
                                       **{**self.options, **overrides})

    def gradients(self, cost: Any, gradients: Any, parameters: Any,
                  **overrides: Any) -> GradCheckResult:
        __tracebackhide__ = True
        from gcverify.check import assert_gradients_correct
        return assert_gradients_correct(cost, gradients, parameters,
                                        **{**self.options, **overrides})


@pytest.fixture
def gradcheck(request: pytest.FixtureRequest) -> GradCheck:
    """Assert that a backprop passes gcverify's gradient check (see :class:`GradCheck`)."""
    config = request.config
    options: dict[str, Any] = {
        "threshold": config.getoption("--gcverify-threshold"),
        "method": config.getoption("--gcverify-method"),
        "epsilon": config.getoption("--gcverify-epsilon"),
        "allow_inconclusive": config.getoption("--gcverify-allow-inconclusive"),
    }
    marker = request.node.get_closest_marker(_MARKER)
    if marker is not None:
        options.update(marker.kwargs)
    return GradCheck(options)
