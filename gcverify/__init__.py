"""gcverify: proof that hand-written backpropagation works.

Gradient checking that can be trusted, Hypothesis properties over random networks,
and mutation testing of backprop code (and of the checker itself).
"""

from gcverify._version import __version__
from gcverify.errors import GCVerifyError, InvalidArgument
from gcverify.models import MLP, NetworkCost
from gcverify.params import ParamLayout, gradient_key

__all__ = [
    "MLP",
    "GCVerifyError",
    "InvalidArgument",
    "NetworkCost",
    "ParamLayout",
    "__version__",
    "gradient_key",
]
