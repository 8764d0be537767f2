"""Aligning asynchronous metrics on one time grid.

Scrapes of different services arrive at different moments, some late, some missing.
:func:`align` puts every metric on a common grid of step ``step``:

* ``method="previous"`` (default): the last value observed at or before each grid time:
  causal, it never uses a value from the future, so it is safe for online detection;
* ``method="linear"``: linear interpolation in time between the neighbouring samples
  (uses the next sample too: fine for offline analysis, not for live scoring).

A grid time farther than ``max_gap`` from the last (and, for ``"linear"``, the next)
sample of a metric stays missing, so long outages are not papered over.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from faultgraph._validation import check_choice
from faultgraph.errors import InvalidInputError

__all__ = ["align"]


def _as_timedelta(value: str | pd.Timedelta | float, name: str, numeric: bool) -> pd.Timedelta | float:
    if numeric:
        try:
            out = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise InvalidInputError(f"{name} must be a number of index units for a numeric index, got {value!r}"
                                    ) from None
        if not out > 0:
            raise InvalidInputError(f"{name} must be > 0, got {value!r}")
        return out
    try:
        out = pd.Timedelta(value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{name} must be a duration such as '1min' or '30s', got {value!r}") from None
    if out <= pd.Timedelta(0):
        raise InvalidInputError(f"{name} must be positive, got {value!r}")
    return out


def align(
    frame: pd.DataFrame,
    step: str | pd.Timedelta | float,
    *,
    method: Literal["previous", "linear"] = "previous",
    max_gap: str | pd.Timedelta | float | None = None,
    start: object | None = None,
    end: object | None = None,
) -> pd.DataFrame:
    """Resample every column of ``frame`` (time index, NaN where a metric was not
    scraped) onto the grid ``start, start + step, …, end``.

    Args:
        frame: metrics with a sorted time index (a ``DatetimeIndex`` or numbers).
        step: the grid step (``"1min"``, ``"30s"``; a number for a numeric index).
        method: ``"previous"`` (causal, default) or ``"linear"``.
        max_gap: the farthest a sample may be from a grid time to be used (default
            ``2 · step``).
        start, end: the grid's first and last times (default: the data's range, with the
            start rounded up to a whole step).
    """
    check_choice("method", method, ("previous", "linear"))
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
    first = index[0] if start is None else (start if numeric else pd.Timestamp(start))
    last = index[-1] if end is None else (end if numeric else pd.Timestamp(end))
    if numeric:
        first = float(np.ceil(float(first) / dt) * dt) if start is None else float(first)
        grid = pd.Index(np.arange(first, float(last) + 1e-9 * dt, dt), name=index.name)
    else:
        first = first.ceil(dt) if start is None else first
        grid = pd.date_range(first, last, freq=dt, name=index.name)
    if len(grid) == 0:
        raise InvalidInputError(f"the grid from {first} to {last} with step {step} is empty")
    t = (np.asarray(index.asi8 if not numeric else index, dtype=np.float64))
    g = (np.asarray(grid.asi8 if not numeric else grid, dtype=np.float64))
    gap_v = float(gap) if numeric else float(pd.Timedelta(gap).value)  # type: ignore[arg-type]
    out = {}
    for col in frame.columns:
        values = frame[col].to_numpy(dtype=float)
        ok = np.isfinite(values)
        ts, vs = t[ok], values[ok]
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
