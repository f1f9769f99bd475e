"""gcverify: proof that hand-written backpropagation works.

Gradient checking that can be trusted, Hypothesis properties over random networks,
and mutation testing of backprop code (and of the checker itself).
"""

from gcverify._version import __version__
from gcverify.check import (
    assert_backprop_correct,
    assert_gradients_correct,
    check_backprop,
    check_gradients,
)
from gcverify.errors import GCVerifyError, InvalidArgument
from gcverify.models import MLP, NetworkCost
from gcverify.params import ParamLayout, gradient_key
from gcverify.result import BlockFinding, Entry, GradCheckResult, Verdict

__all__ = [
    "MLP",
    "BlockFinding",
    "Entry",
    "GCVerifyError",
    "GradCheckResult",
    "InvalidArgument",
    "NetworkCost",
    "ParamLayout",
    "Verdict",
    "__version__",
    "assert_backprop_correct",
    "assert_gradients_correct",
    "check_backprop",
    "check_gradients",
    "gradient_key",
]
