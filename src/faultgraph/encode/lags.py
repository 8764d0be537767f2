"""How long an effect takes to cross a link: the lagged cross-correlation and its peak.

Metrics are autocorrelated, which smears a raw cross-correlation over many lags; the
first differences (``difference=True``, default) keep the innovations, so the peak sits
at the delay of the link (a simple pre-whitening, as in Box & Jenkins' transfer-function
identification).

:func:`choose_lags` picks the lag window of a lagged model from the data (the detector's
``lags="auto"``): the shortest window that predicts a held-back tail of the rows within a
tolerance of the best window, on each metric's own past and that of the metrics leading it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from faultgraph._validation import check_whole
from faultgraph.errors import InvalidInputError

__all__ = ["LAG_HOLDOUT", "LAG_PARENTS", "LAG_SIGNIFICANCE", "LAG_TOLERANCE", "LagChoice", "ROWS_PER_COEFFICIENT",
           "choose_lags", "cross_correlation", "median_lead", "peak_lag"]


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


#: :func:`choose_lags`: the share of the training rows (their tail) held back to measure
#: each window's one-step prediction error on.
LAG_HOLDOUT = 0.25
#: :func:`choose_lags`: a window is long enough once its held-back error is within this
#: share of the best window's (2 %: its residual sd within 1 %).
LAG_TOLERANCE = 0.02
#: :func:`choose_lags`: each metric's equation has its own past and that of at most this many
#: other metrics (those whose first differences lead it most strongly, significantly).
LAG_PARENTS = 5
#: :func:`choose_lags`: a lagged correlation of first differences is significant beyond this
#: many standard errors ``1/sqrt(n)``.
LAG_SIGNIFICANCE = 4.0
#: :func:`choose_lags`: each equation is fitted on at least this many rows per coefficient
#: (the window's cap shrinks on short histories).
ROWS_PER_COEFFICIENT = 10


@dataclass(frozen=True)
class LagChoice:
    """The lag window :func:`choose_lags` chose, and why.

    Attributes
    ----------
    lags : int
        The window: past steps in the candidate space.
    max_lags : int
        The longest window tried (the cap asked for, shortened for a short history).
    errors : tuple of float
        The held-back one-step prediction error of windows ``0 … max_lags``, each relative to
        the smallest (1.0 is the best window).
    tolerance : float
        A window within ``1 + tolerance`` of the best error is long enough.
    holdout_rows : int
        The training tail the errors were measured on.
    pre_estimate : int
        The median lag at which the first differences of a screened pair of metrics
        correlate most (:func:`peak_lag`, over every pair with a significant lagged peak);
        recorded beside the choice, not used for it.
    pairs : int
        The screened pairs (a metric and a leading metric) the equations use.
    reason : str
        One sentence: what was chosen and why.
    """

    lags: int
    max_lags: int
    errors: tuple[float, ...]
    tolerance: float
    holdout_rows: int
    pre_estimate: int
    pairs: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """The choice as plain JSON types.

        Returns
        -------
        dict
            One entry per attribute (``errors`` as a list).
        """
        return {"lags": self.lags, "max_lags": self.max_lags, "errors": list(self.errors),
                "tolerance": self.tolerance, "holdout_rows": self.holdout_rows,
                "pre_estimate": self.pre_estimate, "pairs": self.pairs, "reason": self.reason}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LagChoice:
        """The choice back from :meth:`to_dict`'s output.

        Parameters
        ----------
        data : dict
            What :meth:`to_dict` wrote.

        Returns
        -------
        LagChoice
        """
        return cls(lags=int(data["lags"]), max_lags=int(data["max_lags"]),
                   errors=tuple(float(e) for e in data["errors"]), tolerance=float(data["tolerance"]),
                   holdout_rows=int(data["holdout_rows"]), pre_estimate=int(data["pre_estimate"]),
                   pairs=int(data["pairs"]), reason=str(data["reason"]))

    def __str__(self) -> str:
        return self.reason


def _lagged_correlations(X: np.ndarray, max_lag: int) -> np.ndarray:
    """``C[k, i, j] = corr(ΔX_i[t − k], ΔX_j[t])`` for ``k = 0 … max_lag`` (first differences,
    as :func:`cross_correlation`, every pair at once); a constant difference correlates 0."""
    D = np.diff(X, axis=0)
    sd = D.std(axis=0)
    D = np.where(sd > 0, (D - D.mean(axis=0)) / np.where(sd > 0, sd, 1.0), 0.0)
    n = len(D)
    return np.stack([D[: n - k].T @ D[k:] / (n - k) for k in range(max_lag + 1)])


def _leaders(X: np.ndarray, max_lag: int, parents: int) -> tuple[list[list[int]], list[int]]:
    """Per metric ``j``, the (at most ``parents``) other metrics whose differenced past
    correlates most with ``j``'s present, significantly (beyond ``LAG_SIGNIFICANCE / sqrt(n)``),
    and the peak lag (``0 … max_lag``) of every such pair."""
    n, d = X.shape
    C = np.abs(_lagged_correlations(X, max_lag))
    lead = C[1:].max(axis=0)  # (i, j): the strongest correlation of i's past with j
    np.fill_diagonal(lead, 0.0)
    significant = lead > LAG_SIGNIFICANCE / np.sqrt(n - 1)
    leaders = [[int(i) for i in np.argsort(-lead[:, j], kind="stable")[:parents] if significant[i, j]]
               for j in range(d)]
    return leaders, [int(np.argmax(C[:, i, j])) for j in range(d) for i in leaders[j]]


def median_lead(X: Any, max_lag: int = 8, *, parents: int = LAG_PARENTS) -> tuple[int, int]:
    """How many steps the metrics' changes typically lead each other: the median peak lag
    (:func:`peak_lag` of first differences) over each metric's screened leaders.

    The leaders of a metric are the (at most ``parents``) other metrics whose differenced
    past, ``1 … max_lag`` steps back, correlates most with its differenced present,
    beyond ``LAG_SIGNIFICANCE / sqrt(n)``; each such pair's peak lag is the ``k`` in
    ``0 … max_lag`` with the largest correlation. 0 or 1: the metrics move together or a
    step apart; 2 or more: links that take several steps. :func:`choose_lags` records it as
    ``pre_estimate``.

    Parameters
    ----------
    X : (n, d) array-like of float
        The metrics, rows in time order; finite values.
    max_lag : int, default 8
        Largest lag looked at; a whole number >= 1 (shortened to ``(n − 4) // 2`` on a
        short history).
    parents : int, default 5
        Most leaders per metric; a whole number >= 0.

    Returns
    -------
    (int, int)
        The median peak lag (0 when no pair is significant) and the number of pairs.

    Raises
    ------
    InvalidInputError
        When ``X`` is not a 2-D array of finite numbers or an option is outside its range.
    """
    X = _matrix(X)
    check_whole("max_lag", max_lag, 1)
    check_whole("parents", parents, 0)
    cap = min(int(max_lag), (X.shape[0] - 4) // 2)
    if cap < 1 or X.shape[1] < 2:
        return 0, 0
    _, peaks = _leaders(X, cap, min(int(parents), X.shape[1] - 1))
    return (int(np.median(peaks)) if peaks else 0), len(peaks)


def _matrix(X: Any) -> np.ndarray:
    """``X`` as a 2-D float array of finite numbers (a copy), or InvalidInputError."""
    try:
        X = np.array(X, dtype=float)
    except (TypeError, ValueError):
        raise InvalidInputError("X must be a 2-D array of numbers (time steps x metrics)") from None
    if X.ndim != 2:
        raise InvalidInputError(f"X must be 2-D (time steps x metrics), got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise InvalidInputError("X holds NaN or infinite values; encode (fill) the metrics first")
    return X


def choose_lags(X: Any, max_lags: int = 8, *, holdout: float = LAG_HOLDOUT, tolerance: float = LAG_TOLERANCE,
                parents: int = LAG_PARENTS) -> LagChoice:
    """The lag window of a lagged model, chosen from the data: the shortest window whose
    one-step prediction error on a held-back tail is within ``tolerance`` of the best.

    Each metric ``j`` is predicted from the past ``1 … p`` steps of itself and of its
    screened leaders, for every window ``p = 0 … max_lags``: the (at most ``parents``) other
    metrics whose first differences correlate most with ``j``'s a step or more later
    (beyond ``LAG_SIGNIFICANCE / sqrt(n)``; the pre-whitened cross-correlation of
    :func:`cross_correlation`). The equations are fitted by least squares (with an
    intercept) on the first ``1 − holdout`` of the rows and predict the rest; the error of
    a window is the sum over metrics of the mean squared one-step error there,
    ``E(p) = Σ_j mean_t (x_j[t] − x̂_j[t | p])²``, and the choice is the smallest ``p`` with
    ``E(p) ≤ (1 + tolerance) · min_q E(q)``. A link that takes ``k`` steps needs a window of
    ``k`` (the error falls until ``p`` reaches it); on data without dynamics the window is 0,
    on a large history a window that buys less than ``tolerance`` is not taken (a criterion
    such as BIC, whose penalty per coefficient shrinks with the rows, takes every lag
    of a long, slowly varying history). The cap ``max_lags`` is shortened so that each
    equation keeps :data:`ROWS_PER_COEFFICIENT` fitted rows per coefficient.

    Parameters
    ----------
    X : (n, d) array-like of float
        The metrics (encoded, e.g. robust z), rows in time order; finite values.
    max_lags : int, default 8
        The longest window tried; a whole number >= 0.
    holdout : float, default 0.25
        The share of the rows (the tail) the errors are measured on; in (0, 0.5].
    tolerance : float, default 0.02
        How much larger than the best a window's error may be; >= 0.
    parents : int, default 5
        Most leaders per metric; a whole number >= 0 (0: each metric's own past only).

    Returns
    -------
    LagChoice
        The window, the errors of every window tried and the reason.

    Raises
    ------
    InvalidInputError
        When ``X`` is not a 2-D array of finite numbers, or an option is outside its range.
    """
    X = _matrix(X)
    check_whole("max_lags", max_lags, 0)
    check_whole("parents", parents, 0)
    if isinstance(holdout, bool) or not isinstance(holdout, (int, float)) or not 0 < holdout <= 0.5:
        raise InvalidInputError(f"holdout must be a share in (0, 0.5], got {holdout!r}")
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not tolerance >= 0:
        raise InvalidInputError(f"tolerance must be a number >= 0, got {tolerance!r}")
    n, d = X.shape
    hold = int(round(holdout * n))
    m = min(int(parents), max(d - 1, 0))
    # each equation: 1 + p(1 + m) coefficients, ROWS_PER_COEFFICIENT fitted rows each
    cap = min(int(max_lags), max(0, ((n - hold) // ROWS_PER_COEFFICIENT - 1) // (1 + m)))
    if hold < 2 or d == 0 or cap == 0:
        reason = (f"lags=0: {n} rows of {d} metrics are too few to compare windows" if int(max_lags) > 0
                  else "lags=0: max_lags is 0")
        return LagChoice(0, 0, (1.0,), float(tolerance), hold, 0, 0, reason)
    leaders, peaks = _leaders(X, cap, m)
    pre = int(np.median(peaks)) if peaks else 0
    t_fit, t_val = np.arange(cap, n - hold), np.arange(n - hold, n)
    err = np.zeros(cap + 1)
    for j in range(d):
        S = [j, *leaders[j]]
        # columns: 1, then lag 1 of S, lag 2 of S, ...: window p is the prefix of 1 + p|S| columns
        Zf = np.column_stack([np.ones(len(t_fit))] + [X[cap - k:n - hold - k, S] for k in range(1, cap + 1)])
        Zv = np.column_stack([np.ones(len(t_val))] + [X[n - hold - k:n - k, S] for k in range(1, cap + 1)])
        yf, yv = X[t_fit, j], X[t_val, j]
        G, g = Zf.T @ Zf, Zf.T @ yf
        Gv, gv, yy = Zv.T @ Zv, Zv.T @ yv, float(yv @ yv)
        for p in range(cap + 1):
            k = 1 + p * len(S)
            Gp = G[:k, :k] + 1e-10 * max(float(np.trace(G[:k, :k])) / k, 1e-12) * np.eye(k)
            b = np.linalg.lstsq(Gp, g[:k], rcond=None)[0]
            err[p] += max(yy - 2 * b @ gv[:k] + b @ Gv[:k, :k] @ b, 0.0) / len(t_val)
    best = float(err.min())
    rel = err / best if best > 0 else np.ones_like(err)
    lags = int(np.flatnonzero(rel <= 1 + tolerance)[0])
    reason = (f"lags={lags}: the shortest window whose one-step prediction error on the held-back last {hold} "
              f"rows is within {tolerance:.0%} of the best window's among 0..{cap} (errors relative to the "
              f"best: {', '.join(f'{e:.3f}' for e in rel)}); peak lag of the leading metrics' differenced "
              f"cross-correlation: median {pre} over {len(peaks)} pairs")
    return LagChoice(lags, cap, tuple(float(e) for e in rel), float(tolerance), hold, pre, len(peaks), reason)
