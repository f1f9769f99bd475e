"""Networks to check: the notebook's own functions and a general reference network."""

from gcverify.models.mlp import COST_FORMS, HIDDEN_ACTIVATIONS, MLP, NetworkCost

__all__ = ["COST_FORMS", "HIDDEN_ACTIVATIONS", "MLP", "NetworkCost"]
