"""MetricEncoder: dropping dead metrics, filling gaps, robust scaling across windows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from faultgraph import InvalidInputError, MetricEncoder, NotFittedError
from faultgraph.encode import fill_gaps


def test_drops_constant_and_empty_metrics_and_says_which():
    frame = pd.DataFrame({"a": [1.0, 2, 3, 4], "flat": [5.0] * 4, "empty": [np.nan] * 4})
    enc = MetricEncoder(scale=None).fit(frame)
    assert enc.columns_ == ["a"]
    assert enc.dropped_ == {"flat": "constant", "empty": "all values missing"}
    assert list(enc.transform(frame).columns) == ["a"]
    assert enc.constants_ == {"flat": 5.0}  # the value it held, to tell when new data leave it
    later = pd.DataFrame({"a": [1.0, 2, 3], "flat": [5.0, 7.5, np.nan]})
    np.testing.assert_array_equal(enc.departures(later)["flat"], [0.0, 2.5, np.nan])  # missing stays missing
    assert enc.departures(later[["a"]]).shape == (3, 0)  # not in the data: nothing to watch
    assert enc.departures(later.assign(empty=np.inf)).columns.tolist() == ["flat"]  # other columns unread


def test_fills_short_gaps_linearly_and_at_the_ends():
    frame = pd.DataFrame({"a": [np.nan, 1.0, np.nan, np.nan, 4.0, np.nan]})
    out = fill_gaps(frame, max_gap=2)
    assert out["a"].tolist() == [1.0, 1.0, 2.0, 3.0, 4.0, 4.0]
    assert np.isnan(frame["a"].iloc[0])  # input untouched


def test_long_gaps_are_an_error_naming_the_metric():
    frame = pd.DataFrame({"a": [1.0, np.nan, np.nan, np.nan, 5.0], "b": [1.0, 2, 3, 4, 5]})
    with pytest.raises(InvalidInputError, match=r"longer than max_gap=2.*'a' \(3 steps\)"):
        fill_gaps(frame, max_gap=2)


def test_a_metric_with_no_value_cannot_be_filled_whatever_max_gap():
    frame = pd.DataFrame({"a": [np.nan] * 4, "b": [1.0, 2, 3, 4]})
    with pytest.raises(InvalidInputError, match=r"no value at all for 'a': there is nothing to fill"):
        fill_gaps(frame, max_gap=1000)


def test_robust_scaling_fitted_on_one_window_applied_to_another():
    normal = pd.DataFrame({"cpu": [1.0, 2, 3, 4, 5], "lat": [10.0, 10, 10, 10, 50]})
    enc = MetricEncoder().fit(normal)
    # cpu: median 3, IQR 4 - 2 = 2 -> scale 2 / 1.349
    assert enc.center_["cpu"] == 3.0
    assert enc.scale_["cpu"] == pytest.approx(2 / 1.349)
    # lat: IQR 0 -> falls back to the standard deviation (16)
    assert enc.scale_["lat"] == pytest.approx(np.std([10, 10, 10, 10, 50]))
    incident = pd.DataFrame({"cpu": [3.0, 7.0], "lat": [10.0, 42.0]})
    out = enc.transform(incident)
    np.testing.assert_allclose(out["cpu"], [0.0, 4 / (2 / 1.349)])
    np.testing.assert_allclose(out["lat"], [0.0, 32 / 16])


def test_standard_scaling():
    frame = pd.DataFrame({"a": [1.0, 2, 3, 4]})
    out = MetricEncoder(scale="standard").fit_transform(frame)
    assert out["a"].mean() == pytest.approx(0) and out["a"].std(ddof=0) == pytest.approx(1)


def test_transform_needs_the_fitted_metrics_and_a_fit():
    enc = MetricEncoder()
    with pytest.raises(NotFittedError):
        enc.transform(pd.DataFrame({"a": [1.0, 2.0]}))
    enc.fit(pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [3.0, 1.0, 2.0]}))
    with pytest.raises(InvalidInputError, match="lacks 1 metrics.*'b'"):
        enc.transform(pd.DataFrame({"a": [1.0, 2.0]}))


@pytest.mark.parametrize(
    "data, params, match",
    [
        (pd.DataFrame({"a": [1.0, np.inf]}), {}, "infinite"),
        (pd.DataFrame({"a": ["x", "y"]}), {}, "non-numeric"),
        (pd.DataFrame(), {}, "empty"),
        (np.ones(4), {}, "2-D"),
        (pd.DataFrame({"a": [1.0, 1.0]}), {}, "no usable metric"),
        (pd.DataFrame({"a": [1.0, 2.0]}), {"max_gap": -1}, "max_gap must be"),
        (pd.DataFrame({"a": [1.0, 2.0]}), {"scale": "minmax"}, "scale must be"),
    ],
)
def test_bad_input(data, params, match):
    with pytest.raises(InvalidInputError, match=match):
        MetricEncoder(**params).fit(data)


def test_round_trip_through_dict():
    frame = pd.DataFrame({"a": [1.0, 2, 3, 9], "b": [0.0, 0, 1, 0], "c": [2.0] * 4})
    enc = MetricEncoder().fit(frame)
    again = MetricEncoder.from_dict(enc.to_dict())
    pd.testing.assert_frame_equal(again.transform(frame), enc.transform(frame))
    assert again.dropped_ == {"c": "constant"} and again.constants_ == {"c": 2.0}
    old = {k: v for k, v in enc.to_dict().items() if k != "constants"}  # saved before constants were kept
    assert MetricEncoder.from_dict(old).constants_ == {}
    with pytest.raises(InvalidInputError, match="damaged"):
        MetricEncoder.from_dict({"max_gap": 1})


# --- alignment of asynchronous series -------------------------------------------------

from faultgraph.encode import align  # noqa: E402


def test_align_recovers_a_known_resampling():
    t = pd.date_range("2024-01-01", periods=61, freq="10s")
    frame = pd.DataFrame({"x": np.arange(61.0)}, index=t)          # one sample every 10 s
    out = align(frame, "1min", method="linear")
    assert len(out) == 11 and out["x"].tolist() == [6.0 * k for k in range(11)]
    out = align(frame, "5s", method="linear")
    np.testing.assert_allclose(out["x"].to_numpy()[:5], [0.0, 0.5, 1.0, 1.5, 2.0])


def test_align_recovers_a_known_shift_and_never_looks_ahead():
    # metric b was scraped 20 s after metric a; both follow the same ramp
    ta = pd.date_range("2024-01-01 00:00:00", periods=30, freq="1min")
    tb = ta + pd.Timedelta("20s")
    frame = pd.concat([pd.DataFrame({"a": np.arange(30.0)}, index=ta),
                       pd.DataFrame({"b": np.arange(30.0)}, index=tb)]).sort_index()
    prev = align(frame, "1min", method="previous")
    # at 00:01 the causal value of b is the sample taken at 00:00:20: its value 0, not 1 from the future
    assert prev.loc["2024-01-01 00:01", "b"] == 0.0 and prev.loc["2024-01-01 00:01", "a"] == 1.0
    assert (prev["b"].dropna().to_numpy() <= prev["a"].to_numpy()[prev["b"].notna().to_numpy()]).all()
    lin = align(frame, "1min", method="linear")
    # linear interpolation reads b between its samples: value at 00:01 is 40/60 of the way from 0 to 1
    assert lin.loc["2024-01-01 00:01", "b"] == pytest.approx(40 / 60)


def test_align_handles_jitter_late_and_missing_samples():
    rng = np.random.default_rng(0)
    base = pd.date_range("2024-01-01", periods=200, freq="1min")
    jitter = pd.to_timedelta(rng.uniform(-20, 20, 200), unit="s")
    keep = rng.random(200) > 0.1                      # 10 % of scrapes lost
    keep[100:110] = False                             # and one ten-minute outage
    t = (base + jitter)[keep]
    frame = pd.DataFrame({"x": np.arange(200.0)[keep]}, index=t).sort_index()
    out = align(frame, "1min", max_gap="3min")
    assert out.index.freq == pd.tseries.frequencies.to_offset("1min")
    assert out["x"].loc["2024-01-01 01:44":"2024-01-01 01:46"].isna().all()   # the outage stays missing
    assert out["x"].notna().mean() > 0.9
    ok = out["x"].dropna()
    # causal: a grid value is a sample at or before the grid time, so never above the minute's index
    minutes = ((ok.index - base[0]) / pd.Timedelta("1min")).to_numpy()
    assert (ok.to_numpy() <= minutes + 1).all()


def test_align_bad_input():
    frame = pd.DataFrame({"x": [1.0, 2.0]}, index=pd.date_range("2024-01-01", periods=2, freq="1min"))
    with pytest.raises(InvalidInputError, match="step must be a duration"):
        align(frame, "often")
    with pytest.raises(InvalidInputError, match="method must be one of"):
        align(frame, "1min", method="cubic")
    with pytest.raises(InvalidInputError, match="sorted"):
        align(frame.iloc[::-1], "1min")
    numeric = pd.DataFrame({"x": [1.0, 2.0, 3.0]}, index=[0.0, 1.5, 3.0])
    assert align(numeric, 1.0, method="linear")["x"].tolist() == pytest.approx([1.0, 1 + 2 / 3, 2 + 1 / 3, 3.0])


def test_align_bare_number_on_a_time_index_is_seconds():
    t = pd.to_datetime([1699999980, 1700000040, 1700000100], unit="s", utc=True)  # as the reader reads them
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0]}, index=t)
    for step in (60, 60.0, "60", np.int64(60)):
        out = align(frame, step)
        assert out.index.freq == pd.tseries.frequencies.to_offset("1min") and out["x"].tolist() == [1.0, 2.0, 3.0]
    assert align(frame, "1min", max_gap=90).equals(align(frame, "1min", max_gap="90s"))


@pytest.mark.parametrize("step, match", [
    (0, r"step must be positive \(a duration such as '1min', or a number of seconds\), got 0"),
    (-5, "step must be positive.*got -5"),
    ("0s", "step must be positive.*got '0s'"),
    (float("nan"), "step must be a duration such as '1min' or '30s', or a number of seconds, got nan"),
    ("nan", "step must be a duration.*got 'nan'"),
    (None, "step must be a duration.*got None"),
    (True, "step must be a duration or a number, got True"),
])
def test_align_bad_step_on_a_time_index(step, match):
    frame = pd.DataFrame({"x": [1.0, 2.0]}, index=pd.date_range("2024-01-01", periods=2, freq="1min"))
    with pytest.raises(InvalidInputError, match=match):
        align(frame, step)


def test_align_bad_step_and_bounds_on_a_numeric_index():
    numeric = pd.DataFrame({"x": [1.0, 2.0, 3.0]}, index=[0.0, 1.5, 3.0])
    for step in (float("nan"), float("inf"), 0, -1.0):
        with pytest.raises(InvalidInputError, match=r"step must be a finite number > 0, got"):
            align(numeric, step)
    with pytest.raises(InvalidInputError, match="start must be a finite number on a numeric index, got 'soon'"):
        align(numeric, 1.0, start="soon")


def test_align_refuses_an_absurdly_large_grid():
    frame = pd.DataFrame({"x": [1.0, 2.0]}, index=pd.to_datetime(["2024-01-01", "2025-01-01"]))
    with pytest.raises(InvalidInputError, match=r"step '1ms' is too fine: the grid from 2024-01-01 00:00:00 to "
                                                r"2025-01-01 00:00:00 \(a span of 366 days 00:00:00\) would have "
                                                r"31,622,400,001 points, more than 10,000,000"):
        align(frame, "1ms")
    numeric = pd.DataFrame({"x": [1.0, 2.0]}, index=[0.0, 3.0])
    with pytest.raises(InvalidInputError, match=r"would have 3,000,000,001 points"):
        align(numeric, 1e-9)


def test_align_max_gap_holds_whatever_the_index_unit():
    # pandas >= 3 parses times in microseconds; the gap used to be compared in nanoseconds (1000 x too long)
    t = pd.to_datetime(["2024-01-01 00:00", "2024-01-01 00:10", "2024-01-01 00:20"]).as_unit("us")
    frame = pd.DataFrame({"x": [1.0, np.nan, 3.0]}, index=t)
    out = align(frame, "1min", max_gap="2min")
    assert out["x"].iloc[:3].tolist() == [1.0, 1.0, 1.0] and out["x"].iloc[3:20].isna().all()
    assert out["x"].iloc[20] == 3.0


def test_align_start_and_end_are_checked_and_read_in_the_index_zone():
    t = pd.date_range("2024-01-01", periods=4, freq="1min", tz="UTC")
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]}, index=t)
    out = align(frame, "1min", start="2024-01-01 00:01", end="2024-01-01 00:02")  # naive: the index's zone
    assert out["x"].tolist() == [2.0, 3.0]
    with pytest.raises(InvalidInputError, match="start must be a time such as '2024-01-01 00:00', got 'soon'"):
        align(frame, "1min", start="soon")
    with pytest.raises(InvalidInputError, match="end .* has a time zone but frame's index has none"):
        align(frame.tz_localize(None), "1min", end=pd.Timestamp("2024-01-01", tz="UTC"))


def test_align_on_a_local_time_index_that_starts_in_the_repeated_hour():
    # 00:10 UTC on 2024-10-27 is 02:10 CEST, an hour Paris lives twice: the grid is rounded
    # in UTC (it was "Cannot infer dst time" from rounding local wall time)
    idx = pd.date_range("2024-10-27 00:10+00:00", periods=120, freq="1min").tz_convert("Europe/Paris")
    out = align(pd.DataFrame({"a": np.arange(120.0)}, index=idx), "5min")
    assert len(out) == 24 and str(out.index.tz) == "Europe/Paris"
    assert out.index[0] == idx[0] and out["a"].tolist() == [5.0 * k for k in range(24)]
    # elsewhere the grid is rounded in local time, as before (India is UTC+05:30)
    kolkata = pd.date_range("2024-01-01 00:00", periods=48, freq="1h", tz="Asia/Kolkata")
    hourly = align(pd.DataFrame({"a": np.arange(48.0)}, index=kolkata), "1h")
    assert hourly.index[0] == kolkata[0] and hourly["a"].tolist() == list(np.arange(48.0))


def test_encoding_does_not_depend_on_units():
    # metrics in tiny units (values near 5e-9, an IQR below the old absolute floor of 1e-8)
    # were divided by 1 and became flat zeros; the floor is now relative to the metric
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(5.0, 1.0, 500), "b": rng.poisson(3.0, 500).astype(float),
                          "c": np.where(rng.random(500) < 0.05, rng.normal(10.0, 2.0, 500), 1.0)})
    reference = MetricEncoder().fit_transform(frame)
    for factor in (1e-9, 1e-6, 1e6):
        scaled = MetricEncoder().fit_transform(frame * factor)
        np.testing.assert_allclose(scaled.to_numpy(), reference.to_numpy(), rtol=1e-9, atol=1e-9)
    assert reference["c"].std() > 0.5  # IQR 0 (nearly always 1.0): its standard deviation
    # a large offset: free disk bytes 5e11 +- 1000 scale as in kilobytes (a floor relative
    # to the largest |value| left them unscaled)
    disk = pd.DataFrame({"disk": 5e11 + 1000.0 * rng.normal(size=500)})
    in_bytes, in_kb = MetricEncoder().fit_transform(disk), MetricEncoder().fit_transform(disk / 1000)
    np.testing.assert_allclose(in_bytes.to_numpy(), in_kb.to_numpy(), rtol=1e-6, atol=1e-6)
    assert 0.8 < float(in_bytes["disk"].std()) < 1.2


def test_the_encoder_keeps_its_step_and_warns_on_data_at_another():
    import warnings

    from faultgraph.errors import SamplingWarning

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(50, 2)), columns=["a", "b"],
                         index=pd.date_range("2024-01-01", periods=50, freq="60s"))
    enc = MetricEncoder().fit(frame)
    assert enc.step_ == 60.0 and MetricEncoder.from_dict(enc.to_dict()).step_ == 60.0
    old = enc.to_dict()
    del old["step_seconds"]  # a folder saved before the step was kept
    assert MetricEncoder.from_dict(old).step_ is None
    assert MetricEncoder().fit(frame.reset_index(drop=True)).step_ is None  # no times, no step
    fast = frame.set_axis(pd.date_range("2024-01-01", periods=50, freq="15s"))
    with pytest.warns(SamplingWarning, match=r"15 s apart, but the encoder was fitted on rows 60 s apart.*--resample 60s"):
        enc.transform(fast)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        enc.transform(frame.set_axis(frame.index + pd.to_timedelta(rng.uniform(-3, 3, 50), unit="s")))  # jitter
        enc.transform(fast.iloc[:2])  # two rows tell no step
        MetricEncoder.from_dict(old).transform(fast)  # an encoder without a step cannot tell


def test_index_step_skips_missing_times_and_sorts():
    from faultgraph.encode.align import index_step, same_step

    times = pd.date_range("2024-01-01", periods=20, freq="60s")
    assert index_step(times) == 60.0 and index_step(times.tz_localize("Europe/Paris")) == 60.0
    assert index_step(times[::-1]) == 60.0 and index_step(pd.DatetimeIndex([*times[:10], pd.NaT, *times[10:]])) == 60.0
    assert index_step(pd.DatetimeIndex([times[0]] * 3)) is None and index_step(pd.Index([0.0, 60.0, 120.0])) is None
    assert same_step(60.0, 55.0) and not same_step(60.0, 30.0) and same_step(None, 30.0)
    spec = MetricEncoder().fit(pd.DataFrame({"a": np.arange(20.0)}, index=times)).to_dict()
    with pytest.raises(InvalidInputError, match="step_seconds must be a number of seconds > 0, got 0"):
        MetricEncoder.from_dict({**spec, "step_seconds": 0})


def test_a_step_much_finer_than_the_samples_is_refused_with_the_data_own_step(tmp_path):
    from faultgraph.encode.align import check_step
    from faultgraph.workflows import load_metrics

    t = pd.date_range("2024-01-01", periods=50, freq="1min")
    frame = pd.DataFrame({"a": np.arange(50.0), "b": np.arange(50.0) ** 0.5}, index=t)
    check_step(frame, "1min")
    check_step(frame, "7.5s")  # samples 8 steps apart: 2 carried over, 5 empty, which a fit fills (max_gap 5)
    with pytest.raises(InvalidInputError, match=r"runs of more than 5 steps \(max_gap\)"):
        check_step(frame, "6s")
    check_step(frame, "6s", max_gap=7)  # a fit with --max-gap 7 fills them
    with pytest.raises(InvalidInputError, match=r"step '0.01' is far finer than the data: its metrics are sampled "
                                                r"every 60 s \(median\).*--resample 60s or more"):
        check_step(frame, "0.01")
    frame.rename_axis("timestamp").to_csv(tmp_path / "m.csv")
    with pytest.raises(InvalidInputError, match="far finer than the data"):
        load_metrics(tmp_path / "m.csv", resample="5s")
    assert len(load_metrics(tmp_path / "m.csv", resample="2min")) == 25
