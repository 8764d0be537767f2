"""Unsupervised fault detection: the noise a causal model cannot explain.

A detector is fitted on a (mostly normal) training period and scores new steps. The
causal detector learns a lagged causal graph of the metrics, refits each metric's
equation on its learned parents (present and past) by least squares, and scores a step
by the standardised residuals ``z_i = (ε_i − median) / scale``: what each metric did
that its causes do not explain. The per-metric residuals are kept for root-cause work.
Before they are combined, the deviations lose the part of their trailing median
(``drift_window``) that lies beyond ±1 sd, so that a lasting change of level becomes the
new normal; after, a score whose recent background runs above twice the training's is
read relative to it (``background_window``), so that a lastingly noisier regime does too.
With ``lasting`` (the default), each step is also scored without the drift adjustment,
against that score's own label-free threshold, and the larger of the two counts: a fault
that outlasts half the drift window keeps alarming while it stands beyond what training
showed, and a new level that training's range holds becomes the normal as before.
Baselines (N-sigma, PCA reconstruction, random) share the same code path: the same
encoder, drift and background adjustments, score combination and label-free threshold.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from faultgraph import config
from faultgraph._budget import check_fit, screen_reason
from faultgraph._validation import (Constraint, FittedAttributes, as_generator, check_choice, check_window,
                                   describe_names, flag, one_of, text_columns, whole)
from faultgraph.detect.thresholds import MIN_SCORES, pot_threshold, quantile_threshold
from faultgraph.discovery import LearnedGraph, PriorKnowledge, StructureLearner, lagged_design
from faultgraph.encode import MetricEncoder, robust_center_scale
from faultgraph.encode.lags import LagChoice, choose_lags, median_lead
from faultgraph.errors import DataScaleWarning, InvalidInputError, NotFittedError
from faultgraph.config import DEFAULTS, values
from faultgraph.io.migrations import detector_params
from faultgraph.io.model import damaged, load_model_dir, save_model_dir

__all__ = ["AUTO_INNOVATION_LAG", "AUTO_MAX_LAGS", "CausalDetector", "Detector", "NSigmaDetector", "PCADetector",
           "RandomDetector", "TailCalibration",
           "background_adjust", "beyond_tolerance", "drift_adjust", "equation_deviations", "flag_columns",
           "hat_diagonal", "rounding_scale", "soft_cap", "support_least_squares", "support_leverage"]

TASK = "unsupervised-detection"

Combine = Literal["mean-square", "max", "max-of-smoothed", "mean-square+max"]  # config.Combine's values
COMBINE: tuple[str, ...] = values(config.Combine)
ThresholdMethod = Literal["pot", "quantile"]  # config.ThresholdMethod's values
SCORES: tuple[str, ...] = values(config.Score)
#: A residual whose interquartile range is below this (in the encoded metric's units) is
#: scaled by its standard deviation instead: an equation that predicts a piecewise-constant
#: metric almost exactly has an IQR of rounding noise, and dividing by it would make every
#: step of that metric an alarm.
MIN_RESIDUAL_SCALE = 1e-4
#: :func:`rounding_scale`: a metric recorded on a regular grid of at least this many
#: distinct values (steps within 5 % of their median for 90 % of them) is a rounded gauge.
MIN_GRID_LEVELS = 10
#: Ridge weight of :meth:`CausalDetector.innovations`' autoregression, relative to the
#: mean variance of the lagged metrics: keeps short histories of many metrics solvable.
VAR_RIDGE = 1e-2
#: A trailing median of standardised deviations within this many standard deviations of
#: the training centre is noise, not drift (:func:`drift_adjust`): the medians' own noise
#: is not taken off.
DRIFT_TOLERANCE = 1.0
#: :func:`background_adjust`: the score is rescaled only once the lower quartile of its
#: recent values exceeds this multiple of the training's lower quartile (a noisier regime,
#: not the ordinary swing of load), and the quartile is that of the previous
#: ``background_window`` steps, so an incident shorter than three quarters of the window
#: does not raise its own background.
BACKGROUND_TOLERANCE = 2.0
BACKGROUND_QUANTILE = 0.25
#: The fewest past scores a background is read from (fewer: the score is left as it is),
#: and so the shortest ``background_window`` but 0.
MIN_BACKGROUND = 60
#: A training background at or below this is numerical noise (a model that reconstructs
#: its training data exactly): no background adjustment. Scores are in squared sd.
MIN_BACKGROUND_BASE = 1e-12
#: The fewest training scores the threshold is fitted on after the first ``drift_window``
#: steps (whose windows are still filling) are set aside; below it, all are used.
MIN_CALIBRATION = 100
#: :meth:`Detector.fit` warns when the threshold read without the training's highest episode
#: would be below ``1 /`` this of the one read with it (one episode sets it).
EPISODE_RATIO = 2.0
#: ``holdout``: the fewest training rows the model is fitted on when a tail is held back
#: (fewer: no holdout, the threshold is read on the fitted rows as before).
MIN_HOLDOUT_FIT = 200
#: ``scale_floor``: a metric whose columns correlate beyond this are near-duplicates
#: (flagged at fit in ``flagged_``).
DUPLICATE_CORRELATION = 0.999
#: Without ``scale_floor`` (the default), ``flagged_`` still names the metrics whose scores
#: can run large, read at this share: near-duplicates, equations whose residual scale is below
#: it of the metric's own, and metrics whose robust (IQR) scale is below it of their standard
#: deviation (nearly always at one value); nothing is floored.
FLAG_SHARE = 0.01
UNFLOORED = "not floored (scale_floor is 0), so its scores can run large; fit --scale-floor to floor them"
#: ``calibration``'s choices: ``"off"`` (standardised deviations combined as they are),
#: ``"rank"`` (each replaced by its empirical tail surprise on the training rows, extended
#: beyond the largest training value by an exponential tail up to twice the sample's
#: resolution), ``"rank-capped"`` (capped at the resolution), ``"rank-uncapped"`` (no cap),
#: ``"normal"`` / ``"normal-capped"`` (the Gaussian ``|z|`` of the same tail probability,
#: uncapped / capped at twice the sample's largest) and ``"normal-ratio"`` (the same within
#: the training range; beyond it, that largest normal score times the multiple of the
#: largest training value); ``"band"`` (magnitudes kept, each component divided by its
#: band scale ``(q99 − q90) / (z99 − z90)`` of ``|value|`` on the training rows where that
#: exceeds the robust scale: a tail-aware scale floor that ignores the top 1 %). All
#: measured in ``benchmarks/results/calibration.md``.
CALIBRATIONS: tuple[str, ...] = values(config.Calibration)
#: ``calibration`` -> (the scale of :class:`TailCalibration`, its ``extend``).
_CALIBRATION_KINDS: dict[str, tuple[str, float]] = {
    "rank": ("surprise", 2.0), "rank-capped": ("surprise", 1.0), "rank-uncapped": ("surprise", np.inf),
    "normal": ("normal", np.inf), "normal-capped": ("normal", 2.0), "normal-ratio": ("ratio", np.inf),
    "band": ("band", np.inf)}
#: ``calibration="band"``: the two tail probabilities of ``|value|`` whose quantiles give a
#: component's band scale (the 90th and 99th percentiles), and their spread for a Gaussian.
BAND = (0.1, 0.01)
BAND_GAUSSIAN = 2.5758293035489004 - 1.6448536269514722
#: :class:`TailCalibration`: tail probabilities kept per column (geometric from 1 down to
#: ``1/(n+1)``), so a model stores ``CALIBRATION_LEVELS`` values per column, not its rows.
CALIBRATION_LEVELS = 64
#: :class:`TailCalibration`: the exponential tail beyond the largest training value is
#: fitted on the values above this many times the resolution ``1/(n+1)`` (the top decade).
CALIBRATION_TAIL = 10.0
#: ``CausalDetector(lags="auto")``: the longest window :func:`~faultgraph.encode.lags.choose_lags`
#: tries (shortened where the graph fit would be screened or refused for it, and on short
#: histories).
AUTO_MAX_LAGS = 8
#: ``CausalDetector(scoring="auto")``: the score adds the innovations when the metrics'
#: changes lead each other by at least this many steps (the median peak lag of
#: :class:`~faultgraph.encode.lags.LagChoice`, ``pre_estimate``): links that take several steps,
#: which the same-step equations cannot follow and the autoregression of every metric's past can
#: (:func:`~faultgraph.encode.lags.median_lead`).
AUTO_INNOVATION_LAG = 2


def _check_lags(name: str, value: Any) -> int | str:
    """``lags``: a whole number >= 0 or ``"auto"`` (a bool is refused)."""
    if isinstance(value, str) and value == "auto":
        return value
    return whole(0, kind='a whole number >= 0 (past steps in the candidate space) or "auto" (chosen from the '
                      'training data)')(name, value)


def _auto_cap(rows: int, metrics: int) -> int:
    """The longest window up to :data:`AUTO_MAX_LAGS` whose graph fit is neither screened nor
    refused (:func:`~faultgraph._budget.screen_reason`, :func:`~faultgraph._budget.check_fit`);
    :data:`AUTO_MAX_LAGS` when even no lag is (the fit is screened whatever the window)."""
    for p in range(AUTO_MAX_LAGS, -1, -1):
        if screen_reason(rows, metrics, p, what="the detector's graph fit") is None:
            try:
                check_fit(rows, metrics, p, refine=False, what="the detector's graph fit")
            except InvalidInputError:
                continue
            return p
    return AUTO_MAX_LAGS


def soft_cap(Z: np.ndarray, cap: float) -> np.ndarray:
    """``cap · asinh(Z / cap)``: linear for ``|z|`` well below ``cap``, logarithmic
    beyond, so that one metric (a broken relation, a near-constant gauge) cannot own a
    step's combined score. ``cap = 0`` returns ``Z`` unchanged. The same ranking in other
    units, since ``Z`` is already standardised.

    Parameters
    ----------
    Z : ndarray of float
        Standardised deviations, any shape.
    cap : float
        Where the curve bends, in sd; ``<= 0`` turns the cap off.

    Returns
    -------
    ndarray of float
        The capped values, of ``Z``'s shape (``Z`` itself when the cap is off).
    """
    if cap <= 0:
        return Z
    return cap * np.arcsinh(Z / cap)


class TailCalibration:
    """Per column, a deviation's empirical tail surprise on the training rows.

    ``u(v) = −log P(|A| ≥ |v|)``, where ``A`` is the column's training values and the
    probability is read (conformally, ``(count + 1) / (n + 1)``) off
    :data:`CALIBRATION_LEVELS` quantiles at geometric tail probabilities, interpolated
    linearly in ``log p``. Under the training distribution ``u`` is about exponential
    with mean 1 in every column, whatever the column's scale, units or shape: a
    near-constant gauge whose IQR is rounding noise, a residual of a near-deterministic
    equation or a duplicated metric reaches the same ``u`` as any other metric at the same
    rarity, so none can own a score. The largest training value has ``u = log(n + 1)``,
    the sample's resolution; beyond it ``u`` grows linearly with the slope of the top
    decade (an exponential tail) up to ``extend`` times the resolution (1: capped there).
    A column constant in training (all 0) gives 0 at 0 and the cap at any departure.

    Parameters
    ----------
    values : (n, k) ndarray of float
        The training deviations, one column per score component.
    extend : float, default 2.0
        The cap as a multiple of the largest in-sample output (``log(n + 1)``, or its
        normal score); at least 1; ``inf``: no cap.
    scale : {"surprise", "normal", "ratio", "band"}, default "surprise"
        The output: ``u``; the Gaussian ``|z|`` of the same tail probability, beyond the
        sample with the top decade's slope; that within the sample and, beyond it, the
        largest normal score times ``|v|`` over the largest training value; or ``|v|``
        divided by the column's :meth:`band_scale` (no cap).

    Attributes
    ----------
    levels_ : (L,) ndarray of float
        ``−log`` of the tail probabilities kept, increasing from 0 to ``log(n + 1)``.
    quantiles_ : (L, k) ndarray of float
        Each column's ``|value|`` at each level (non-decreasing down the rows).
    slope_ : (k,) ndarray of float
        ``u`` per unit of ``|value|`` beyond the largest training value.
    cap_ : float
        The largest ``u``.
    """

    def __init__(self, values: np.ndarray, extend: float = 2.0, scale: str = "surprise") -> None:
        self.scale_ = scale
        A = np.abs(np.asarray(values, dtype=float))
        n = max(A.shape[0], 1)
        self.levels_ = np.linspace(0.0, np.log(n + 1.0), CALIBRATION_LEVELS)
        probs = np.exp(-self.levels_)  # P(|A| >= q) = p  <=>  q is the (1 - p) quantile, conformally
        ranks = np.clip(np.ceil((n + 1.0) * (1.0 - probs)), 1, n).astype(int) - 1
        self.quantiles_ = (np.sort(A, axis=0)[ranks] if A.shape[0] else np.zeros((CALIBRATION_LEVELS, A.shape[1])))
        top = int(np.searchsorted(self.levels_, np.log((n + 1.0) / CALIBRATION_TAIL)))
        top = min(top, CALIBRATION_LEVELS - 2)
        rise = self.quantiles_[-1] - self.quantiles_[top]
        with np.errstate(divide="ignore", invalid="ignore"):
            self.slope_ = np.where(rise > 0, (self.levels_[-1] - self.levels_[top]) / rise, np.inf)
        self.cap_ = float(max(extend, 1.0) * self._out(self.levels_[-1:])[0])

    def band_scale(self) -> np.ndarray:
        """Each column's band scale, at least 1: the spread between the 90th and 99th
        percentiles of its training ``|value|`` over a Gaussian's (:data:`BAND`).

        Returns
        -------
        (k,) ndarray of float
            ``max(1, (q99 − q90) / (z99 − z90))`` per column.
        """
        lo, hi = -np.log(BAND[0]), -np.log(BAND[1])
        q = np.array([[np.interp(level, self.levels_, self.quantiles_[:, j]) for j in range(self.quantiles_.shape[1])]
                      for level in (lo, hi)])
        return np.maximum(1.0, (q[1] - q[0]) / BAND_GAUSSIAN)

    def _out(self, u: np.ndarray) -> np.ndarray:
        """``u`` on the output scale: itself, or the normal score of the same two-sided
        tail probability ``Φ⁻¹(1 − e^(−u)/2)``."""
        if self.scale_ == "surprise":
            return u
        from scipy.special import ndtri

        return -ndtri(np.exp(-np.asarray(u, dtype=float)) / 2.0)

    @classmethod
    def from_arrays(cls, levels: np.ndarray, quantiles: np.ndarray, slope: np.ndarray, cap: float,
                    scale: str = "surprise") -> TailCalibration:
        """A calibration from its saved arrays (:meth:`CausalDetector.load`).

        Parameters
        ----------
        levels, quantiles, slope : ndarray of float
            ``levels_``, ``quantiles_`` and ``slope_`` as saved.
        cap : float
            ``cap_``.
        scale : {"surprise", "normal", "ratio", "band"}, default "surprise"
            The output scale the calibration was fitted with.

        Returns
        -------
        TailCalibration
        """
        self = cls.__new__(cls)
        self.scale_ = scale
        self.levels_, self.quantiles_ = np.asarray(levels, float), np.asarray(quantiles, float)
        self.slope_, self.cap_ = np.asarray(slope, float), float(cap)
        return self

    def transform(self, values: np.ndarray) -> np.ndarray:
        """``u`` of each value of ``values``, column by column.

        Parameters
        ----------
        values : (m, k) ndarray of float
            Deviations, columns as at fit.

        Returns
        -------
        (m, k) ndarray of float
            The tail surprises, in ``[0, cap_]``.
        """
        A = np.abs(np.asarray(values, dtype=float))
        if self.scale_ == "band":
            return A / self.band_scale()
        U = np.empty_like(A)
        for j in range(A.shape[1]):
            q = self.quantiles_[:, j]
            # among tied quantiles, the smallest level: P(|A| >= v) at a tied value is the largest p
            keep = np.concatenate([[True], np.diff(q) > 0])
            qj, lj = q[keep], self.levels_[keep]
            a = A[:, j]
            u = np.interp(a, qj, lj) if qj.size > 1 else np.where(a > qj[0], self.levels_[-1], 0.0)
            beyond = a > q[-1]
            if beyond.any():
                slope = self.slope_[j]
                u[beyond] = self.levels_[-1] + (slope * (a[beyond] - q[-1]) if np.isfinite(slope)
                                                 else self.levels_[-1])  # no spread at the top: twice the resolution
            U[:, j] = u
        if self.scale_ != "surprise":  # normal scores; beyond the sample, the top decade's slope in their units
            top = min(int(np.searchsorted(self.levels_, self.levels_[-1] - np.log(CALIBRATION_TAIL))),
                      CALIBRATION_LEVELS - 2)
            g_top, g_max = self._out(self.levels_[[top, -1]])
            body = U <= self.levels_[-1]
            G = np.empty_like(U)
            G[body] = self._out(U[body])
            excess = np.maximum(U - self.levels_[-1], 0.0)  # slope_ · (|v| − max): u units
            rate = (g_max - g_top) / max(self.levels_[-1] - self.levels_[top], 1e-12)
            G[~body] = g_max + rate * excess[~body]
            if self.scale_ == "ratio":  # beyond the sample: g_max times the multiple of the largest training value
                qmax = self.quantiles_[-1]
                with np.errstate(divide="ignore", invalid="ignore"):
                    R = np.where(qmax > 0, g_max * np.abs(values) / qmax, 2 * g_max)
                G[~body] = np.maximum(R[~body], g_max)
            U = G
        return np.minimum(np.nan_to_num(U, nan=0.0, posinf=self.cap_), self.cap_)


def _open_unit(name: str, value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value) or not 0 < value < 1:
        raise InvalidInputError(f"{name} must be a number in (0, 1) ({what}), got {value!r}")
    return float(value)


def _fraction(name: str, value: Any, upper: float, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value) or not 0 <= value < upper:
        raise InvalidInputError(f"{name} must be a number in [0, {upper:g}) ({what}), got {value!r}")
    return float(value)


def flag_columns(X: np.ndarray, raw_scale: np.ndarray, floor: float, names: list[str], *,
                 floored: bool = True) -> dict[str, str]:
    """``{metric: reason}`` for the metrics whose equation a scale floor overrode at fit:
    near-duplicates of another metric (``|r| > DUPLICATE_CORRELATION`` on the encoded
    training data ``X``) and near-deterministic equations (a residual scale
    ``raw_scale`` below ``floor`` times the metric's own). Their residual scale is the
    floor, so a relation that held exactly in training cannot give scores in the
    thousands when it bends. With ``floored=False`` (no ``scale_floor``: the detector's
    default) the same metrics are named, ``floor`` being only the share they are read at,
    and the reason says that their scores may run large.

    Parameters
    ----------
    X : (n, d) ndarray of float
        The encoded training data; constant columns are not compared.
    raw_scale : (d,) ndarray of float
        Each metric's residual scale as a share of the metric's own scale.
    floor : float
        The ``scale_floor`` (or, not ``floored``, the share read at); ``<= 0`` flags nothing.
    names : list of str
        The ``d`` metric names.
    floored : bool, default True
        Whether the fit floors these scales (the reason's wording).

    Returns
    -------
    dict
        ``{metric: reason}`` in words; a near-duplicate names the first earlier metric it
        duplicates and the correlation. Empty when nothing is flagged.
    """
    flagged: dict[str, str] = {}
    if floor <= 0 or X.shape[1] == 0:
        return flagged
    sd = X.std(axis=0)
    live = sd > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        R = np.corrcoef(X[:, live].T) if live.sum() > 1 else np.ones((1, 1))
    idx = np.flatnonzero(live)
    close = np.tril(np.abs(np.nan_to_num(R)) > DUPLICATE_CORRELATION, k=-1)
    for a in np.flatnonzero(close.any(axis=1)):
        b = int(np.argmax(close[a]))  # the first earlier metric it duplicates
        flagged[names[idx[a]]] = (f"near-duplicate of {names[idx[b]]!r} (correlation {R[a, b]:.4f} in "
                                  "training): its residual scale is " + ("floored" if floored else UNFLOORED))
    for j in np.flatnonzero(raw_scale < floor):
        flagged.setdefault(names[j], f"near-deterministic: its equation's residual scale {raw_scale[j]:.3g} is "
                                     f"below {'scale_floor ' if floored else ''}{floor:g} of the metric's own; "
                                     + (f"floored at {floor:g}" if floored else UNFLOORED))
    return flagged


def rounding_scale(X: np.ndarray) -> np.ndarray:
    """Per column of ``X`` (metrics in time order): the standard deviation of rounding
    noise in a residual of that metric, ``q / √6`` where ``q`` is the step of the regular
    grid the metric was recorded on (a residual is a difference of two rounded values,
    each off by up to ``q/2``: variance ``2 · q²/12``); 0 for a column that is not on such
    a grid (fewer than :data:`MIN_GRID_LEVELS` distinct values, or irregular steps:
    continuous data, counters, states).

    A residual cannot be measured more finely than that. Two near-duplicate gauges rounded
    to the same grid predict each other exactly most of the time, so their residual's
    interquartile range is a fraction of one step, and the first step of disagreement
    would be a 50-sd event; the residual scale is floored at ``q / √6``.

    Parameters
    ----------
    X : (n, d) ndarray of float
        The metrics, one per column.

    Returns
    -------
    (d,) ndarray of float
        ``q / √6`` per column on a regular grid, else 0.
    """
    scale = np.zeros(X.shape[1])
    for j in range(X.shape[1]):
        steps = np.diff(np.unique(X[:, j]))
        if steps.size + 1 < MIN_GRID_LEVELS:
            continue
        q = float(np.median(steps))
        if np.mean(np.abs(steps - q) <= 0.05 * q) >= 0.9:
            scale[j] = q / np.sqrt(6.0)
    return scale


def _modelled_prior(prior: PriorKnowledge | None, names: list[str], dropped: dict[str, str],
                    stacklevel: int | None = None) -> PriorKnowledge | None:
    """``prior`` over the metrics a model fits (``names``): what it says of the metrics the
    encoder dropped (``dropped``: metric -> why; constant, missing or observed once in the
    fitting data: no equation, so no edge to learn or rule out) is left out
    (:meth:`PriorKnowledge.over`). With ``stacklevel`` (``warnings.warn``'s, pointing at the
    caller of ``fit``), a UserWarning for each required or given (``graph``) edge that goes
    with them."""
    if prior is None:
        return prior
    kept, lost = prior.over(names, dropped)
    for a, b in lost if stacklevel is not None else ():
        gone = a if a in dropped else b
        warnings.warn(f"prior requires the edge {a} -> {b}, but {gone!r} is not modelled ({dropped[gone]} in the "
                      "fitting data): the edge is left out", UserWarning, stacklevel=stacklevel)
    return kept


def _rolling_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over ``window`` steps along the first axis (fewer at the start)."""
    if window <= 1:
        return values
    return pd.DataFrame(values).rolling(window, min_periods=1).mean().to_numpy().reshape(values.shape)


def hat_diagonal(A: np.ndarray, G: np.ndarray) -> np.ndarray:
    """The diagonal of the hat matrix ``A (n G)⁻¹ Aᵀ`` of a regression on the columns of
    ``A`` (``n`` rows) whose normal equations are ``G`` (``AᵀA / n``, with any ridge):
    each row's leverage, so that ``e / (1 − h)`` is the residual the fit would leave on that
    row had it not seen it (exactly, for least squares on the design as centred; leaving the
    row out of the centring too adds ``1/n``, negligible on the rows a model is fitted on).

    Parameters
    ----------
    A : (n, k) ndarray of float
        The regressors, centred.
    G : (k, k) ndarray of float
        ``AᵀA / n`` (plus the ridge the fit used).

    Returns
    -------
    (n,) ndarray of float
    """
    if A.shape[1] == 0:
        return np.zeros(len(A))
    # one product (G is small, A tall); the pseudo-inverse: collinear regressors keep a leverage
    return np.einsum("ij,ij->i", A @ np.linalg.pinv(G), A) / len(A)


def support_leverage(Zc: np.ndarray, support: np.ndarray) -> np.ndarray:
    """Each row's leverage (hat-matrix diagonal) in each equation of
    :func:`support_least_squares`: ``(n, d)``.

    Parameters
    ----------
    Zc : (n, d·(p+1)) ndarray
        The centred lagged design.
    support : (d·(p+1), d) ndarray of bool
        The equations' parents.

    Returns
    -------
    (n, d) ndarray of float
    """
    d = support.shape[1]
    H = np.zeros((len(Zc), d))
    for j in range(d):
        rows = np.flatnonzero(support[:, j])
        if rows.size:
            A = Zc[:, rows]
            H[:, j] = hat_diagonal(A, A.T @ A / len(A))
    return H


def support_least_squares(Zc: np.ndarray, support: np.ndarray) -> np.ndarray:
    """Each present metric regressed (least squares, no shrinkage) on the columns of the
    centred lagged design ``Zc`` that ``support`` allows as its parents.

    Parameters
    ----------
    Zc : (n, d·(p+1)) ndarray
        The centred lagged design (present metrics first, then each lag's).
    support : (d·(p+1), d) ndarray of bool
        ``support[i, j]``: design column ``i`` is a parent of metric ``j``.

    Returns
    -------
    (d·(p+1), d) ndarray
        The coefficients, 0 outside the support.
    """
    d = support.shape[1]
    B = np.zeros(support.shape)
    for j in range(d):
        rows = np.flatnonzero(support[:, j])
        if rows.size:
            B[rows, j] = np.linalg.lstsq(Zc[:, rows], Zc[:, j], rcond=None)[0]
    return B


def equation_deviations(X: np.ndarray, p: int, mean: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """Each row's deviation from its equations ``coef`` (:func:`support_least_squares`) on the
    lagged design of ``X`` centred by the training ``mean`` (the first ``p`` rows see copies of
    the first row as their past).

    Parameters
    ----------
    X : (n, d) ndarray
        Encoded rows in time order.
    p : int
        The lags of the design.
    mean : (d·(p+1),) ndarray
        The training design's mean.
    coef : (d·(p+1), d) ndarray
        The equations.

    Returns
    -------
    (n, d) ndarray
    """
    Zc = _padded_design(X, p) - mean
    return Zc[:, : X.shape[1]] - Zc @ coef


def _padded_design(X: np.ndarray, p: int) -> np.ndarray:
    """:func:`lagged_design` with one row per row of ``X``: the first ``p`` rows see copies
    of the first row as their past."""
    return lagged_design(np.vstack([np.repeat(X[:1], p, axis=0), X]) if p else X, p)


def drift_adjust(values: np.ndarray, history: np.ndarray, window: int, tolerance: float = DRIFT_TOLERANCE
                 ) -> np.ndarray:
    """Each column of ``values`` less its drift: the part of its median over the ``window``
    steps before it that lies beyond ``±tolerance``.

    ``values`` are deviations already centred and scaled on the training period, so a
    trailing median within ``±tolerance`` is sampling noise and is left alone (stationary
    data scores exactly as without adjustment); beyond it, the excess is subtracted (a
    soft threshold). ``history`` holds the rows just before ``values`` (the end of the
    training period) and primes the first windows; a row with no past is left as it is.
    Only past rows enter each median, so nothing leaks backwards in time. A level shift
    that lasts stops counting after about ``window / 2`` steps: slow drift and new
    baselines become the normal, while faults shorter than that stand out as before.
    ``window = 0`` returns ``values`` unchanged.

    Parameters
    ----------
    values : (n, k) ndarray of float
        Standardised deviations, rows in time order.
    history : (h, k) ndarray of float
        The rows just before ``values`` (may have 0 rows).
    window : int
        Steps in each trailing median; ``<= 0`` turns the adjustment off.
    tolerance : float, default ``DRIFT_TOLERANCE``
        Half-width, in sd, of the band around 0 within which a median is left alone.

    Returns
    -------
    (n, k) ndarray of float
        The adjusted values (``values`` itself when ``window <= 0``).
    """
    if window <= 0:
        return values
    full = np.vstack([history, values]) if len(history) else values
    median = np.nan_to_num(pd.DataFrame(full).rolling(window, min_periods=1).median().shift(1).to_numpy(), nan=0.0)
    return (full - beyond_tolerance(median, tolerance))[len(full) - len(values):]


def background_adjust(scores: np.ndarray, history: np.ndarray, window: int, base: float,
                      tolerance: float = BACKGROUND_TOLERANCE) -> tuple[np.ndarray, np.ndarray]:
    """``(scores / b, b)``: each score divided by how far the background of the score has
    risen beyond ``tolerance``, ``b_t = 1 + max(0, q_t / base − tolerance)``, where
    ``q_t`` is the lower quartile (:data:`BACKGROUND_QUANTILE`) of the ``window`` scores
    before step ``t`` and ``base`` that of the training scores (a soft threshold, as in
    :func:`drift_adjust`: continuous, and a regime ten times noisier is divided by 9).

    :func:`drift_adjust` takes off a level that the deviations of single metrics settle
    at; it cannot take off a regime in which the whole score runs several times noisier
    than in training (a fixed threshold would alarm at a large share of the steps). There the threshold
    is read relative to the recent background, as an operator reads a noisy dashboard;
    within ``tolerance`` times the training background nothing changes, so stationary
    data score exactly as without it. ``history`` holds the scores just before
    ``scores`` (the end of the training period); only past scores enter each quartile,
    and a step with fewer than :data:`MIN_BACKGROUND` of them is left as it is.
    ``window = 0``, or a training background of (numerically) 0, returns the scores
    unchanged (``b = 1``); any other window must hold at least :data:`MIN_BACKGROUND`.

    Parameters
    ----------
    scores : (n,) array-like of float
        Scores in time order.
    history : (h,) ndarray of float
        The scores just before ``scores`` (may be empty).
    window : int
        Past scores each quartile is read from; ``<= 0`` turns the adjustment off.
    base : float
        The lower quartile of the training scores; at or below
        :data:`MIN_BACKGROUND_BASE` turns the adjustment off.
    tolerance : float, default ``BACKGROUND_TOLERANCE``
        Multiple of ``base`` the background may reach before scores are divided.

    Returns
    -------
    tuple of ((n,) ndarray, (n,) ndarray)
        The adjusted scores and the divisor ``b`` of each (at least 1).

    Raises
    ------
    InvalidInputError
        When ``window`` is positive but below :data:`MIN_BACKGROUND` (and the adjustment is
        on).
    """
    scores = np.asarray(scores, dtype=float)
    if window <= 0 or not base > MIN_BACKGROUND_BASE:
        return scores, np.ones_like(scores)
    check_window("background window", window, MIN_BACKGROUND)
    full = np.concatenate([history, scores]) if len(history) else scores
    quartile = (pd.Series(full).rolling(window, min_periods=MIN_BACKGROUND)
                .quantile(BACKGROUND_QUANTILE).shift(1).to_numpy()[len(full) - len(scores):])
    background = 1.0 + np.maximum(0.0, np.nan_to_num(quartile, nan=0.0) / base - tolerance)
    return scores / background, background


def beyond_tolerance(median: np.ndarray, tolerance: float = DRIFT_TOLERANCE) -> np.ndarray:
    """The part of a median of standardised deviations that lies beyond ``±tolerance``
    (a soft threshold): the drift that :func:`drift_adjust` and the root-cause ranking's
    recent normal take off; within the tolerance, 0.

    Parameters
    ----------
    median : ndarray of float
        Medians of standardised deviations, any shape.
    tolerance : float, default ``DRIFT_TOLERANCE``
        Half-width of the band, in sd.

    Returns
    -------
    ndarray of float
        ``sign(m) · max(|m| − tolerance, 0)``, of ``median``'s shape.
    """
    return np.sign(median) * np.maximum(np.abs(median) - tolerance, 0.0)


class Detector(FittedAttributes):
    """Shared machinery: encode, compute per-metric deviations, combine, threshold.

    Subclasses implement ``_fit_model(X)`` and ``_deviations(X) -> (n, d)`` on encoded
    data; everything else (validation, metric checks, combination, smoothing, POT) is
    common to faultgraph and its baselines.
    """

    name = "detector"

    _constraints = {
        "combine": one_of(COMBINE),
        "threshold_method": one_of(values(config.ThresholdMethod)),
        "smooth": whole(1),
        "drift_window": whole(0, "steps; 0 turns it off"),
        "background_window": Constraint(lambda name, value: check_window(
            name, whole(0, "steps; 0 turns it off")(name, value), MIN_BACKGROUND)),
        "scale_floor": Constraint(lambda name, value: _fraction(name, value, 1.0, "a share of each metric's own "
                                                                 "scale; 0 turns it off")),
        "soft_cap": Constraint(lambda name, value: _fraction(name, value, np.inf, "in sd; 0 turns it off")),
        "holdout": Constraint(lambda name, value: _fraction(name, value, 0.9, "the share of the training tail "
                                                             "the threshold is read on; 0 turns it off")),
        "calibration": one_of(CALIBRATIONS),
        "lasting": flag(),
        "risk": Constraint(lambda name, value: _open_unit(name, value, "the share of normal steps that alarm")),
        "quantile": Constraint(lambda name, value: _open_unit(name, value, "of the training scores")),
        "max_gap": whole(0, "steps"),
    }

    def __init__(self, *, combine: Combine = "mean-square", smooth: int = DEFAULTS.smooth,
                 drift_window: int = DEFAULTS.drift_window, background_window: int = DEFAULTS.background_window,
                 threshold_method: ThresholdMethod = "pot", risk: float = DEFAULTS.risk,
                 quantile: float = DEFAULTS.quantile, max_gap: int = DEFAULTS.max_gap,
                 scale_floor: float = 0.0, soft_cap: float = 0.0, holdout: float = 0.0,
                 calibration: str = "off", lasting: bool = DEFAULTS.lasting) -> None:
        self.combine = combine
        self.lasting = lasting
        self.calibration = calibration
        self.scale_floor = scale_floor
        self.soft_cap = soft_cap
        self.holdout = holdout
        self.smooth = smooth
        self.drift_window = drift_window
        self.background_window = background_window
        self.threshold_method = threshold_method
        self.risk = risk
        self.quantile = quantile
        self.max_gap = max_gap

    # --- the common path ----------------------------------------------------------------

    def _frame(self, data: Any, name: str) -> pd.DataFrame:
        if isinstance(data, pd.DataFrame):
            index = data.index
            if ((isinstance(index, pd.DatetimeIndex) or pd.api.types.is_numeric_dtype(index))
                    and not index.is_monotonic_increasing):  # rows are read as consecutive steps
                raise InvalidInputError(f"{name}'s index must be in time order (increasing); sort it "
                                        f"({name}.sort_index()) or, for files joined end to end, give each a "
                                        "distinct time")
            return text_columns(data)  # metric names are text, as the encoder keeps them
        try:
            arr = np.asarray(data, dtype=float)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"{name} must be a DataFrame or a 2-D array of numbers ({exc})") from None
        if arr.ndim != 2:
            raise InvalidInputError(f"{name} must be 2-D (time steps x metrics), got shape {arr.shape}")
        return pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])

    def fit(self, train: Any) -> Detector:
        """Fit on a training period (rows in time order, mostly normal).

        With ``holdout > 0`` the model is fitted on the first ``1 − holdout`` of the rows
        and the label-free threshold is read on the scores of the rest, which the model
        has not seen (a threshold read on the fitted rows is too low wherever the model
        overfits them); the drift and background adjustments are then primed with the
        whole training tail. The tail is held back only when it has at least
        :data:`MIN_CALIBRATION` rows and leaves :data:`MIN_HOLDOUT_FIT` to fit on.

        Parameters
        ----------
        train : pandas.DataFrame or (n, d) array-like
            The training period, time steps × metrics, rows in time order; an array's
            columns are named ``x0``, ``x1``, ...

        Returns
        -------
        Detector
            ``self``, fitted.

        Raises
        ------
        InvalidInputError
            When a hyperparameter is not allowed, when ``train`` is not 2-D numbers or the
            encoder refuses it, when too few finite training scores remain for the
            threshold, or (:class:`CausalDetector`) when the graph fit would be
            undetermined or exceed the time or memory limits.
        """
        self.validate_params()
        frame = self._frame(train, "train")
        if len(frame) < MIN_SCORES:
            raise InvalidInputError(
                f"the training data has {len(frame)} row(s); a detector reads its alarm threshold on at least "
                f"{MIN_SCORES} training scores, one per row: fit on a longer healthy period (a few hundred rows or "
                "more give a threshold worth trusting)")
        start = time.perf_counter()
        hold = int(round(float(self.holdout) * len(frame)))
        if hold < MIN_CALIBRATION or len(frame) - hold < MIN_HOLDOUT_FIT:
            hold = 0  # too short a history to hold a tail back
        head, tail = (frame.iloc[: len(frame) - hold], frame.iloc[len(frame) - hold :]) if hold else (frame, None)
        floor = float(self.scale_floor)
        # a metric whose IQR is below scale_floor of its standard deviation is scaled by the latter
        self.encoder_ = MetricEncoder(max_gap=self.max_gap, min_scale=max(1e-8, floor)).fit(head)
        X = self.encoder_.transform(head).to_numpy()
        self.train_mean_, self.train_std_ = X.mean(axis=0), np.maximum(X.std(axis=0), 1e-12)
        unseen = self._fit_model(X)  # what the fit leaves on rows it had not seen, where it says
        D = self._deviations(X)
        self.center_, self.scale_ = robust_center_scale(D, MIN_RESIDUAL_SCALE)
        self.scale_ = np.maximum(self.scale_, rounding_scale(X))  # no finer than the metric's rounding
        self.flagged_: dict[str, str] = {}
        if D is not X:  # residuals of equations
            own = np.minimum(1.0, self.train_std_)  # X is in the metric's robust sd already
            names = list(self.encoder_.columns_)
            if floor > 0:  # never finer than floor x the metric's own scale
                # as the encoder does for the metrics: an IQR below floor x sd (a residual nearly always 0) gives way
                self.scale_ = np.where(self.scale_ < floor * D.std(axis=0), np.maximum(D.std(axis=0), self.scale_),
                                       self.scale_)
                self.flagged_ = flag_columns(X, self.scale_ / own, floor, names)
                self.scale_ = np.maximum(self.scale_, floor * own)
            else:  # nothing floored: name the metrics whose scores can run large, and why
                self.flagged_ = flag_columns(X, self.scale_ / own, FLAG_SHARE, names, floored=False)
                for j in np.flatnonzero(self.train_std_ * FLAG_SHARE > 1.0):  # X is in robust-scale units
                    self.flagged_.setdefault(names[j], f"nearly always at one value: its robust (IQR) scale is "
                                                       f"{1 / self.train_std_[j]:.3g} of its standard deviation; "
                                                       + UNFLOORED)
        self.resid_mean_, self.resid_std_ = D.mean(axis=0), np.maximum(D.std(axis=0), 1e-12)
        Z = (self._unseen_deviations(D, unseen) - self.center_) / self.scale_  # what the threshold is read on
        window = int(self.drift_window)
        blocks = self._training_blocks(X, Z, unseen)
        blocks_t = None  # the held-back tail's blocks, which the model did not see
        if tail is not None:
            Xt = self.encoder_.transform(tail[list(self.encoder_.columns_)]).to_numpy()
            blocks_t = self._blocks(Xt, (self._deviations(Xt) - self.center_) / self.scale_)
        self.calibration_: TailCalibration | None = None
        if self.calibration != "off":  # each component's tail surprise on the training rows (held-back tail too)
            seen = blocks if blocks_t is None else np.vstack([blocks, blocks_t])
            scale, extend = _CALIBRATION_KINDS[str(self.calibration)]
            self.calibration_ = TailCalibration(drift_adjust(seen, seen[:0], window), extend=extend, scale=scale)
        train_scores, self.threshold_, self.background_base_, self.background_history_ = self._fit_channel(
            blocks, blocks_t, X.shape[1], window)
        self.lasting_ = bool(self.lasting) and window > 0
        if self.lasting_:  # the same score without the drift adjustment, its threshold read on the same rows
            lasting, threshold, self.lasting_background_base_, self.lasting_background_history_ = \
                self._fit_channel(blocks, blocks_t, X.shape[1], 0, skip=window)
            self.lasting_ = bool(threshold > 0 and self.threshold_ > 0)  # a zero threshold has no scale to share
            self.lasting_threshold_ = float(threshold)
            if self.lasting_:
                train_scores = np.maximum(train_scores, lasting * (self.threshold_ / threshold))
        self.holdout_rows_ = hold
        self._warn_of_one_episode(train_scores, blocks, head.index, list(self.encoder_.columns_))
        if blocks_t is not None:
            blocks = np.vstack([blocks, blocks_t])
        # the training tail the drift adjustment and the smoothing of new steps start from
        self.drift_history_ = blocks[len(blocks) - min(max(window, int(self.smooth) - 1), len(blocks)):]
        self.train_scores_ = train_scores
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def _read_threshold(self, scores: np.ndarray) -> float:
        """The label-free threshold of training ``scores`` (``threshold_method``)."""
        return (pot_threshold(scores, self.risk) if self.threshold_method == "pot"
                else quantile_threshold(scores, self.quantile))

    def _calibration_start(self, n: int, skip: int) -> int:
        """The first of ``n`` training scores the threshold is read on: after ``skip`` (the
        drift window, once full; at most half of them) or, when fewer than
        :data:`MIN_CALIBRATION` would remain, after the first steps alone, whose past is a
        copy of the first row and whose smoothing reads them (never fewer than
        :data:`MIN_SCORES` left)."""
        start = min(skip, n // 2)
        if n - start >= MIN_CALIBRATION:
            return start
        return max(0, min(self._reach(), n // 2, n - MIN_SCORES))

    def _warn_of_one_episode(self, scores: np.ndarray, blocks: np.ndarray, index: pd.Index, names: list[str]
                             ) -> None:
        """A UserWarning when one episode of the training rows sets the alarm threshold: read
        without the ``smooth`` steps either side of the highest training score, the threshold
        would be below ``1 /`` :data:`EPISODE_RATIO` of it (a glitch or an incident in a short
        training period: smoothed, one step fills more than ``risk`` of the rows). SMD's and
        ASD's training sets stay below 1.4."""
        n, w = len(scores), int(self.smooth)
        first = self._calibration_start(n, int(self.drift_window))  # the rows the threshold was read on
        if self.holdout_rows_ or n - first < 2 * MIN_SCORES + 2 * w + 1:  # (a held-back tail: read there)
            return
        read = self._read_threshold
        top = first + int(np.argmax(scores[first:]))
        keep = np.zeros(n, dtype=bool)
        keep[first:] = True
        keep[max(0, top - w): top + w + 1] = False
        full, without = read(scores[first:]), read(scores[keep])
        if not (without > 0 and full > EPISODE_RATIO * without):
            return
        rows = blocks[max(0, top - w): top + 1]
        step, column = np.unravel_index(int(np.argmax(np.abs(rows))), rows.shape)
        at = max(0, top - w) + int(step)
        metric = names[int(column) % len(names)]
        warnings.warn(f"one episode of the training data sets the alarm threshold: around {index[at]!r} "
                      f"({metric!r} {abs(float(rows[step, column])):.3g} robust sd off) the threshold is "
                      f"{self.threshold_:.3g}, without it about {without:.3g}, so faults smaller than that episode "
                      "will not alarm; "
                      "if it was an incident or a glitch, leave it out of the training period (or fit on a "
                      "longer one)", UserWarning, stacklevel=3)

    def _fit_channel(self, blocks: np.ndarray, blocks_t: np.ndarray | None, d: int, window: int,
                     skip: int | None = None) -> tuple[np.ndarray, float, float, np.ndarray]:
        """One score of the training rows, drift-adjusted over ``window`` steps (0: not
        adjusted): ``(training scores, label-free threshold, background base, background
        history)`` from the ``d`` metrics' :meth:`_blocks`. The threshold is read on the
        held-back tail's scores (``blocks_t``, the adjustments primed by the fitted rows)
        or, without one, on the fitted rows' after the first ``skip`` (default ``window``:
        once the drift windows are full; at most half of them), so that two scores that
        agree on the training rows get the same threshold."""
        background = int(self.background_window)
        raw = self._raw_scores(blocks, blocks[:0], d, window)
        base = float(np.quantile(raw, BACKGROUND_QUANTILE))
        scores = background_adjust(raw, raw[:0], background, base)[0]
        if blocks_t is not None:  # the threshold is read on rows the model did not see
            history = blocks[len(blocks) - min(window, len(blocks)):]
            raw_t = self._raw_scores(blocks_t, history, d, window)
            calibration = background_adjust(raw_t, raw[len(raw) - min(background, len(raw)):], background, base)[0]
            raw, scores = np.concatenate([raw, raw_t]), np.concatenate([scores, calibration])
        else:
            calibration = scores[self._calibration_start(len(scores), window if skip is None else skip):]
        threshold = self._read_threshold(calibration)
        return scores, float(threshold), base, raw[len(raw) - min(background, len(raw)):]

    def check_fitted(self) -> None:
        """Raise :class:`~faultgraph.errors.NotFittedError` unless ``fit`` has run."""
        if not hasattr(self, "threshold_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(train) first")

    _check_fitted = check_fitted

    def _blocks(self, X: np.ndarray, Z: np.ndarray) -> np.ndarray:
        """What the score is made of, side by side (``d`` columns each), before drift
        adjustment: for the baselines, the standardised deviations ``Z`` alone."""
        return Z

    def _adjusted(self, blocks: np.ndarray, drift_history: np.ndarray, window: int | None = None) -> np.ndarray:
        """``blocks`` drift-adjusted over ``window`` steps (default ``drift_window``; with
        ``drift_history``, the blocks before them) and, with ``calibration`` on, as tail
        surprises (comparable across components)."""
        adjusted = drift_adjust(blocks, drift_history, int(self.drift_window if window is None else window))
        if getattr(self, "calibration_", None) is not None:
            adjusted = self.calibration_.transform(adjusted)
        return adjusted

    def _raw_scores(self, blocks: np.ndarray, drift_history: np.ndarray, d: int, window: int | None = None
                    ) -> np.ndarray:
        """The score of each step before the background adjustment: ``blocks`` adjusted
        (:meth:`_adjusted`, over ``window``), then combined. Fit and scoring alike."""
        return self._score_blocks(self._adjusted(blocks, drift_history, window), d)

    def _scored_blocks(self, data: Any) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
        """``(frame, X, Z, blocks)`` of ``data``: the metrics as a frame, encoded, their
        standardised deviations and what the score is made of (:meth:`_blocks`)."""
        self._check_fitted()
        frame = self._frame(data, "data")
        X, D = self.residuals(frame)
        Z = (D - self.center_) / self.scale_
        return frame, X, Z, self._blocks(X, Z)

    def _score_blocks(self, blocks: np.ndarray, d: int) -> np.ndarray:
        """The score from drift-adjusted blocks (see :meth:`_blocks`)."""
        return self._score(blocks)  # the baselines' blocks are their deviations Z alone

    def _score(self, Z: np.ndarray) -> np.ndarray:
        """The score of each step from standardised deviations ``Z``: combined over
        metrics and smoothed by a trailing rolling mean of ``smooth`` steps; with
        ``"max-of-smoothed"``, each metric's ``|z|`` is smoothed first and the largest taken."""
        Z = soft_cap(Z, float(self.soft_cap))
        if self.combine == "max-of-smoothed":
            return _rolling_mean(np.abs(Z), int(self.smooth)).max(axis=1)
        if self.combine == "mean-square+max":
            return (_rolling_mean(np.mean(Z * Z, axis=1), int(self.smooth))
                    + _rolling_mean(np.abs(Z), int(self.smooth)).max(axis=1))
        s = np.mean(Z * Z, axis=1) if self.combine == "mean-square" else np.max(np.abs(Z), axis=1)
        return _rolling_mean(s, int(self.smooth))

    def _scores(self, raw: np.ndarray, d: int, adjusted: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(score, background, lasting)`` of each step from its blocks ``raw``
        (:meth:`_blocks`, the adjustments primed by the training tail; ``adjusted``: those
        blocks already drift-adjusted, :meth:`_adjusted`): the drift-adjusted score over its
        background and, with ``lasting_``, the unadjusted one over its own, in
        ``threshold_``'s units, where it is the larger (``lasting`` marks those steps). The
        smoothing, too, starts from the training tail (its last ``smooth − 1`` steps), as the
        adjustments do: a fresh start would average the first steps over fewer rows, and
        alarm more often there (on a planted lagged system, 34 of 84 healthy windows in their
        first 15 steps; 9 so primed, 14 when the same steps are scored with 60 before them)."""
        history = self.drift_history_
        k = min(max(int(self.smooth) - 1, 0), len(history))  # the training steps the smoothing starts from
        if adjusted is None:
            adjusted = self._adjusted(raw, history)
        if k:
            tail = self._adjusted(history[len(history) - k:], history[: len(history) - k])
            combined = self._score_blocks(np.vstack([tail, adjusted]), d)[k:]
        else:
            combined = self._score_blocks(adjusted, d)
        score, background = background_adjust(combined, self.background_history_,
                                              int(self.background_window), self.background_base_)
        if not getattr(self, "lasting_", False):
            return score, background, np.zeros(len(score), dtype=bool)
        unadjusted = self._raw_scores(np.vstack([history[len(history) - k:], raw]), raw[:0], d, 0)[k:]
        plain, behind = background_adjust(unadjusted, self.lasting_background_history_,
                                          int(self.background_window), self.lasting_background_base_)
        plain = plain * (self.threshold_ / self.lasting_threshold_)
        wins = plain > score
        return np.where(wins, plain, score), np.where(wins, behind, background), wins

    def warm_up(self, data: Any) -> int:
        """How many leading steps of ``data`` :meth:`score_samples` leaves unscored: those
        before every metric of the model has had a value (a series that starts late, the
        first grid step after resampling), which the encoder fills from each metric's first
        value, so that they hold values no one observed; and the steps after whose score
        still reads them: a lagged model's ``lags_`` steps, whose pasts reach into them, and
        the ``smooth − 1`` steps whose smoothing window does. 0 when the first step holds
        every metric.

        Parameters
        ----------
        data : pandas.DataFrame or (n, d) array-like
            Steps in time order, as for :meth:`score_samples`.

        Returns
        -------
        int
            The number of leading steps not scored.
        """
        self._check_fitted()
        return self._warm_up(self._frame(data, "data"))

    def _warm_up(self, frame: pd.DataFrame) -> int:
        """:meth:`warm_up` of a frame already checked (:meth:`_frame`)."""
        present = [c for c in self.encoder_.columns_ if c in frame.columns]
        if not len(frame) or not present:
            return 0
        seen = frame[present].notna().to_numpy()
        first = int(seen.argmax(axis=0).max()) if seen.any(axis=0).all() else len(frame)
        return 0 if first == 0 else min(len(frame), first + self._reach())

    def _reach(self) -> int:
        """How many steps after a row still read it: a lagged model's ``lags_`` (their past)
        and the smoothing's ``smooth − 1``."""
        return int(getattr(self, "lags_", 0) or 0) + max(int(self.smooth) - 1, 0)

    def score_samples(self, data: Any) -> pd.DataFrame:
        """Per step: ``score``, ``anomaly`` (0/1 at ``threshold_``), ``background`` (what
        the score was divided by because its recent background ran above the training's,
        :func:`background_adjust`, for whichever score was kept where ``lasting_``; 1
        almost always) and one ``residual:<metric>`` column of standardised deviations per
        metric (and, when the score adds innovations, one
        ``innovation:<metric>`` column each), not drift-adjusted; last, one
        ``constant:<metric>`` column for each metric that held one value throughout
        training and is in ``data``: its value less that one (the model has no scale to
        score it on, so it does not enter the score, but any departure is news: an error
        counter at 0 all week that starts to count). The leading steps before every metric
        has had a value, and those whose score still reads them (:meth:`warm_up`), are not
        scored: ``score`` NaN, ``anomaly`` 0 (to evaluate the scores, leave those rows out:
        :func:`~faultgraph.evaluate.detection_report` takes finite scores only).

        Parameters
        ----------
        data : pandas.DataFrame or (n, d) array-like
            Steps to score, in time order; its metrics must include the model's. Each call
            starts the drift and background adjustments from the training tail.

        Returns
        -------
        pandas.DataFrame
            One row per step of ``data`` (same index), with the columns above.

        Raises
        ------
        InvalidInputError
            When ``data`` is not 2-D numbers or lacks metrics of the model.
        NotFittedError
            When the detector is not fitted.
        """
        frame, X, Z, raw = self._scored_blocks(data)
        columns = self.encoder_.columns_
        d = X.shape[1]
        score, background, _ = self._scores(raw, d)
        warm = self._warm_up(frame)  # frame is checked already
        if warm:  # values no one observed, or a score that still reads them
            score = np.array(score, dtype=float)
            score[:warm] = np.nan
        out = pd.DataFrame({"score": score, "anomaly": (score >= self.threshold_).astype(int),
                            "background": background}, index=frame.index)
        parts = [out, pd.DataFrame(Z, index=frame.index, columns=[f"residual:{c}" for c in columns])]
        if raw.shape[1] > 2 * d:  # the innovations the score adds
            parts.append(pd.DataFrame(raw[:, 2 * d : 3 * d], index=frame.index,
                                      columns=[f"innovation:{c}" for c in columns]))
        departures = self.encoder_.departures(frame)  # metrics constant in training: shown, not scored
        parts.append(departures.set_axis([f"constant:{c}" for c in departures.columns], axis=1))
        return pd.concat(parts, axis=1)

    def contributions(self, data: Any) -> pd.DataFrame:
        """Per step and metric: what the metric adds to the step's score, on one scale for
        every metric. Each of the metric's components (for :class:`CausalDetector`: its
        robust z-score, its equation's residual and, when scored, its innovation) is
        drift-adjusted as the score is (not adjusted at the steps where ``lasting_`` keeps the
        unadjusted score) and, with ``calibration`` on, mapped to its tail surprise on the
        training rows (:class:`TailCalibration`: ``−log`` of the share of training values as
        large, bounded); the largest component is the metric's. With ``calibration="off"``,
        the largest ``|z|`` of its components.

        Parameters
        ----------
        data : pandas.DataFrame or (n, d) array-like
            Steps in time order, as for :meth:`score_samples` (the adjustments start from
            the training tail).

        Returns
        -------
        pandas.DataFrame
            One row per step of ``data`` (same index), one column per metric of
            ``encoder_.columns_``.

        Raises
        ------
        InvalidInputError
            When ``data`` is not 2-D numbers or lacks metrics of the model.
        NotFittedError
            When the detector is not fitted.
        """
        frame, X, _, raw = self._scored_blocks(data)
        blocks = self._adjusted(raw, self.drift_history_)
        d = X.shape[1]
        wins = self._scores(raw, d, blocks)[2]
        if wins.any():  # where the unadjusted score is kept, what enters it
            blocks[wins] = self._adjusted(raw, raw[:0], 0)[wins]
        per = np.abs(blocks).reshape(len(blocks), -1, d).max(axis=1)
        return pd.DataFrame(per, index=frame.index, columns=list(self.encoder_.columns_))

    def residuals(self, data: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(X, D)`` for each step of ``data``: the metrics as the model encodes them
        (robust z-scores) and their raw deviations from the model (for
        :class:`CausalDetector`, the residuals of the metrics' equations). The data's
        metrics must include the model's; others are ignored (with a warning, unless the
        model dropped them as constant).

        Parameters
        ----------
        data : pandas.DataFrame or (n, d) array-like
            Steps in time order, time steps × metrics.

        Returns
        -------
        tuple of ((n, d) ndarray, (n, d) ndarray)
            ``X`` and ``D``, columns in the order of ``encoder_.columns_``.

        Raises
        ------
        InvalidInputError
            When ``data`` is not 2-D numbers or lacks metrics of the model (the message
            names the missing and extra ones).
        NotFittedError
            When the detector is not fitted.
        """
        self._check_fitted()
        frame = self._frame(data, "data")
        columns = self.encoder_.columns_
        missing = [c for c in columns if c not in frame.columns]
        extra = [c for c in frame.columns if c not in columns and c not in self.encoder_.dropped_]
        if missing:
            raise InvalidInputError(
                f"the data's metrics differ from the model's: missing {describe_names(missing)}"
                + (f"; extra {describe_names(extra)}" if extra else "")
            )
        if extra:
            warnings.warn(f"ignoring {len(extra)} metric(s) the model was not fitted on: {describe_names(extra)}",
                          UserWarning, stacklevel=3)
        X = self.encoder_.transform(frame[columns]).to_numpy()
        return X, self._deviations(X)

    def predict(self, data: Any) -> np.ndarray:
        """0/1 alarms at the label-free threshold.

        Parameters
        ----------
        data : pandas.DataFrame or (n, d) array-like
            Steps to score, as for :meth:`score_samples`.

        Returns
        -------
        (n,) ndarray of int
            The ``anomaly`` column of :meth:`score_samples`.

        Raises
        ------
        InvalidInputError, NotFittedError
            As :meth:`score_samples`.
        """
        return self.score_samples(data)["anomaly"].to_numpy()

    # --- to be provided -------------------------------------------------------------------

    def _fit_model(self, X: np.ndarray) -> Any:  # pragma: no cover - abstract
        """Fit the model on the encoded rows ``X``; return what :meth:`_unseen_deviations`
        and :meth:`_training_blocks` need (None: nothing)."""
        raise NotImplementedError

    def _deviations(self, X: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _training_blocks(self, X: np.ndarray, Z: np.ndarray, unseen: Any) -> np.ndarray:
        """:meth:`_blocks` of the fitting rows, as the threshold and the drift history read
        them (a subclass may give, from ``unseen``, what the fit would have left on rows it
        had not seen)."""
        return self._blocks(X, Z)

    def _unseen_deviations(self, D: np.ndarray, unseen: Any) -> np.ndarray:
        """The fitting rows' deviations ``D`` as the threshold reads them (a subclass may give,
        from ``unseen``, what its equations would have left on rows they had not seen)."""
        return D


class _Unseen(NamedTuple):
    """What :meth:`CausalDetector._fit_model` leaves for the threshold: each fitting row's
    ``1 / (1 − h)`` in each equation (rows of the lagged design), and the leave-one-out
    innovations, standardised (None where the score does not add them)."""

    factor: np.ndarray
    innovations: np.ndarray | None


class CausalDetector(Detector):
    """faultgraph's detector: residuals of a lagged linear SEM on a learned causal graph.

    ``fit`` learns a DAG over the metrics and their past (:class:`~faultgraph.StructureLearner`
    on the lagged candidate space, the paper's eqs. 2–3), refits each metric's equation on
    its parents and keeps the residuals' robust centre and scale. A step's score combines
    each metric's standardised deviation from what its causes predict (a metric that
    breaks from its causes) and, by default, its robust z-score (a fault that moves a
    cause and its effects together leaves small residuals), optionally its innovation
    (:meth:`innovations`: the metric against what the past of every metric predicts),
    smoothed over ``smooth`` steps; the alarm threshold is read off the training scores
    without labels (POT). How each default was chosen, and what it measures, is in
    ``benchmarks/results/detection.md`` and ``CHANGELOG.md``.

    Parameters
    ----------
    lags : int or "auto"
        Past steps in the candidate space; ``"auto"``: chosen from the training rows by
        :func:`~faultgraph.encode.lags.choose_lags` (the shortest window, up to
        :data:`AUTO_MAX_LAGS`, whose one-step prediction error on the held-back tail of the
        training rows is within 2 % of the best window's), so that a link that takes
        several steps is inside the window. ``lags_`` holds the window used and
        ``lag_choice_`` why.
    method, threshold, prior
        Passed to :class:`~faultgraph.StructureLearner`; what ``prior`` says of metrics the
        encoder drops (constant or missing in the fitting data) is left out first (a
        required or given edge with a warning). ``prior_`` holds the prior as applied (the
        one a saved model keeps).
    lambda1 : float or None
        Its L1 weight; ``None``: ``max(0.03, sqrt(2 log k / n))`` for ``n`` training rows
        and ``k = d·(lags + 1)`` candidate parents, the lasso's universal rate (Bickel,
        Ritov and Tsybakov 2009) with a floor. ``lambda1_`` holds the value used.
    scoring : {"auto", "residual+marginal", "residual", "residual+marginal+innovation"}
        What each step's score adds up (:class:`faultgraph.config.Score`); ``"auto"`` (the
        default since issue 17; it scores SMD and ASD exactly as ``"residual+marginal"``,
        ``docs/robustness.md``):
        ``"residual+marginal+innovation"`` where the metrics' first differences lead each
        other by :data:`AUTO_INNOVATION_LAG` steps or more
        (:func:`~faultgraph.encode.lags.median_lead`), else ``"residual+marginal"``.
        ``scoring_`` holds the choice and ``scoring_reason_`` why.
    combine : {"mean-square", "max", "max-of-smoothed", "mean-square+max"}
        How the metrics' deviations of one step make one score.
    smooth : int
        Trailing rolling-mean window of the score, in steps.
    drift_window : int
        Each metric's deviations have the part of their median over the previous
        ``drift_window`` steps beyond ``±DRIFT_TOLERANCE`` subtracted (:func:`drift_adjust`),
        so a level shift that lasts stops alarming after about half the window (with
        ``lasting``, a shift within the training range; one beyond it alarms until the
        background adjustment takes it in); 0: off.
        Each call to :meth:`score_samples` starts from the training tail: to score in small
        batches, pass the previous ``drift_window`` steps along.
    background_window : int
        The score is divided by how far the lower quartile of its previous
        ``background_window`` scores has risen beyond twice the training's
        (:func:`background_adjust`), so a noisier regime alarms relative to its own
        background; 0: off, else at least :data:`MIN_BACKGROUND`.
    threshold_method : {"pot", "quantile"}
        ``"pot"``: peaks over threshold at false-alarm probability ``risk``;
        ``"quantile"``: the ``quantile`` of the training scores.
    risk : float
        The false-alarm probability of ``"pot"`` (:func:`pot_threshold`), per score: with
        ``lasting_`` a step alarms when either score passes its threshold, so up to twice
        as often on data like the training rows.
    quantile : float
        The quantile of ``"quantile"`` (:func:`quantile_threshold`).
    max_gap : int
        Longest run of missing steps the encoder fills.
    scale_floor : float
        In [0, 1): a residual's scale is never below this share of its metric's own scale;
        near-duplicate metrics and near-deterministic equations are listed in
        ``flagged_`` (:func:`flag_columns`); 0: off.
    soft_cap : float
        At least 0, in sd: deviations are capped softly (:func:`soft_cap`) before they
        are combined; 0: off.
    holdout : float
        In [0, 0.9): the share of the training tail held back from the fit, on whose
        scores the threshold is read (see :meth:`fit`); 0: off.
    calibration : {"off", "rank", "rank-capped", "rank-uncapped", "normal", "normal-capped", "normal-ratio", "band"}
        ``"rank"``: each drift-adjusted deviation (residual, marginal, innovation) enters
        the combination as its empirical tail surprise on the training rows
        (:class:`TailCalibration`), so every metric's contribution is on one scale and
        bounded, whatever its own scale; the other choices vary the cap and the scale
        (:data:`CALIBRATIONS`); ``"off"``: the standardised deviations as they are.
    lasting : bool
        Also score each step without the drift adjustment, against that score's own
        label-free threshold (read as ``threshold_`` is), and keep the larger of the two
        in ``threshold_``'s units: a change that outlasts half of ``drift_window`` keeps
        alarming while it stands beyond what the training rows showed (a new level within
        their range becomes the normal as before; one beyond it alarms until the background
        adjustment takes it in, for ever with ``background_window=0``). On data whose
        deviations never drift beyond the tolerance it scores exactly as without (both
        thresholds are read on the same training rows). No effect with ``drift_window=0``.

    Attributes
    ----------
    graph_ : LearnedGraph
        The learned graph, with lagged edges.
    lags_ : int
        The window used: ``lags``, or the one chosen for ``"auto"``.
    lag_choice_ : LagChoice or None
        With ``lags="auto"``: the :class:`~faultgraph.encode.lags.LagChoice` (the errors of
        every window tried and the reason); else None.
    scoring_, scoring_reason_ : str, str
        The score used (``scoring``, or the one chosen for ``"auto"``) and, for ``"auto"``,
        why (else "").
    coef_ : (d·(lags_+1), d) ndarray
        The refitted equations.
    threshold_ : float
        The alarm threshold.
    encoder_ : MetricEncoder
        The fitted :class:`~faultgraph.MetricEncoder`.
    center_, scale_ : (d,) ndarray
        Median and IQR-based scale of the training residuals (the standard deviation
        where the IQR is below :data:`MIN_RESIDUAL_SCALE`; never below the metric's
        rounding, :func:`rounding_scale`).
    resid_mean_, resid_std_ : (d,) ndarray
        The residuals' mean and standard deviation (root causes).
    drift_history_, background_base_, background_history_ : ndarray, float, ndarray
        The training tail that primes the drift and background adjustments of new data.
    lasting_ : bool
        Whether the score without the drift adjustment is kept (``lasting`` and a drift
        window, and a positive threshold for each score).
    lasting_threshold_, lasting_background_base_, lasting_background_history_ : float, float, ndarray
        With ``lasting_``: that score's own label-free threshold and background.
    innov_coef_, innov_mean_, innov_resid_mean_, innov_resid_std_ : ndarray
        The autoregression behind :meth:`innovations`.
    """

    name = "faultgraph"

    _constraints = {"scoring": one_of(SCORES),  # "auto" among them: chosen at fit
                    "lags": Constraint(_check_lags)}

    def __init__(self, *, lags: int | Literal["auto"] = DEFAULTS.lags, method: str = "dagma",
                 lambda1: float | None = None,
                 threshold: float = DEFAULTS.threshold, prior: PriorKnowledge | None = None,
                 scoring: str = "auto", scale_floor: float = DEFAULTS.scale_floor,
                 soft_cap: float = DEFAULTS.soft_cap, holdout: float = DEFAULTS.holdout,
                 calibration: str = DEFAULTS.calibration, **kwargs: Any) -> None:
        super().__init__(scale_floor=scale_floor, soft_cap=soft_cap, holdout=holdout, calibration=calibration,
                         **kwargs)
        self.scoring = scoring
        self.lags = lags
        self.method = method
        self.lambda1 = lambda1
        self.threshold = threshold
        self.prior = prior

    def _blocks(self, X: np.ndarray, Z: np.ndarray) -> np.ndarray:
        """Encoded metrics, standardised residuals and, with the innovation score, the
        innovations (the layout of ``drift_history_`` in saved folders)."""
        if self.scoring_ == "residual+marginal+innovation":
            return np.hstack([X, Z, self.innovations_from_encoded(X)])
        return np.hstack([X, Z])

    def _unseen_deviations(self, D: np.ndarray, unseen: _Unseen | None) -> np.ndarray:
        """The fitting rows' deviations from their equations, each divided by ``1 − h`` (its
        leverage in the equation's regression): the residual the equation would have left on
        a row it had not seen (see :func:`hat_diagonal`). An equation with many parents on
        few rows fits its own rows closely; a threshold read off those residuals would sit
        below new steps' scores. (The residuals' scale stays the fitted rows': the ranking
        reads every part on it, and was measured so.)"""
        if unseen is None:
            return D
        D = D.copy()
        D[len(D) - len(unseen.factor):] *= unseen.factor
        return D

    def _training_blocks(self, X: np.ndarray, Z: np.ndarray, unseen: _Unseen | None) -> np.ndarray:
        """The fitting rows' blocks with their leave-one-out innovations (see
        :meth:`_fit_innovations`): the threshold is read on scores such as unseen steps get."""
        blocks = self._blocks(X, Z)
        if unseen is not None and unseen.innovations is not None:  # only where the score adds them
            d = X.shape[1]
            blocks[len(blocks) - len(unseen.innovations):, 2 * d:] = unseen.innovations
        return blocks

    def _score_blocks(self, blocks: np.ndarray, d: int) -> np.ndarray:
        X, Z = blocks[:, :d], blocks[:, d : 2 * d]
        score = super()._score(Z)
        if self.scoring_ != "residual":
            score = score + super()._score(X)  # X is already robust z of each metric
        if self.scoring_ == "residual+marginal+innovation":
            score = score + super()._score(blocks[:, 2 * d :])
        return score

    def _fit_model(self, X: np.ndarray) -> _Unseen:
        names = list(self.encoder_.columns_)
        self.lag_choice_: LagChoice | None = None
        if self.lags == "auto":  # the window the training rows ask for, within what the fit can do
            self.lag_choice_ = choose_lags(X, _auto_cap(X.shape[0], X.shape[1]))
            self.lags_ = self.lag_choice_.lags
        else:
            self.lags_ = int(self.lags)
        self.scoring_, self.scoring_reason_ = str(self.scoring), ""
        if self.scoring == "auto":  # the innovations where links take several steps
            lead, pairs = ((self.lag_choice_.pre_estimate, self.lag_choice_.pairs) if self.lag_choice_ is not None
                           else median_lead(X, AUTO_MAX_LAGS))
            delayed = lead >= AUTO_INNOVATION_LAG
            self.scoring_ = "residual+marginal+innovation" if delayed else "residual+marginal"
            self.scoring_reason_ = (f"{self.scoring_}: the metrics' differenced changes lead each other by a median "
                                    f"{lead} step{'' if lead == 1 else 's'} over {pairs} leading pairs "
                                    f"({'at least' if delayed else 'under'} {AUTO_INNOVATION_LAG})")
        screen = screen_reason(X.shape[0], X.shape[1], self.lags_, what="the detector's graph fit")
        if screen is None:  # why the graph is screened (faultgraph._budget.screen_reason), or None: the full solve
            check_fit(X.shape[0], X.shape[1], self.lags_, refine=False, what="the detector's graph fit")
        else:
            warnings.warn(screen, UserWarning, stacklevel=3)
        k = X.shape[1] * (self.lags_ + 1)
        self.lambda1_ = (max(0.03, float(np.sqrt(2 * np.log(max(k, 2)) / X.shape[0]))) if self.lambda1 is None
                         else float(self.lambda1))
        self.prior_ = _modelled_prior(PriorKnowledge.coerce(self.prior), names, self.encoder_.dropped_,
                                      stacklevel=4)
        learner = StructureLearner(self.method, lambda1=self.lambda1_, threshold=self.threshold,  # type: ignore[arg-type]
                                   standardize=False, prior=self.prior_, lags=self.lags_, screen=screen is not None)
        with warnings.catch_warnings():  # X is robust z already, not raw: the learner's advice does not apply
            warnings.simplefilter("ignore", DataScaleWarning)
            learner.fit(pd.DataFrame(X, columns=names))
        self.graph_: LearnedGraph = learner.graph_
        if screen is not None:  # model.json's graph.params says why
            self.graph_ = dataclasses.replace(self.graph_, params={**self.graph_.params, "screen_reason": screen})
        d, p = len(names), self.lags_
        support = np.vstack([learner.adjacency_] + list(learner.lagged_adjacency_)) != 0
        Z = lagged_design(X, p)
        self.mean_ = Z.mean(axis=0)
        Zc = Z - self.mean_
        self.coef_ = support_least_squares(Zc, support)
        factor = 1.0 / (1.0 - np.clip(support_leverage(Zc, support), 0.0, 0.99))
        if p == 0:  # the autoregression needs a past: one lag
            Z = lagged_design(X, 1)
            self.innov_mean_ = Z.mean(axis=0)
            Zc = Z - self.innov_mean_
        else:  # the design just built for the equations
            self.innov_mean_ = self.mean_
        return _Unseen(factor, self._fit_innovations(Zc, d))

    def _fit_innovations(self, Zc: np.ndarray, d: int) -> np.ndarray | None:
        """Each metric regressed on the past of every metric the prior allows as its cause
        (a vector autoregression of order ``max(lags, 1)`` on the centred lagged design
        ``Zc``, ridge ``VAR_RIDGE`` times the mean variance): what :meth:`innovations` needs.
        Returns the fitting rows' leave-one-out innovations, standardised, where the score
        adds innovations (else None)."""
        p = Zc.shape[1] // d - 1
        past, now = Zc[:, d:], Zc[:, :d]
        G = past.T @ past / len(Zc)
        C = past.T @ now / len(Zc)
        G = G + VAR_RIDGE * max(float(np.mean(np.diag(G))), 1e-12) * np.eye(G.shape[0])
        allowed = (np.tile(self.prior_.lagged_mask(list(self.encoder_.columns_)), (p, 1))
                   if self.prior_ is not None else np.ones((d * p, d), dtype=bool))
        n = len(Zc)
        scored = self.scoring_ == "residual+marginal+innovation"  # else the threshold reads no innovation
        leverage = np.zeros((n, d))  # each row's hat-matrix diagonal in each metric's regression
        if allowed.all():
            self.innov_coef_ = np.linalg.solve(G, C)
            if scored:
                leverage[:] = hat_diagonal(past, G)[:, None]
        else:  # the prior's forbidden causes, at every lag, stay out of the equations
            self.innov_coef_ = np.zeros((d * p, d))
            patterns, group = np.unique(allowed.T, axis=0, return_inverse=True)
            for k, pattern in enumerate(patterns):  # one solve per set of allowed causes (a tier, say)
                rows, cols = np.flatnonzero(pattern), np.flatnonzero(group.ravel() == k)
                if rows.size:
                    self.innov_coef_[np.ix_(rows, cols)] = np.linalg.solve(G[np.ix_(rows, rows)],
                                                                           C[np.ix_(rows, cols)])
                    if scored:
                        leverage[:, cols] = hat_diagonal(past[:, rows], G[np.ix_(rows, rows)])[:, None]
        R = now - past @ self.innov_coef_
        self.innov_resid_mean_, self.innov_resid_std_ = R.mean(axis=0), np.maximum(R.std(axis=0), 1e-12)
        # the threshold reads the leave-one-out residuals (e / (1 - h)), what the fit would have
        # left on rows it had not seen: with hundreds of past columns on a few thousand rows the
        # fitted ones are a fifth smaller, and every new step would score as an incident
        if not scored:
            return None
        loo = R / (1.0 - np.clip(leverage, 0.0, 0.99))
        return (loo - self.innov_resid_mean_) / self.innov_resid_std_

    def innovations(self, data: Any) -> np.ndarray:
        """Per step of ``data``, each metric's innovation: its value less what the past of
        all metrics predicts (the vector autoregression fitted on the training period; a
        prior's forbidden causes, tiers included, stay out of it at every lag), in
        standard deviations of the training innovations. Unlike the residuals of the
        causal graph's equations, these need no same-step edge, whose direction
        observational data often cannot tell (a reversed ``traffic → cpu`` edge makes a
        CPU fault look like a traffic fault). The first ``max(lags, 1)`` rows see copies
        of the first row as their past.

        Parameters
        ----------
        data : pandas.DataFrame or (n, d) array-like
            Steps in time order; its metrics must include the model's.

        Returns
        -------
        (n, d) ndarray of float
            The standardised innovations, columns in the order of ``encoder_.columns_``.

        Raises
        ------
        InvalidInputError
            When ``data`` lacks metrics of the model, or the model was saved without the
            autoregression (:attr:`has_innovations` is False).
        NotFittedError
            When the detector is not fitted.
        """
        self._check_fitted()
        return self.innovations_from_encoded(self.residuals(data)[0])

    @property
    def has_innovations(self) -> bool:
        """Whether the model holds the autoregression behind :meth:`innovations` (models
        saved before faultgraph kept it do not)."""
        return hasattr(self, "innov_coef_")

    def innovations_from_encoded(self, X: np.ndarray) -> np.ndarray:
        """:meth:`innovations` from metrics already encoded (the ``X`` of :meth:`residuals`).

        Parameters
        ----------
        X : (n, d) ndarray of float
            Encoded metrics in time order, columns in the order of ``encoder_.columns_``.

        Returns
        -------
        (n, d) ndarray of float
            The standardised innovations.

        Raises
        ------
        InvalidInputError
            When the model was saved without the autoregression (:attr:`has_innovations`
            is False).
        """
        if not self.has_innovations:
            raise InvalidInputError("this model was saved before faultgraph kept innovations; fit it again, "
                                    "or rank with a method without them (--method causal+nsigma)")
        d, p = X.shape[1], max(self.lags_, 1)
        Zc = _padded_design(X, p) - self.innov_mean_
        R = Zc[:, :d] - Zc[:, d:] @ self.innov_coef_
        return (R - self.innov_resid_mean_) / self.innov_resid_std_

    # --- saving -------------------------------------------------------------------------

    _PARAMS = ("lags", "method", "lambda1", "threshold", "scoring", "combine", "smooth", "drift_window",
               "background_window", "threshold_method", "risk", "quantile", "max_gap", "scale_floor", "soft_cap",
               "holdout", "calibration", "lasting")

    def save(self, path: Any) -> Any:
        """Write the model folder (``model.json`` + ``arrays.npz``, atomically).

        With ``lags="auto"``, ``params.lags`` holds the window chosen (so a faultgraph from
        before ``"auto"`` reads the folder and scores as this one does) and ``lag_choice``
        the :class:`~faultgraph.encode.lags.LagChoice` (``to_dict``), from which
        :meth:`load` restores ``lags="auto"`` and ``lag_choice_``; likewise with
        ``scoring="auto"``, ``params.scoring`` and ``scoring_choice``.

        Parameters
        ----------
        path : str or pathlib.Path
            The folder, created if needed (:func:`faultgraph.io.model.save_model_dir`).

        Returns
        -------
        pathlib.Path
            What :func:`~faultgraph.io.model.save_model_dir` returns: the folder written.

        Raises
        ------
        NotFittedError
            When the detector is not fitted.
        """
        self._check_fitted()
        graph = self.graph_.to_dict()
        meta = {"task": TASK, "params": {**{k: getattr(self, k) for k in self._PARAMS}, "lags": int(self.lags_),
                                             "scoring": self.scoring_},
                "metrics": list(self.encoder_.columns_), "encoder": self.encoder_.to_dict(),
                "prior": self.prior_.to_dict() if self.prior_ is not None else None,
                "graph": {k: graph[k] for k in ("nodes", "method", "params", "elapsed_s")},
                "decision_threshold": float(self.threshold_), "background_base": self.background_base_,
                "flagged": dict(self.flagged_), "holdout_rows": int(self.holdout_rows_)}
        if self.lasting_:  # the score without the drift adjustment: its threshold and background
            meta["lasting"] = {"threshold": self.lasting_threshold_, "background_base": self.lasting_background_base_}
        if self.lag_choice_ is not None:  # lags="auto": the window chosen and why
            meta["lag_choice"] = self.lag_choice_.to_dict()
        if self.scoring == "auto":  # params.scoring is the score chosen; this says why
            meta["scoring_choice"] = {"scoring": self.scoring_, "reason": self.scoring_reason_}
        arrays = {"coef": self.coef_, "mean": self.mean_, "center": self.center_, "scale": self.scale_,
                  "train_mean": self.train_mean_, "train_std": self.train_std_,
                  "resid_mean": self.resid_mean_, "resid_std": self.resid_std_,
                  "train_scores": self.train_scores_, "drift_history": self.drift_history_,
                  "background_history": self.background_history_,
                  **({"lasting_background_history": self.lasting_background_history_} if self.lasting_ else {}),
                  "graph/adjacency": self.graph_.adjacency,
                  "graph/lagged": self.graph_.lagged if self.graph_.lagged is not None else np.zeros((0,) * 3)}
        if self.calibration_ is not None:
            c = self.calibration_
            arrays.update({"calib_levels": c.levels_, "calib_quantiles": c.quantiles_,
                           # npz arrays must be finite: load() reads the largest float back as inf
                           "calib_slope": np.minimum(c.slope_, np.finfo(float).max),
                           "calib_cap": np.array([min(c.cap_, np.finfo(float).max)])})
        if self.has_innovations:  # a folder from before innovations were kept is saved as it came
            arrays.update({"innov_coef": self.innov_coef_, "innov_mean": self.innov_mean_,
                           "innov_resid_mean": self.innov_resid_mean_, "innov_resid_std": self.innov_resid_std_})
        return save_model_dir(path, meta, arrays)

    @classmethod
    def load(cls, path: Any) -> CausalDetector:
        """Read a model folder written by :meth:`save`.

        Older layouts are upgraded on reading (:mod:`faultgraph.io.migrations`); parameters
        added since mean what those folders scored with, and folders from before
        innovations were kept load without them.

        Parameters
        ----------
        path : str or pathlib.Path
            The model folder.

        Returns
        -------
        CausalDetector
            The fitted detector.

        Raises
        ------
        InvalidInputError
            When the folder is not a readable model of this task, or its metadata or arrays
            are missing, of the wrong shape or hold NaN or infinite values (the message
            names what is wrong).
        """
        meta, arrays = load_model_dir(path, task=TASK)
        try:
            # older layouts are upgraded on reading (faultgraph.io.migrations); parameters added
            # since are absent from older folders and mean there what those folders scored with
            det = cls(**detector_params(meta["params"]))
            try:  # a damaged value (null, text, out of range) is named here, not deep in scoring
                det.validate_params()
            except InvalidInputError as exc:
                raise ValueError(f"params.{exc}") from None
            det.flagged_ = {str(k): str(v) for k, v in meta.get("flagged", {}).items()}
            det.holdout_rows_ = int(meta.get("holdout_rows", 0))
            if isinstance(det.lags, bool) or not isinstance(det.lags, int) or det.lags < 0:
                raise ValueError(f"params.lags must be a whole number >= 0, got {det.lags!r}")
            det.lags_, det.lag_choice_ = det.lags, None
            if meta.get("lag_choice") is not None:  # fitted with lags="auto": params.lags is the window chosen
                det.lag_choice_ = LagChoice.from_dict(meta["lag_choice"])
                if det.lag_choice_.lags != det.lags_:
                    raise ValueError(f"lag_choice.lags is {det.lag_choice_.lags} but params.lags is {det.lags_}")
                det.lags = "auto"
            det.scoring_, det.scoring_reason_ = str(det.scoring), ""
            if meta.get("scoring_choice") is not None:  # fitted with scoring="auto": params.scoring is the choice
                det.scoring_reason_ = str(meta["scoring_choice"]["reason"])
                det.scoring = "auto"
            det.prior = det.prior_ = (PriorKnowledge.from_dict(meta["prior"], where=f"model {str(path)!r} prior")
                                      if meta.get("prior") is not None else None)
            det.encoder_ = MetricEncoder.from_dict(meta["encoder"])
            g = meta["graph"]
            lagged = arrays["graph/lagged"]
            det.lambda1_ = float(g["params"]["lambda1"])
            det.graph_ = LearnedGraph(nodes=tuple(g["nodes"]), adjacency=arrays["graph/adjacency"],
                                      method=g["method"], params=g["params"], elapsed_s=g["elapsed_s"],
                                      lagged=lagged if lagged.size else None)
            det.coef_, det.mean_ = arrays["coef"], arrays["mean"]
            det.center_, det.scale_ = arrays["center"], arrays["scale"]
            det.train_mean_, det.train_std_ = arrays["train_mean"], arrays["train_std"]
            det.resid_mean_, det.resid_std_ = arrays["resid_mean"], arrays["resid_std"]
            det.train_scores_ = arrays["train_scores"]
            for key in ("innov_coef", "innov_mean", "innov_resid_mean", "innov_resid_std"):
                if key in arrays:  # absent from folders written before innovations existed
                    setattr(det, key + "_", arrays[key])
            det.drift_history_ = arrays["drift_history"]
            det.calibration_ = None
            if "calib_levels" in arrays:
                big = np.finfo(float).max  # save() writes an infinite slope or cap (no spread, no cap) as this
                slope, cap = arrays["calib_slope"], float(arrays["calib_cap"][0])
                det.calibration_ = TailCalibration.from_arrays(arrays["calib_levels"], arrays["calib_quantiles"],
                                                               np.where(slope >= big, np.inf, slope),
                                                               np.inf if cap >= big else cap,
                                                               _CALIBRATION_KINDS[det.calibration][0])
            elif det.calibration != "off":  # a folder from before calibration existed scored without it
                det.calibration = "off"
            det.background_base_ = float(meta.get("background_base", 0.0))
            det.background_history_ = arrays.get("background_history", np.zeros(0))
            det.threshold_ = float(meta["decision_threshold"])
            det.lasting_ = meta.get("lasting") is not None
            if det.lasting_ and det.lasting is not True:
                raise ValueError(f"params.lasting is {det.lasting!r} but the folder holds a lasting score")
            if det.lasting_:
                det.lasting_threshold_ = float(meta["lasting"]["threshold"])
                det.lasting_background_base_ = float(meta["lasting"]["background_base"])
                det.lasting_background_history_ = arrays["lasting_background_history"]
                if not (np.isfinite(det.lasting_threshold_) and det.lasting_threshold_ > 0):
                    raise ValueError(f"lasting.threshold is {det.lasting_threshold_} (expected a number > 0)")
                if not np.isfinite(det.lasting_background_base_):
                    raise ValueError(f"lasting.background_base is {det.lasting_background_base_}")
            d = len(det.encoder_.columns_)
            shapes = {"graph/adjacency": (det.graph_.adjacency.shape, (d, d)), "center": (det.center_.shape, (d,)),
                      "scale": (det.scale_.shape, (d,)), "train_std": (det.train_std_.shape, (d,)),
                      "resid_std": (det.resid_std_.shape, (d,)),
                      "coef": (det.coef_.shape, (d * (det.lags_ + 1), d)),
                      "mean": (det.mean_.shape, (d * (det.lags_ + 1),)),
                      "graph/lagged": (lagged.shape, (det.lags_, d, d)) if det.lags_ else ((lagged.size,), (0,))}
            histories = {"background_history": det.background_history_}
            if det.lasting_:
                histories["lasting_background_history"] = det.lasting_background_history_
            wrong = [f"{k} {got} (expected {want})" for k, (got, want) in shapes.items() if got != want]
            wrong += [f"{k} has shape {a.shape} (expected one value per step)" for k, a in histories.items()
                      if a.ndim != 1]
            wrong += [f"graph.nodes holds {len(det.graph_.nodes)} names for {d} metrics"] * (len(det.graph_.nodes) != d)
            wrong += [f"decision_threshold is {det.threshold_}"] * (not (np.isfinite(det.threshold_)
                                                                          and det.threshold_ >= 0))
            wrong += [f"background_base is {det.background_base_}"] * (not (np.isfinite(det.background_base_)
                                                                             and det.background_base_ >= 0))
            bad = [k for k, a in arrays.items() if a.dtype.kind == "f" and not np.isfinite(a).all()]
            if wrong or bad:
                raise ValueError("; ".join(wrong + [f"{k} holds NaN or infinite values" for k in bad]))
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise damaged(path, exc) from None
        return det

    def _deviations(self, X: np.ndarray) -> np.ndarray:
        return equation_deviations(X, self.lags_, self.mean_, self.coef_)


class NSigmaDetector(Detector):
    """Baseline: how many (robust) standard deviations each metric is from its training
    median; with ``combine="max"`` this is the classic N-sigma rule."""

    name = "n-sigma"

    def _fit_model(self, X: np.ndarray) -> None:
        pass

    def _deviations(self, X: np.ndarray) -> np.ndarray:
        return X


class PCADetector(Detector):
    """Baseline: PCA reconstruction error, keeping the components that explain
    ``variance`` of the training variance."""

    name = "pca"

    def __init__(self, *, variance: float = 0.9, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.variance = variance

    def _fit_model(self, X: np.ndarray) -> None:
        if not 0 < self.variance <= 1:
            raise InvalidInputError(f"variance must lie in (0, 1], got {self.variance!r}")
        self.mean_ = X.mean(axis=0)
        _, sv, Vt = np.linalg.svd(X - self.mean_, full_matrices=False)
        share = np.cumsum(sv**2) / np.sum(sv**2)
        k = int(np.searchsorted(share, self.variance) + 1)
        if k >= X.shape[1]:
            raise InvalidInputError(
                f"PCA keeps all {X.shape[1]} component(s) of {X.shape[1]} metric(s) at variance={self.variance}: "
                "every reconstruction error would be 0; give it more metrics or a lower variance")
        self.components_ = Vt[:k]

    def _deviations(self, X: np.ndarray) -> np.ndarray:
        Xc = X - self.mean_
        return Xc - (Xc @ self.components_.T) @ self.components_


class RandomDetector(Detector):
    """Baseline: uniform random scores (what chance gets on every metric)."""

    name = "random"

    def __init__(self, *, random_state: int | np.random.Generator | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.random_state = random_state

    def _fit_model(self, X: np.ndarray) -> None:
        self._rng = as_generator(self.random_state)

    def _deviations(self, X: np.ndarray) -> np.ndarray:
        return self._rng.normal(size=X.shape)
