"""Encoding metrics into the causal candidate space: clean, fill, scale.

:class:`MetricEncoder` is fitted on one window (normally a healthy period) and applied
to another, so that an incident is measured in the units of normal behaviour:

1. drop metrics that are constant or entirely missing in the fitting window (and
   say which, in ``dropped_``);
2. fill gaps of at most ``max_gap`` consecutive missing steps by linear interpolation
   (at the ends: the nearest value); longer gaps raise ``InvalidInputError``;
3. scale robustly: ``(x − median) / scale`` with ``scale = IQR / 1.349`` (the standard
   deviation of a normal distribution with that IQR); where the IQR is below
   ``min_scale`` times the standard deviation (a metric that is nearly always the same
   value, such as an error count), the standard deviation is used instead.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from faultgraph.config import DEFAULTS
from faultgraph._validation import (Constraint, FittedAttributes, check_magnitude, describe_names,
                                   duplicated, nonnegative, whole)
from faultgraph.encode.align import index_step, same_step
from faultgraph.errors import InvalidInputError, NotFittedError, SamplingWarning

__all__ = ["MetricEncoder", "constant_moves", "fill_gaps", "robust_center_scale"]

_IQR_TO_SIGMA = 1.349
#: Spreads below this share of a metric's largest |value| are floating-point rounding of a
#: constant (float64 resolves 1e-16), not variation: :func:`robust_center_scale` scales them by 1.
RESOLUTION = 1e-12


def _check_scale(name: str, value: Any) -> str | None:
    """``scale`` is ``"robust"``, ``"standard"`` or ``None``."""
    if value not in ("robust", "standard", None):
        raise InvalidInputError(f"{name} must be 'robust', 'standard' or None, got {value!r}")
    return value


def _as_frame(data: Any, name: str) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        frame = data.copy()
        frame.columns = [str(c) for c in frame.columns]
    else:
        try:
            arr = np.asarray(data)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"{name} must be a DataFrame or a 2-D array of numbers ({exc})") from None
        if arr.ndim != 2:
            raise InvalidInputError(f"{name} must be 2-D (time steps x metrics), got shape {arr.shape}")
        frame = pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise InvalidInputError(f"{name} is empty: shape {frame.shape}")
    names = list(frame.columns)
    dup = duplicated(names)
    if dup:
        raise InvalidInputError(f"{name} has duplicate metric names: {describe_names(dup)}")
    bad = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])
           or pd.api.types.is_complex_dtype(frame[c])]
    if bad:
        raise InvalidInputError(f"{name} has non-numeric columns: {describe_names(bad)}; metrics must be real numbers")
    frame = frame.astype(np.float64)
    inf = [c for c in frame.columns if np.isinf(frame[c].to_numpy()).any()]
    if inf:
        raise InvalidInputError(f"{name} has infinite values in {describe_names(inf)}")
    check_magnitude(frame.to_numpy(), list(frame.columns), name)
    return frame


def robust_center_scale(values: np.ndarray, min_scale: float = 1e-8, *,
                        relative: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Per column: a robust centre (the median) and scale.

    The scale is ``IQR / 1.349`` (the standard deviation of a normal distribution with that
    IQR). Without ``relative`` it gives way to the standard deviation where it is below
    ``min_scale`` (a nearly constant metric), and to 1 where that is below ``min_scale``
    too. With ``relative``, units do not matter: the IQR gives way to the standard
    deviation where it is below ``min_scale`` times it (a metric nearly always at one
    value, such as an error count) or at most :data:`RESOLUTION` times the column's
    largest |value|, and 1 is used only where the standard deviation is itself at most that
    resolution (rounding noise of a constant).

    Parameters
    ----------
    values : (n, d) ndarray of float
        Rows are time steps, columns metrics; no NaN.
    min_scale : float, default 1e-8
        The floor: absolute (in the metric's units) without ``relative``, a share of the
        standard deviation with it.
    relative : bool, default False
        Whether ``min_scale`` is relative to each column's standard deviation.

    Returns
    -------
    tuple of ((d,) ndarray, (d,) ndarray)
        The centres and the scales; every scale is > 0.
    """
    center = np.median(values, axis=0)
    q75, q25 = np.percentile(values, [75, 25], axis=0)
    scale = (q75 - q25) / _IQR_TO_SIGMA
    std = values.std(axis=0)
    if relative:
        resolution = RESOLUTION * np.abs(values).max(axis=0, initial=0.0)
        scale = np.where((scale < min_scale * std) | (scale <= resolution), std, scale)
        return center, np.where(scale <= resolution, 1.0, scale)
    scale = np.where(scale < min_scale, std, scale)
    return center, np.where(scale < min_scale, 1.0, scale)


def constant_moves(departures: np.ndarray, values: np.ndarray, base: np.ndarray | float = 0.0) -> np.ndarray:
    """Where metrics that held one value in training have left it.

    A departure counts when it is beyond ``1e-9 · max(1, |value|)`` of 0 and of ``base``
    (a recent median, say: a constant that moved for good before is its new normal). A
    missing value is no move.

    Parameters
    ----------
    departures : (n, k) ndarray of float
        Steps by metrics, each metric's value less its training constant (from
        :meth:`MetricEncoder.departures`); NaN where missing.
    values : (k,) array-like of float
        The training constants, which set the tolerance.
    base : (k,) ndarray or float, default 0.0
        A departure level that is no longer news.

    Returns
    -------
    (n, k) ndarray of bool
        True where the metric has moved.
    """
    tolerance = 1e-9 * np.maximum(1.0, np.abs(np.asarray(values, dtype=float)))
    with np.errstate(invalid="ignore"):  # NaN compares as False
        return (np.abs(departures - base) > tolerance) & (np.abs(departures) > tolerance)


#: Above this share of rows that hold some metrics but not all (as separately scraped
#: series joined on their timestamps do), a gap error suggests aligning them first.
ASYNC_PARTIAL_ROWS = 0.8


def fill_gaps(frame: pd.DataFrame, max_gap: int, *, name: str = "data") -> pd.DataFrame:
    """Fill runs of at most ``max_gap`` missing values; raise if a longer run remains.

    Interior gaps are interpolated linearly in row order; leading and trailing gaps take
    the nearest observed value.

    Parameters
    ----------
    frame : DataFrame
        Steps by metrics, NaN where missing. Not modified.
    max_gap : int
        The longest run of consecutive missing steps that may be filled.
    name : str, default "data"
        What ``frame`` is called in error messages.

    Returns
    -------
    DataFrame
        A new frame without NaN.

    Raises
    ------
    InvalidInputError
        When a metric has no value at all, or a run of missing values is longer than
        ``max_gap`` (the message suggests aligning asynchronous scrapes first when most rows
        hold only some metrics).
    """
    if frame.notna().all().all():
        return frame.copy()
    empty = [str(c) for c in frame.columns if frame[c].isna().all()]
    if empty:
        raise InvalidInputError(
            f"{name} has no value at all for {describe_names(empty)}: there is nothing to fill the gap from; "
            "supply those metrics, or drop them (and refit a model that had them)"
        )
    too_long = {c: n for c in frame.columns if (n := _longest_nan_run(frame[c].to_numpy())) > max_gap}
    if too_long:
        worst = sorted(too_long.items(), key=lambda kv: -kv[1])
        detail = ", ".join(f"{c!r} ({n} steps)" for c, n in worst[:5])
        hint = ""
        missing = frame.isna().to_numpy()
        partial = missing.any(axis=1) & ~missing.all(axis=1)
        if float(partial.mean()) > ASYNC_PARTIAL_ROWS:
            hint = ("; most rows hold only some metrics, as asynchronous scrapes do: put them on one grid first "
                    "(`--resample STEP`, faultgraph.encode.align)")
        raise InvalidInputError(
            f"{name} has gaps longer than max_gap={max_gap} steps that cannot be filled: {detail}; "
            f"raise max_gap (a fitted model keeps its own: fit it again with a larger --max-gap, max_gap=), "
            f"drop those rows, or drop those metrics{hint}"
        )
    return frame.interpolate(method="linear", limit_area="inside").bfill().ffill()


def _longest_nan_run(values: np.ndarray) -> int:
    missing = np.concatenate([[0], np.isnan(values).astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(missing))
    return int((edges[1::2] - edges[::2]).max()) if edges.size else 0


class MetricEncoder(FittedAttributes):
    """Drop dead metrics, fill short gaps and scale robustly; fit on one window, apply to another.

    Parameters
    ----------
    max_gap : int, default ``DEFAULTS.max_gap``
        Longest run of missing steps filled; an integer ``>= 0``.
    scale : {"robust", "standard", None}, default "robust"
        ``"robust"`` (median and ``IQR / 1.349``, see :func:`robust_center_scale`),
        ``"standard"`` (mean and standard deviation) or None (no scaling).
    min_scale : float, default 1e-8
        Where the IQR-based scale is below this share of the standard deviation (a metric
        nearly always at one value), the standard deviation is used; both are in the
        metric's units, so the same metrics in other units scale the same. ``>= 0``.

    Attributes
    ----------
    columns_ : list of str
        The metrics kept, in order.
    dropped_ : dict of str to str
        ``{metric: reason}`` for metrics dropped at fit.
    constants_ : dict of str to float
        ``{metric: value}`` for the metrics dropped as constant: the one value each held
        (:meth:`departures` tells when new data leave it).
    center_, scale_ : pandas.Series
        Per kept metric.
    step_ : float or None
        The step of the fitting data's time index in seconds (:func:`~faultgraph.encode.align.index_step`;
        None without times). Lags and windows count rows, so data at another step mean
        other durations: :meth:`transform` warns.
    """

    def __init__(self, *, max_gap: int = DEFAULTS.max_gap, scale: str | None = "robust", min_scale: float = 1e-8) -> None:
        self.max_gap = max_gap
        self.scale = scale
        self.min_scale = min_scale

    _constraints = {
        "max_gap": whole(0, kind="an integer >= 0"),
        "scale": Constraint(_check_scale),
        "min_scale": nonnegative(),
    }

    def _check_params(self) -> None:
        self.validate_params()

    def fit(self, data: Any) -> MetricEncoder:
        """Learn which metrics to keep and their centre and scale from ``data``.

        Drops metrics that are entirely missing, observed once, or constant (``dropped_``),
        fills gaps of at most ``max_gap`` steps and computes the centre and scale of the rest.

        Parameters
        ----------
        data : DataFrame or (n, d) array-like
            Steps by metrics, normally a healthy period; an array's columns are named
            ``x0, x1, …``. Numeric, finite or NaN, unique column names. Not modified.

        Returns
        -------
        MetricEncoder
            ``self``, fitted.

        Raises
        ------
        InvalidInputError
            When the parameters are out of range, ``data`` is empty, not 2-D, has duplicate
            or non-numeric columns or infinite values, no metric is usable, or a gap is longer
            than ``max_gap``.
        """
        self._check_params()
        frame = _as_frame(data, "data")
        dropped: dict[str, str] = {}
        for c in frame.columns:
            col = frame[c]
            if col.isna().all():
                dropped[c] = "all values missing"
            elif col.notna().sum() == 1 and len(col) > 1:
                dropped[c] = "one value observed, the rest missing"
            elif col.nunique(dropna=True) <= 1:
                dropped[c] = "constant"
        kept = [c for c in frame.columns if c not in dropped]
        if not kept and len(frame) < 2:  # one row: every metric looks constant; say why
            raise InvalidInputError(
                f"data has {len(frame)} row{'' if len(frame) == 1 else 's'} ({frame.shape[1]} metrics): a metric "
                "needs at least 2 rows to vary, and a model far more (a healthy day or week of steps); after "
                "resampling (--resample), a step as long as the data's span leaves one row: use a shorter step")
        if not kept:
            raise InvalidInputError(f"data has no usable metric: all {frame.shape[1]} are constant or missing")
        filled = fill_gaps(frame[kept], int(self.max_gap), name="data")
        if self.scale == "robust":
            c, sc = robust_center_scale(filled.to_numpy(), float(self.min_scale), relative=True)
            center, scale = pd.Series(c, index=kept), pd.Series(sc, index=kept)
        elif self.scale == "standard":
            center, scale = filled.mean(), filled.std(ddof=0)
        else:
            center, scale = pd.Series(0.0, index=kept), pd.Series(1.0, index=kept)
        self.columns_ = kept
        self.dropped_ = dropped
        self.constants_ = {c: float(frame[c].dropna().iloc[0]) for c, why in dropped.items() if why == "constant"}
        self.center_ = center.astype(float)
        self.scale_ = scale.astype(float)
        self.step_ = index_step(frame.index)
        return self

    def transform(self, data: Any) -> pd.DataFrame:
        """Select, fill and scale ``data`` with what ``fit`` learned.

        Parameters
        ----------
        data : DataFrame or (n, d) array-like
            Steps by metrics; must hold every metric in ``columns_`` (others are ignored).

        Returns
        -------
        DataFrame
            A new frame, columns ``columns_``, values ``(x − center_) / scale_``.

        Raises
        ------
        NotFittedError
            When the encoder is not fitted.
        InvalidInputError
            When ``data`` lacks fitted metrics, is malformed as in :meth:`fit`, or has a gap
            longer than ``max_gap``.

        Warns
        -----
        SamplingWarning
            When ``data`` (3 rows or more, on a time index) is at another step than the
            fitting data (``step_``): resample it (:func:`~faultgraph.encode.align`).
        """
        if not hasattr(self, "columns_"):
            raise NotFittedError("this MetricEncoder is not fitted yet; call fit(data) first")
        frame = _as_frame(data, "data")
        step = index_step(frame.index) if len(frame) >= 3 else None
        if not same_step(getattr(self, "step_", None), step):
            warnings.warn(f"data's rows are {step:g} s apart, but the encoder was fitted on rows {self.step_:g} s "
                          "apart: lags and windows count rows, so they now mean other durations; put data on the "
                          f"fitted step (faultgraph.encode.align(data, {self.step_:g}), --resample {self.step_:g}s)",
                          SamplingWarning, stacklevel=2)
        missing = [c for c in self.columns_ if c not in frame.columns]
        if missing:
            raise InvalidInputError(
                f"data lacks {len(missing)} metrics the encoder was fitted on: {', '.join(map(repr, missing[:8]))}"
            )
        filled = fill_gaps(frame[self.columns_], int(self.max_gap), name="data")
        return (filled - self.center_) / self.scale_

    def departures(self, data: pd.DataFrame) -> pd.DataFrame:
        """For each metric that was constant at fit and is a column of ``data``: its value less that constant.

        A metric that never moved in the fitting window has no scale to score it on, so it is
        not in :meth:`transform`'s output; any departure is news. Only those columns are read
        (and checked).

        Parameters
        ----------
        data : DataFrame
            Steps by metrics, with metric names as columns.

        Returns
        -------
        DataFrame
            One column per constant metric present in ``data`` (none: an empty frame on
            ``data``'s index); missing values stay missing.

        Raises
        ------
        NotFittedError
            When the encoder is not fitted.
        InvalidInputError
            When ``data`` is not a DataFrame or those columns are malformed.
        """
        if not hasattr(self, "columns_"):
            raise NotFittedError("this MetricEncoder is not fitted yet; call fit(data) first")
        if not isinstance(data, pd.DataFrame):
            raise InvalidInputError(f"data must be a DataFrame with metric names, got {type(data).__name__}")
        present = [c for c in self.constants_ if c in data.columns]
        if not present:
            return pd.DataFrame(index=data.index)
        values = pd.Series({c: self.constants_[c] for c in present}, dtype=float)
        return _as_frame(data[present], "data") - values

    def fit_transform(self, data: Any) -> pd.DataFrame:
        """``fit(data)`` then ``transform(data)``.

        Parameters
        ----------
        data : DataFrame or (n, d) array-like
            Steps by metrics, as for :meth:`fit`.

        Returns
        -------
        DataFrame
            The encoded ``data``.

        Raises
        ------
        InvalidInputError
            As :meth:`fit`.
        """
        return self.fit(data).transform(data)

    def to_dict(self) -> dict[str, Any]:
        """The fitted parameters as plain JSON-ready values (for saving a model)."""
        if not hasattr(self, "columns_"):
            raise NotFittedError("this MetricEncoder is not fitted yet; call fit(data) first")
        return {
            "max_gap": int(self.max_gap), "scale": self.scale, "min_scale": float(self.min_scale),
            "columns": list(self.columns_), "dropped": dict(self.dropped_),
            "constants": {k: float(v) for k, v in self.constants_.items()},
            "center": [float(v) for v in self.center_], "scale_values": [float(v) for v in self.scale_],
            "step_seconds": None if getattr(self, "step_", None) is None else float(self.step_),
        }

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> MetricEncoder:
        """Rebuild a fitted encoder from :meth:`to_dict`'s output.

        Parameters
        ----------
        spec : dict
            The output of :meth:`to_dict` (``constants`` and ``step_seconds`` may be absent,
            from folders saved before they were kept).

        Returns
        -------
        MetricEncoder
            A fitted encoder.

        Raises
        ------
        InvalidInputError
            When ``spec`` lacks a key or holds a value of the wrong type.
        """
        try:
            enc = cls(max_gap=int(spec["max_gap"]), scale=spec["scale"], min_scale=float(spec["min_scale"]))
            enc.columns_ = [str(c) for c in spec["columns"]]
            enc.dropped_ = {str(k): str(v) for k, v in spec["dropped"].items()}
            # folders saved before faultgraph kept the constants' values: none to watch
            enc.constants_ = {str(k): float(v) for k, v in spec.get("constants", {}).items()}
            enc.center_ = pd.Series([float(v) for v in spec["center"]], index=enc.columns_)
            enc.scale_ = pd.Series([float(v) for v in spec["scale_values"]], index=enc.columns_)
            step = spec.get("step_seconds")  # folders saved before faultgraph kept the step: unknown
            enc.step_ = None if step is None else float(step)
            if enc.step_ is not None and not (np.isfinite(enc.step_) and enc.step_ > 0):
                raise ValueError(f"step_seconds must be a number of seconds > 0, got {step!r}")
            if enc.max_gap < 0:
                raise ValueError(f"max_gap must be a whole number >= 0, got {enc.max_gap}")
            bad = [c for c in enc.columns_ if not (np.isfinite(enc.scale_[c]) and enc.scale_[c] > 0)]
            bad += [c for c in enc.columns_ if not np.isfinite(enc.center_[c]) and c not in bad]
            if bad:  # a scale of 0 divides every value into NaN or infinity: no score, no alarm
                raise ValueError(f"scale_values and center must be finite (scales > 0); not so for "
                                 f"{', '.join(map(repr, bad[:5]))}")
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"encoder parameters are damaged: {exc!r}") from None
        return enc
