"""The plain per-metric z-score detector, the simplest baseline of the field (issue 17).

Each metric's z-score against the training period's mean and standard deviation, the
largest ``|z|`` over metrics as the step's score, no smoothing, no drift or background
adjustment; the label-free threshold is the training scores' 99th percentile. It goes
through the same code path as faultgraph's detector (encoder, metric checks, scoring,
threshold), so the two are compared on equal terms.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from faultgraph.detect.unsupervised import Detector

__all__ = ["ZScoreDetector"]


class ZScoreDetector(Detector):
    """Baseline: ``max_j |x_j - mean_j| / sd_j`` with the training period's mean and sd.

    The encoder's scaling is affine per metric, so the z-score of an encoded metric equals
    the z-score of the raw one. Defaults: ``combine="max"``, ``smooth=1``,
    ``drift_window=0``, ``background_window=0`` and the quantile threshold at 0.99 of the
    training scores; any :class:`~faultgraph.detect.Detector` parameter may be set.
    """

    name = "z-score"

    def __init__(self, *, combine: Any = "max", smooth: int = 1, drift_window: int = 0, background_window: int = 0,
                 threshold_method: Any = "quantile", quantile: float = 0.99, **kwargs: Any) -> None:
        super().__init__(combine=combine, smooth=smooth, drift_window=drift_window,
                         background_window=background_window, threshold_method=threshold_method,
                         quantile=quantile, **kwargs)

    def _fit_model(self, X: np.ndarray) -> None:
        self.mean_ = X.mean(axis=0)
        sd = X.std(axis=0)
        self.sd_ = np.where(sd > 0, sd, 1.0)  # the encoder drops metrics constant in training

    def _deviations(self, X: np.ndarray) -> np.ndarray:
        return (X - self.mean_) / self.sd_

    def _blocks(self, X: np.ndarray, Z: np.ndarray) -> np.ndarray:
        """The plain z-scores, not re-standardised by the residuals' robust scale."""
        return self._deviations(X)
