"""Late samples (stamped on arrival, off a metric's scrape phase) are dropped by encode.align."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from faultgraph import InvalidInputError
from faultgraph.encode import align, late_samples, peak_lag
from faultgraph.simulate import scrape, simulate_incident


def _scraped_ramp(jitter: float, seed: int = 0, n: int = 400) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A frame whose every value is the step it was taken at, and what a jittered scraper records."""
    frame = pd.DataFrame({"a": np.arange(n, dtype=float), "b": np.arange(n, dtype=float)})
    return frame, scrape(frame, jitter, max_late=5, random_state=seed)


def test_late_samples_are_exactly_the_off_phase_ones():
    _, observed = _scraped_ramp(0.1)
    for col in observed.columns:
        s = observed[col].dropna()
        stamp, value = s.index.to_numpy(), s.to_numpy()
        truly_late = stamp - value >= 1.0  # an on-time sample is stamped within a step of its value
        flagged = late_samples(stamp, 1.0)
        assert not (flagged & ~truly_late).any()  # no on-time sample is dropped
        # late samples shifted by a whole number of steps land back on the phase (about 1 in 20 here)
        assert flagged[truly_late].mean() > 0.85
        assert 0.05 < flagged.mean() < 0.15


def test_aligned_jittered_series_equals_the_grid_series_at_kept_samples():
    frame, observed = _scraped_ramp(0.1)
    grid = np.arange(len(frame), dtype=float)
    dropped = align(observed, 1.0, start=0.0, end=grid[-1])
    kept = align(observed, 1.0, start=0.0, end=grid[-1], late="keep")
    for col in frame.columns:
        age = grid - dropped[col].to_numpy()  # how many steps old the aligned value is
        ok = np.isfinite(age)
        # each grid step holds the value of the step before (the sample of its phase) or, where that
        # sample was lost or late, the one before that: never a stale late arrival
        assert set(np.unique(age[ok])) <= {0.0, 1.0, 2.0}
        assert np.mean(age[ok] == age[ok].min()) > 0.75
        assert np.nanmax(grid - kept[col].to_numpy()) > 2  # keeping late samples puts stale values on the grid


def test_regular_and_irregular_metrics_are_left_as_they_are():
    t = pd.date_range("2024-01-01", periods=200, freq="10s")  # sampled at six times the grid rate
    fast = pd.DataFrame({"x": np.arange(200.0)}, index=t)
    assert align(fast, "1min").equals(align(fast, "1min", late="keep"))
    rng = np.random.default_rng(0)
    base = pd.date_range("2024-01-01", periods=200, freq="1min")
    irregular = pd.DataFrame({"x": np.arange(200.0)},
                             index=base + pd.to_timedelta(rng.uniform(-20, 20, 200), unit="s"))
    assert align(irregular, "1min").equals(align(irregular, "1min", late="keep"))
    assert not late_samples(np.arange(50.0), 1.0).any()  # on the grid itself
    assert not late_samples(np.array([0.0, 1.0]), 1.0).any()  # too few to have a phase


def test_late_arrivals_on_a_time_index_are_dropped():
    base = pd.date_range("2024-01-01 00:00:20", periods=30, freq="1min")  # scraped at :20 each minute
    stamps = base.tolist()
    values = list(np.arange(30.0))
    stamps[10] = stamps[10] + pd.Timedelta("75s")  # the sample of minute 10 arrives at 00:11:35, stale
    frame = pd.DataFrame({"x": values}, index=pd.DatetimeIndex(stamps)).sort_index()
    out = align(frame, "1min")
    assert out.loc["2024-01-01 00:12", "x"] == 11.0  # the fresh sample of 00:11:20, not the stale 10
    assert align(frame, "1min", late="keep").loc["2024-01-01 00:12", "x"] == 10.0
    assert out.loc["2024-01-01 00:11", "x"] == 9.0  # minute 10's own sample is gone: the one before holds


def test_a_planted_link_delay_is_the_strongest_lag_after_alignment():
    inc = simulate_incident(services=8, link_delay=2, jitter=0.1, normal_steps=3000, random_state=0)
    grid = align(inc.normal, 1.0, start=0.0, end=2999.0).ffill().bfill()
    assert {k for _, _, k in inc.link_delays} == {3}
    for caller, callee, lag in inc.link_delays:
        assert peak_lag(grid[f"{caller}_traffic"], grid[f"{callee}_traffic"], 10) == lag, (caller, callee)


def test_late_bad_input():
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0]}, index=[0.0, 1.0, 2.0])
    with pytest.raises(InvalidInputError, match="late"):
        align(frame, 1.0, late="later")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="tolerance"):
        late_samples(np.arange(5.0), 1.0, tolerance=0.7)
    with pytest.raises(InvalidInputError, match="step"):
        late_samples(np.arange(5.0), 0.0)
