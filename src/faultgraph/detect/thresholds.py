"""Label-free alarm thresholds from the scores of a (mostly normal) training period."""

from __future__ import annotations

import numpy as np
from scipy.stats import genpareto

from faultgraph.errors import InvalidInputError

__all__ = ["MIN_SCORES", "pot_threshold", "quantile_threshold"]

#: The fewest finite scores a threshold is read on.
MIN_SCORES = 10


def _check_scores(scores: np.ndarray) -> np.ndarray:
    s = np.asarray(scores, dtype=float).ravel()
    s = s[np.isfinite(s)]
    if s.size < MIN_SCORES:
        raise InvalidInputError(f"a threshold needs at least {MIN_SCORES} finite training scores, got {s.size}")
    return s


def quantile_threshold(scores: np.ndarray, q: float = 0.99) -> float:
    """The ``q``-quantile of the training scores: about ``1 − q`` of normal points alarm.

    Parameters
    ----------
    scores : array-like of float
        Training scores, any shape (flattened); NaN and infinite values are ignored.
    q : float, default 0.99
        The quantile, in the open interval (0, 1).

    Returns
    -------
    float
        The threshold.

    Raises
    ------
    InvalidInputError
        When ``q`` is not in (0, 1) or fewer than 10 scores are finite.
    """
    if not 0 < q < 1:
        raise InvalidInputError(f"q must lie in (0, 1), got {q!r}")
    return float(np.quantile(_check_scores(scores), q))


def pot_threshold(scores: np.ndarray, risk: float = 1e-3, init_quantile: float = 0.98) -> float:
    """Peaks over threshold (Siffer et al. 2017, "Anomaly detection in streams with extreme
    value theory"): fit a generalised Pareto tail to the excesses over the
    ``init_quantile``-quantile ``t`` and return the level exceeded with probability ``risk``:

    ``z = t + σ/γ · ((risk · n / N_t)^(−γ) − 1)`` (``t − σ log(risk · n / N_t)`` when ``γ ≈ 0``),

    where ``n`` is the number of scores and ``N_t`` the number above ``t``. Unlike a plain
    quantile it can extrapolate beyond the largest training score when ``risk < 1/n``.
    With fewer than 10 excesses, or excesses all equal, or a ``risk`` at least the share
    of scores above ``t`` (the level then lies below the tail: ``--risk 0.05`` with the
    0.98-quantile), it returns the ``1 − risk`` quantile of the scores instead.

    Parameters
    ----------
    scores : array-like of float
        Training scores, any shape (flattened); NaN and infinite values are ignored.
    risk : float, default 1e-3
        Probability that a normal score exceeds the threshold, in (0, 1).
    init_quantile : float, default 0.98
        Quantile of the scores giving the initial threshold ``t``, in (0, 1).

    Returns
    -------
    float
        The threshold ``z``.

    Raises
    ------
    InvalidInputError
        When ``risk`` or ``init_quantile`` is not in (0, 1), or fewer than 10 scores are
        finite.
    """
    if not 0 < risk < 1:
        raise InvalidInputError(f"risk must lie in (0, 1), got {risk!r}")
    if not 0 < init_quantile < 1:
        raise InvalidInputError(f"init_quantile must lie in (0, 1), got {init_quantile!r}")
    s = _check_scores(scores)
    t = float(np.quantile(s, init_quantile))
    excess = s[s > t] - t
    if excess.size < 10 or np.ptp(excess) == 0:
        return float(np.quantile(s, 1 - risk))  # too few peaks for a tail fit
    ratio = risk * s.size / excess.size
    if ratio >= 1:  # the level lies below the tail that would be fitted (risk >= 1 - init_quantile): the
        return float(np.quantile(s, 1 - risk))  # scores' own quantile (the formula fell below t, even below 0)
    gamma, _, sigma = genpareto.fit(excess, floc=0.0)
    if abs(gamma) < 1e-8:
        return t - sigma * np.log(ratio)
    return float(t + sigma / gamma * (ratio ** (-gamma) - 1.0))
