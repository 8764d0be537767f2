"""Delay and jitter: the simulator's links, scraping, alignment, delay estimates, lag groups."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from faultgraph import InvalidInputError, StructureLearner
from faultgraph.detect import CausalDetector
from faultgraph.discovery import threshold_lag_groups
from faultgraph.encode import align, cross_correlation, peak_lag
from faultgraph.rca import explain
from faultgraph.simulate import scrape, simulate_incident, simulate_lagged_sem


@pytest.mark.parametrize("delay", [0, 3, 6])
def test_the_simulated_link_delay_is_the_one_asked_for(delay):
    inc = simulate_incident(services=6, link_delay=delay, normal_steps=3000, random_state=1)
    assert {k for _, _, k in inc.link_delays} == {1 + delay}
    for caller, callee, lag in inc.link_delays:
        x, y = inc.normal[f"{caller}_traffic"], inc.normal[f"{callee}_traffic"]
        assert peak_lag(x, y, 12) == lag, (caller, callee)


def test_link_delays_drawn_per_link_lie_in_the_range():
    inc = simulate_incident(services=10, link_delay=(2, 5), random_state=3)
    lags = [k for _, _, k in inc.link_delays]
    assert min(lags) >= 3 and max(lags) <= 6 and len(set(lags)) > 1
    assert inc.truth_dict()["link_delays"][0]["delay_steps"] == lags[0]
    with pytest.raises(InvalidInputError, match="link_delay"):
        simulate_incident(link_delay=(5, 2))
    with pytest.raises(InvalidInputError, match="jitter"):
        simulate_incident(jitter=0.9)


def test_cross_correlation_by_hand():
    x = np.array([0.0, 1.0, 0.0, 2.0, 0.0, 1.0, 0.0])
    y = np.roll(x, 2)
    c = cross_correlation(x, y, 2, difference=False)
    a, b = x[:5], y[2:]
    assert c[2] == pytest.approx(np.corrcoef(a, b)[0, 1])
    assert c[0] == pytest.approx(np.corrcoef(x, y)[0, 1])
    assert peak_lag(x, y, 3, difference=False) == 2
    with pytest.raises(InvalidInputError, match="NaN"):
        cross_correlation([1.0, np.nan, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0], 1)
    with pytest.raises(InvalidInputError, match="same length"):
        cross_correlation([1.0, 2.0], [1.0], 1)


def test_scraped_samples_never_hold_a_future_value():
    frame = pd.DataFrame({"a": np.arange(200.0), "b": 1000 + np.arange(200.0)})
    observed = scrape(frame, 0.1, max_late=4, random_state=0)
    for col, offset in (("a", 0.0), ("b", 1000.0)):
        s = observed[col].dropna()
        step_of_value = s.to_numpy() - offset  # the value is the step it was taken at
        assert np.all(step_of_value <= s.index.to_numpy() + 1e-12)
        late = s.index.to_numpy() - step_of_value
        assert late.max() > 1.0 and late.max() <= 4.5  # some arrived late, none beyond max_late
        assert 0.8 < len(s) / 200 < 0.95  # about 10 % lost
    grid = align(observed, 1.0, start=0.0, end=199.0)
    held = grid["a"].to_numpy()
    ok = np.isfinite(held)
    assert np.all(held[ok] <= grid.index.to_numpy()[ok])  # aligned values never come from the future


def test_a_jittered_incident_runs_end_to_end_and_finds_its_cause():
    inc = simulate_incident(services=5, link_delay=(1, 3), jitter=0.05, fault_type="network_delay",
                            normal_steps=1200, random_state=4)
    assert inc.normal.index.dtype.kind == "f" and inc.normal.isna().any().any()
    raw = pd.concat([inc.normal, inc.anomalous])
    grid = align(raw, 1.0, start=0.0, end=float(inc.fault_end)).ffill().bfill()
    model = CausalDetector(lags=6).fit(grid.loc[: inc.fault_start - 31])
    ex = explain(model, grid.loc[inc.fault_start - 60:], (inc.fault_start, inc.fault_end))
    assert ex.top(1, "service") == [inc.root_cause_service]


def test_edge_delays_recover_planted_lags():
    d = 4
    W = np.zeros((d, d))
    A = np.zeros((5, d, d))
    A[0, 0, 0] = A[0, 1, 1] = A[0, 2, 2] = A[0, 3, 3] = 0.3
    A[2, 0, 1] = 1.0  # x0(t−3) → x1(t)
    A[4, 1, 2] = -1.0  # x1(t−5) → x2(t)
    W[2, 3] = 0.8  # x2(t) → x3(t)
    X = simulate_lagged_sem(W, A, 4000, random_state=0)
    g = StructureLearner(lags=6, standardize=False).fit(X).graph_
    delays = {(s, t): k for s, t, k, _ in g.edge_delays}
    assert delays == {("x0", "x1"): 3, ("x1", "x2"): 5, ("x2", "x3"): 0}
    assert {"source": "x1", "target": "x2", "delay": 5} .items() <= next(
        e for e in g.to_dict()["edge_delays"] if e["target"] == "x2").items()


def test_threshold_lag_groups_by_hand():
    # two lags of a 2-variable model: blocks W_0, W_1, W_2
    W = np.zeros((6, 2))
    W[0, 1] = 0.2  # x0(t) → x1(t)      } group 0.2 + 0.15 = 0.35 >= 0.3: both kept (>= 0.1)
    W[2, 1] = 0.15  # x0(t−1) → x1(t)   }
    W[4, 1] = 0.05  # x0(t−2) → x1(t): below the floor 0.3 / 3
    W[3, 0] = 0.25  # x1(t−1) → x0(t): alone, under 0.3
    W[5, 0] = 0.4  # x1(t−2) → x0(t): kept on its own; the pair sums to 0.65, so 0.25 stays too
    out = threshold_lag_groups(W, 2, 0.3)
    expected = W.copy()
    expected[4, 1] = 0.0
    np.testing.assert_array_equal(out, expected)
    W2 = np.zeros((4, 2))
    W2[0, 1], W2[2, 1] = 0.12, 0.12  # the pair sums to 0.24: dropped
    np.testing.assert_array_equal(threshold_lag_groups(W2, 2, 0.3), np.zeros((4, 2)))
    np.testing.assert_array_equal(threshold_lag_groups(W2[:2], 2, 0.1), W2[:2])  # p = 0: plain thresholding


def test_max_of_smoothed_combination_by_hand():
    from faultgraph.detect import NSigmaDetector

    det = NSigmaDetector(combine="max-of-smoothed", smooth=2)
    Z = np.array([[1.0, -4.0], [3.0, 0.0], [-1.0, 2.0]])
    np.testing.assert_allclose(det._score(Z), [4.0, 2.0, 2.0])  # rolling |z| means: [1,4],[2,2],[2,1]
    mixed = NSigmaDetector(combine="mean-square+max", smooth=2)
    ms = np.array([8.5, (8.5 + 4.5) / 2, (4.5 + 2.5) / 2])
    np.testing.assert_allclose(mixed._score(Z), ms + [4.0, 2.0, 2.0])
