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
    """The lagged cross-correlation ``c[k] = corr(x[t − k], y[t])`` for ``k = 0 … max_lag``.

    How strongly ``y`` follows ``x`` after ``k`` steps, on first differences when
    ``difference`` (a simple pre-whitening, see the module docstring). A lag at which
    either series is constant has correlation 0.

    Parameters
    ----------
    x : (n,) array-like of float
        The leading series; finite values.
    y : (n,) array-like of float
        The following series, same length; finite values.
    max_lag : int
        Largest lag in steps; a non-negative integer, with at least ``max_lag + 3`` steps
        (after differencing).
    difference : bool, default True
        Whether to correlate first differences rather than levels.

    Returns
    -------
    (max_lag + 1,) ndarray of float
        Pearson correlations in ``[−1, 1]``, index ``k``.

    Raises
    ------
    InvalidInputError
        When ``x`` or ``y`` is not a 1-D array of finite numbers, their lengths differ,
        ``max_lag`` is not a non-negative integer or the series are too short for it.
    """
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
    """The lag ``k`` in ``0 … max_lag`` with the largest ``|corr(x[t − k], y[t])|``.

    The delay an effect takes from ``x`` to ``y``, by :func:`cross_correlation`; ties go
    to the smallest lag.

    Parameters
    ----------
    x : (n,) array-like of float
        The leading series; finite values.
    y : (n,) array-like of float
        The following series, same length.
    max_lag : int
        Largest lag tried; a non-negative integer.
    difference : bool, default True
        Whether to correlate first differences.

    Returns
    -------
    int
        The lag in steps.

    Raises
    ------
    InvalidInputError
        As :func:`cross_correlation`.
    """
    return int(np.argmax(np.abs(cross_correlation(x, y, max_lag, difference=difference))))
