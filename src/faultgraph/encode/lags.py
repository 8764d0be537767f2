"""How long an effect takes to cross a link: the lagged cross-correlation and its peak.

Metrics are autocorrelated, which smears a raw cross-correlation over many lags; the
first differences (``difference=True``, default) keep the innovations, so the peak sits
at the delay of the link (a simple pre-whitening, as in Box & Jenkins' transfer-function
identification).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from faultgraph.errors import InvalidInputError

__all__ = ["cross_correlation", "peak_lag"]


def _series(name: str, value: Any) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{name} must be a 1-D array of numbers") from None
    if arr.ndim != 1:
        raise InvalidInputError(f"{name} must be 1-D, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InvalidInputError(f"{name} holds NaN or infinite values; align and fill the series first")
    return arr


def cross_correlation(x: Any, y: Any, max_lag: int, *, difference: bool = True) -> np.ndarray:
    """``c[k] = corr(x[t − k], y[t])`` for ``k = 0 … max_lag``: how strongly ``y`` follows
    ``x`` after ``k`` steps (on first differences when ``difference``)."""
    x, y = _series("x", x), _series("y", y)
    if x.shape != y.shape:
        raise InvalidInputError(f"x and y must have the same length, got {x.size} and {y.size}")
    if not isinstance(max_lag, (int, np.integer)) or max_lag < 0:
        raise InvalidInputError(f"max_lag must be a non-negative integer, got {max_lag!r}")
    if difference:
        x, y = np.diff(x), np.diff(y)
    if x.size < max_lag + 3:
        raise InvalidInputError(f"{x.size} steps are too few for max_lag={max_lag}")
    out = np.zeros(max_lag + 1)
    for k in range(max_lag + 1):
        a, b = x[: x.size - k], y[k:]
        sa, sb = a.std(), b.std()
        out[k] = 0.0 if sa == 0 or sb == 0 else float(np.mean((a - a.mean()) * (b - b.mean())) / (sa * sb))
    return out


def peak_lag(x: Any, y: Any, max_lag: int, *, difference: bool = True) -> int:
    """The lag ``k`` in ``0 … max_lag`` with the largest ``|corr(x[t − k], y[t])|``."""
    return int(np.argmax(np.abs(cross_correlation(x, y, max_lag, difference=difference))))
