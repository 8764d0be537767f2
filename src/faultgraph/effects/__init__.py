"""Causal effects on a fitted SEM: interventions, ATE and causal scores, paths, counterfactuals.

Functions take ``(model, ...)`` and return frozen results with ``to_dict()``, in the
manner of DoWhy's gcm module; an intervention is data: ``{"cpu": 1.0}``.
"""

from faultgraph.effects.ate import (
    ATEResult,
    CausalScores,
    NodeScore,
    average_treatment_effect,
    causal_scores,
    effects_into,
    total_effects,
)
from faultgraph.effects.interventions import interventional_samples, what_if
from faultgraph.effects.paths import PropagationPath, propagation_paths, strongest_path

__all__ = [
    "ATEResult",
    "CausalScores",
    "NodeScore",
    "PropagationPath",
    "average_treatment_effect",
    "causal_scores",
    "effects_into",
    "interventional_samples",
    "propagation_paths",
    "strongest_path",
    "total_effects",
    "what_if",
]
