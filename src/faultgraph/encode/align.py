"""Aligning asynchronous metrics on one time grid.

Scrapes of different services arrive at different moments, some late, some missing.
:func:`align` puts every metric on a common grid of step ``step``:

* ``method="previous"`` (default): the last value observed at or before each grid time:
  causal, it never uses a value from the future, so it is safe for online detection;
* ``method="linear"``: linear interpolation in time between the neighbouring samples
  (uses the next sample too: fine for offline analysis, not for live scoring).

A grid time farther than ``max_gap`` from the last (and, for ``"linear"``, the next)
sample of a metric stays missing, so long outages are not papered over.

**Late samples** (``late="drop"``, default). A scraper that reads a metric once a step does
so at a fixed phase within the step; a sample that arrives late and is stamped on arrival
lands off that phase and carries a stale value, which the ``"previous"`` rule would take
for the newest one. :func:`late_samples` finds them: where a metric's median interval
between samples is the grid step (within :data:`PHASE_TOLERANCE` of it) and at least
:data:`MIN_ON_PHASE` of its samples share one phase (within ``PHASE_TOLERANCE`` of a
step), the samples off that phase are late and are dropped before aligning; the grid time
then holds the last on-phase sample. Metrics sampled at another rate, or at irregular
times, are left as they are. ``late="keep"`` uses every sample.

On a time index a step or gap may be a duration (``"1min"``, ``"30s"``) or a bare number of
seconds (``60``, ``"60"``): files with Unix-second times are read as dates.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from faultgraph._validation import check_choice
from faultgraph.errors import InvalidInputError

__all__ = ["align", "check_step", "index_step", "late_samples", "same_step"]

#: The most grid times :func:`align` builds (each metric takes 8 bytes a grid time).
MAX_GRID_POINTS = 10_000_000
#: How far (a share of the step) a sample's phase, or a metric's median interval, may be
#: from the metric's own phase, or from the step, and still count as on it.
PHASE_TOLERANCE = 0.02
#: The share of a metric's samples that must share one phase for the others to count as late.
MIN_ON_PHASE = 0.5
#: How far (a share) two median spacings may be apart and still be one step (:func:`same_step`).
STEP_TOLERANCE = 0.1


def index_step(index: pd.Index) -> float | None:
    """The step of a time index: the median spacing of consecutive times, in seconds.

    Parameters
    ----------
    index : pandas.Index
        A frame's index.

    Returns
    -------
    float or None
        Seconds, > 0; None for an index of no times (row numbers, a numeric time column) or
        with fewer than 2 distinct times. Missing times (NaT) are skipped and the times
        sorted first.
    """
    if not isinstance(index, pd.DatetimeIndex) or len(index) < 2:
        return None
    times = index.dropna()
    gaps = np.diff(np.sort(times.as_unit("ns").asi8))
    gaps = gaps[gaps > 0]
    return float(np.median(gaps)) / 1e9 if gaps.size else None


def same_step(a: float | None, b: float | None, tolerance: float = STEP_TOLERANCE) -> bool:
    """Whether two steps (seconds) are one: either unknown, or within ``tolerance`` of the
    larger.

    Parameters
    ----------
    a, b : float or None
        Steps, as :func:`index_step` gives them.
    tolerance : float, default :data:`STEP_TOLERANCE`
        The share of the larger step they may differ by.

    Returns
    -------
    bool
    """
    if a is None or b is None:
        return True
    return abs(a - b) <= tolerance * max(a, b)


def late_samples(times: np.ndarray, step: float, *, tolerance: float = PHASE_TOLERANCE) -> np.ndarray:
    """Which samples of one metric arrived off its scrape phase (late, stamped on arrival).

    The metric counts as scraped once a step when the median interval between its
    samples is within ``tolerance · step`` of ``step``; its phase is the most common
    ``(t − t₀) / step mod 1`` (in bins of ``tolerance``, refined to the median phase in
    the bin). When at least :data:`MIN_ON_PHASE` of the samples lie within
    ``tolerance`` of that phase (circular distance), the rest are late. See the module
    docstring.

    Parameters
    ----------
    times : (n,) ndarray of float
        The metric's sample times, sorted, in the units of ``step``.
    step : float
        The grid step, > 0.
    tolerance : float, default ``PHASE_TOLERANCE``
        A share of the step in ``(0, 0.5)``.

    Returns
    -------
    (n,) ndarray of bool
        True for the samples off the metric's phase; all False when the metric is not
        scraped once a step at one phase (or has fewer than 3 samples).

    Raises
    ------
    InvalidInputError
        When ``step`` is not > 0 or ``tolerance`` is not in ``(0, 0.5)``.
    """
    t = np.asarray(times, dtype=np.float64)
    if not (np.isfinite(step) and step > 0):
        raise InvalidInputError(f"step must be a finite number > 0, got {step!r}")
    if not 0 < tolerance < 0.5:
        raise InvalidInputError(f"tolerance must be a share of the step in (0, 0.5), got {tolerance!r}")
    late = np.zeros(t.size, dtype=bool)
    if t.size < 3 or abs(float(np.median(np.diff(t))) - step) > tolerance * step:
        return late
    phase = np.mod((t - t[0]) / step, 1.0)
    n_bins = int(np.ceil(1.0 / tolerance))
    bins = np.minimum((phase * n_bins).astype(int), n_bins - 1)
    mode = int(np.bincount(bins, minlength=n_bins).argmax())
    centre = float(np.median(phase[bins == mode]))
    distance = np.abs(np.mod(phase - centre + 0.5, 1.0) - 0.5)
    on = distance <= tolerance
    if on.mean() < MIN_ON_PHASE:
        return late
    return ~on


def _seconds(value: object) -> float | None:
    """``value`` as a number of seconds when it is a bare number or numeric text, else None."""
    if isinstance(value, (bool, np.bool_, np.timedelta64)):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _as_timedelta(value: str | pd.Timedelta | float, name: str, numeric: bool) -> pd.Timedelta | float:
    if isinstance(value, (bool, np.bool_)):
        raise InvalidInputError(f"{name} must be a duration or a number, got {value!r}")
    if numeric:
        try:
            out = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise InvalidInputError(f"{name} must be a number of index units for a numeric index, got {value!r}"
                                    ) from None
        if not (out > 0 and np.isfinite(out)):
            raise InvalidInputError(f"{name} must be a finite number > 0, got {value!r}")
        return out
    seconds = _seconds(value)  # a bare number on a time index is seconds, not pandas' nanoseconds
    try:
        out = pd.Timedelta(value) if seconds is None else pd.Timedelta(seconds=seconds)
    except (TypeError, ValueError, OverflowError):
        out = pd.NaT
    if out is pd.NaT:
        raise InvalidInputError(
            f"{name} must be a duration such as '1min' or '30s', or a number of seconds, got {value!r}")
    if out <= pd.Timedelta(0):
        raise InvalidInputError(f"{name} must be positive (a duration such as '1min', or a number of seconds), "
                                f"got {value!r}")
    return out


def _as_bound(value: object, name: str, index: pd.Index, numeric: bool) -> pd.Timestamp | float:
    """A grid bound (``start``/``end``) on the index's scale; a naive time on a time-zone-aware index
    is read in the index's zone (the reader's times are UTC)."""
    if numeric:
        out = _seconds(value)
        if out is None or not np.isfinite(out):
            raise InvalidInputError(f"{name} must be a finite number on a numeric index, got {value!r}")
        return out
    try:
        stamp = pd.Timestamp(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        stamp = pd.NaT
    if stamp is pd.NaT:
        raise InvalidInputError(f"{name} must be a time such as '2024-01-01 00:00', got {value!r}")
    tz = getattr(index, "tz", None)
    if tz is not None:
        return stamp.tz_localize(tz) if stamp.tz is None else stamp.tz_convert(tz)
    if tz is None and stamp.tz is not None:
        raise InvalidInputError(f"{name} {value!r} has a time zone but frame's index has none; drop the zone")
    return stamp


def check_step(frame: pd.DataFrame, step: str | pd.Timedelta | float, max_gap: int | None = None) -> None:
    """Refuse a grid step far finer than the samples of ``frame``: :func:`align` carries a
    sample over two steps, so samples more than ``max_gap + 3`` steps apart leave runs of
    empty grid times longer than the encoder fills (``max_gap``), and the gap error that
    would follow names ``max_gap``, not the step. ``load_metrics`` checks ``--resample``
    with it.

    Parameters
    ----------
    frame : DataFrame
        Metrics with a time (or numeric) index, NaN where a metric was not sampled.
    step : str, Timedelta or float
        The grid step, as :func:`align` takes it.
    max_gap : int, optional
        The longest run of empty steps the data will be filled over; default the
        encoder's default (5).

    Raises
    ------
    InvalidInputError
        When the median of the metrics' median sample spacings exceeds ``max_gap + 3``
        steps (or the step cannot be read).
    """
    from faultgraph.config import DEFAULTS

    fill = DEFAULTS.max_gap if max_gap is None else int(max_gap)
    numeric = not isinstance(frame.index, pd.DatetimeIndex)
    dt = _as_timedelta(step, "step", numeric)
    t = np.asarray(frame.index.as_unit("ns").asi8 if not numeric else frame.index, dtype=np.float64)
    step_v = float(dt) if numeric else float(pd.Timedelta(dt).value)
    spacing = []
    for col in frame.columns:
        ts = t[np.isfinite(frame[col].to_numpy(dtype=float))]
        if ts.size > 1:
            spacing.append(float(np.median(np.diff(ts))))
    if not spacing or float(np.median(spacing)) <= (fill + 3) * step_v:
        return
    typical = float(np.median(spacing))
    shown, option = (f"{typical:g}", f"{typical:g}") if numeric else (f"{typical / 1e9:g} s", f"{typical / 1e9:g}s")
    raise InvalidInputError(
        f"step {step!r} is far finer than the data: its metrics are sampled every {shown} (median), so the "
        f"grid would be empty for runs of more than {fill} steps (max_gap) between samples; use a step near the "
        f"data's own (--resample {option} or more)")


def align(
    frame: pd.DataFrame,
    step: str | pd.Timedelta | float,
    *,
    method: Literal["previous", "linear"] = "previous",
    max_gap: str | pd.Timedelta | float | None = None,
    start: object | None = None,
    end: object | None = None,
    late: Literal["drop", "keep"] = "drop",
) -> pd.DataFrame:
    """Resample every column of ``frame`` onto the grid ``start, start + step, …, end``.

    ``frame`` has a time index and NaN where a metric was not scraped. Each column is
    resampled on its own: ``"previous"`` takes the last value at or before each grid time
    (causal), ``"linear"`` interpolates between the samples either side (an exact hit takes
    its value). A grid time farther than ``max_gap`` from the sample(s) it would use stays
    NaN. Samples that arrived off a metric's scrape phase are dropped first
    (``late="drop"``, :func:`late_samples`). See the module docstring.

    Parameters
    ----------
    frame : DataFrame
        Metrics with a sorted time index (a ``DatetimeIndex``, time-zone aware or not, or
        numbers); non-empty. Not modified.
    step : str, Timedelta or float
        The grid step: a duration (``"1min"``, ``"30s"``) or a number of seconds for a time
        index; a number of index units for a numeric index. Positive; the grid may hold at
        most ``MAX_GRID_POINTS`` (10 million) times.
    method : {"previous", "linear"}, default "previous"
        ``"previous"`` is causal (safe online); ``"linear"`` also uses the next sample.
    max_gap : str, Timedelta, float or None, default None
        The farthest a sample may be from a grid time to be used, in the units of ``step``;
        None means ``2 · step``.
    start : object, optional
        The grid's first time (a time, or a number on a numeric index); default the data's
        first time rounded up to a whole step. A naive time on a zone-aware index is read
        in the index's zone.
    end : object, optional
        The grid's last time; default the data's last time.
    late : {"drop", "keep"}, default "drop"
        ``"drop"``: a metric scraped once a step at one phase loses its samples that came
        off that phase (late, with stale values; :func:`late_samples`) before aligning;
        ``"keep"``: every sample is used.

    Returns
    -------
    DataFrame
        One row per grid time (index named as ``frame``'s), one float column per metric.

    Raises
    ------
    InvalidInputError
        When ``method`` or ``late`` is not a choice; ``frame`` is not a non-empty DataFrame, its index
        holds neither times nor numbers or is not sorted; ``step`` or ``max_gap`` is not a
        positive duration or number; ``start``/``end`` cannot be read (or carry a zone the
        index lacks); or the grid would be empty, too fine for the index or larger than
        ``MAX_GRID_POINTS``.
    """
    check_choice("method", method, ("previous", "linear"))
    check_choice("late", late, ("drop", "keep"))
    if not isinstance(frame, pd.DataFrame) or frame.empty:
        raise InvalidInputError("frame must be a non-empty DataFrame with a time index")
    index = frame.index
    numeric = not isinstance(index, pd.DatetimeIndex)
    if numeric and not pd.api.types.is_numeric_dtype(index):
        raise InvalidInputError(f"frame's index must hold times or numbers, got {index.dtype}")
    if not index.is_monotonic_increasing:
        raise InvalidInputError("frame's index must be sorted in time")
    dt = _as_timedelta(step, "step", numeric)
    gap = _as_timedelta(max_gap, "max_gap", numeric) if max_gap is not None else 2 * dt
    first = index[0] if start is None else _as_bound(start, "start", index, numeric)
    last = index[-1] if end is None else _as_bound(end, "end", index, numeric)
    try:
        if numeric:
            first = float(np.ceil(float(first) / dt) * dt) if start is None else float(first)
            n_points = np.floor((float(last) - first) / dt) + 1  # type: ignore[operator]
        else:
            if start is None:  # in local time; in the hour clocks go back, the same occurrence
                first = first.ceil(dt) if first.tz is None else first.ceil(
                    dt, ambiguous=bool(first.dst()), nonexistent="shift_forward")
            n_points = (last - first) // dt + 1
    except (ValueError, OverflowError) as exc:  # a step finer than the index's unit, dates out of range
        raise InvalidInputError(f"step {step!r} does not fit frame's time index ({index.dtype}): {exc}") from None
    if n_points > MAX_GRID_POINTS:
        raise InvalidInputError(
            f"step {step!r} is too fine: the grid from {first} to {last} (a span of {last - first}) would have "
            f"{int(n_points):,} points, more than {MAX_GRID_POINTS:,}; use a larger step or a shorter start/end range"
        )
    if numeric:
        grid = pd.Index(np.arange(first, float(last) + 1e-9 * dt, dt), name=index.name)
    else:
        grid = pd.date_range(first, last, freq=dt, name=index.name)
    if len(grid) == 0:
        raise InvalidInputError(
            f"the grid from {first} to {last} with step {step} is empty: the data ({index[0]} .. {index[-1]}) "
            f"{'is shorter than one step' if start is None else 'ends before the first grid time'}"
            f"{'; use a shorter step (--resample)' if start is None else ''}")
    # in nanoseconds whatever the index's unit (pandas >= 3 reads times in microseconds), like gap_v
    t = (np.asarray(index.as_unit("ns").asi8 if not numeric else index, dtype=np.float64))
    g = (np.asarray(grid.as_unit("ns").asi8 if not numeric else grid, dtype=np.float64))
    dt_v = float(dt) if numeric else float(pd.Timedelta(dt).value)  # type: ignore[arg-type]
    gap_v = float(gap) if numeric else float(pd.Timedelta(gap).value)  # type: ignore[arg-type]
    out = {}
    for col in frame.columns:
        values = frame[col].to_numpy(dtype=float)
        ok = np.isfinite(values)
        ts, vs = t[ok], values[ok]
        if late == "drop" and ts.size:
            stale = late_samples(ts, dt_v)
            ts, vs = ts[~stale], vs[~stale]
        result = np.full(len(g), np.nan)
        if ts.size:
            before = np.searchsorted(ts, g, side="right") - 1  # last sample at or before each grid time
            has_before = before >= 0
            near_before = has_before & (g - ts[np.clip(before, 0, None)] <= gap_v)
            if method == "previous":
                result[near_before] = vs[before[near_before]]
            else:
                after = np.clip(before + 1, 0, ts.size - 1)
                has_after = before + 1 < ts.size
                near_after = has_after & (ts[after] - g <= gap_v)
                exact = has_before & (ts[np.clip(before, 0, None)] == g)
                both = near_before & near_after & ~exact
                t0, t1 = ts[before[both]], ts[after[both]]
                w = (g[both] - t0) / (t1 - t0)
                result[both] = (1 - w) * vs[before[both]] + w * vs[after[both]]
                result[exact] = vs[before[exact]]
        out[col] = result
    return pd.DataFrame(out, index=grid)
