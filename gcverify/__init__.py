"""gcverify: proof that hand-written backpropagation works.

Gradient checking that can be trusted, Hypothesis properties over random networks,
and mutation testing of backprop code (and of the checker itself).

The public names below are imported on first use, so that ``import gcverify`` (and
the pytest plugin, which lives in this package) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from gcverify._version import __version__

if TYPE_CHECKING:
    from gcverify.certificate import Sensitivity
    from gcverify.check import (
        assert_backprop_correct,
        assert_gradients_correct,
        check_backprop,
        check_gradients,
        check_loss_and_grads,
    )
    from gcverify.errors import GCVerifyError, InvalidArgument
    from gcverify.models import MLP, NetworkCost
    from gcverify.mutation import (
        CampaignResult,
        Mutant,
        Outcome,
        mutate_function,
        notebook_target,
        run_campaign,
    )
    from gcverify.options import CheckOptions
    from gcverify.params import ParamLayout, gradient_key
    from gcverify.report import write_reports
    from gcverify.result import BlockFinding, Entry, GradCheckResult, Verdict

# Where each public name lives.
_EXPORTS = {
    "assert_backprop_correct": "gcverify.check",
    "assert_gradients_correct": "gcverify.check",
    "check_backprop": "gcverify.check",
    "check_gradients": "gcverify.check",
    "check_loss_and_grads": "gcverify.check",
    "Sensitivity": "gcverify.certificate",
    "GCVerifyError": "gcverify.errors",
    "InvalidArgument": "gcverify.errors",
    "MLP": "gcverify.models",
    "NetworkCost": "gcverify.models",
    "CampaignResult": "gcverify.mutation",
    "Mutant": "gcverify.mutation",
    "Outcome": "gcverify.mutation",
    "mutate_function": "gcverify.mutation",
    "notebook_target": "gcverify.mutation",
    "run_campaign": "gcverify.mutation",
    "write_reports": "gcverify.report",
    "CheckOptions": "gcverify.options",
    "ParamLayout": "gcverify.params",
    "gradient_key": "gcverify.params",
    "BlockFinding": "gcverify.result",
    "Entry": "gcverify.result",
    "GradCheckResult": "gcverify.result",
    "Verdict": "gcverify.result",
}

__all__ = [
    "MLP",
    "BlockFinding",
    "CampaignResult",
    "CheckOptions",
    "Entry",
    "GCVerifyError",
    "GradCheckResult",
    "InvalidArgument",
    "Mutant",
    "NetworkCost",
    "Outcome",
    "ParamLayout",
    "Sensitivity",
    "Verdict",
    "__version__",
    "assert_backprop_correct",
    "assert_gradients_correct",
    "check_backprop",
    "check_gradients",
    "check_loss_and_grads",
    "gradient_key",
    "mutate_function",
    "notebook_target",
    "run_campaign",
    "write_reports",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'gcverify' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
