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


def test_fills_short_gaps_linearly_and_at_the_ends():
    frame = pd.DataFrame({"a": [np.nan, 1.0, np.nan, np.nan, 4.0, np.nan]})
    out = fill_gaps(frame, max_gap=2)
    assert out["a"].tolist() == [1.0, 1.0, 2.0, 3.0, 4.0, 4.0]
    assert np.isnan(frame["a"].iloc[0])  # input untouched


def test_long_gaps_are_an_error_naming_the_metric():
    frame = pd.DataFrame({"a": [1.0, np.nan, np.nan, np.nan, 5.0], "b": [1.0, 2, 3, 4, 5]})
    with pytest.raises(InvalidInputError, match=r"longer than max_gap=2.*'a' \(3 steps\)"):
        fill_gaps(frame, max_gap=2)


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
    assert again.dropped_ == {"c": "constant"}
    with pytest.raises(InvalidInputError, match="damaged"):
        MetricEncoder.from_dict({"max_gap": 1})
