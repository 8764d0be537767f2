"""Fault detection: with labels (the paper's supervised setting) and without (residuals
of a lagged causal model, label-free thresholds), with baselines on the same code path."""

from faultgraph.detect.baselines import ZScoreDetector
from faultgraph.detect.supervised import FaultIdentifier
from faultgraph.detect.thresholds import pot_threshold, quantile_threshold
from faultgraph.detect.unsupervised import (
    CausalDetector,
    Detector,
    NSigmaDetector,
    PCADetector,
    RandomDetector,
    background_adjust,
    drift_adjust,
    rounding_scale,
)

__all__ = [
    "CausalDetector",
    "Detector",
    "FaultIdentifier",
    "NSigmaDetector",
    "PCADetector",
    "RandomDetector",
    "ZScoreDetector",
    "background_adjust",
    "drift_adjust",
    "pot_threshold",
    "quantile_threshold",
    "rounding_scale",
]
