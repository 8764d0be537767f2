"""Root causes: seeded incidents, the causal advantage over z-scores, inputs, metrics."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from faultgraph import InvalidInputError, NotFittedError
from faultgraph.datasets import load_case
from faultgraph.detect import CausalDetector
from faultgraph.evaluate import ac_at_k, avg_at_k, hit_rate, ndcg
from faultgraph.rca import burst, default_service, explain, recent_normal, step_scores, window_reference
from faultgraph.simulate import simulate_incident, simulate_lagged_sem


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5, 6, 7])
def test_faulted_service_of_seeded_incidents_is_ranked_first(seed):
    inc = simulate_incident(services=10, random_state=seed)
    model = CausalDetector().fit(inc.normal)
    result = explain(model, inc.anomalous, (inc.fault_start, inc.fault_end))
    assert result.top(1, "service") == [inc.root_cause_service], (inc.fault_type, result.top(3))
    assert result.top(1) == [inc.root_cause_metric]  # and the metric the fault acted on
    assert result.causes[0].path  # every top cause comes with where it leads


@pytest.mark.parametrize("seed", [11, 23, 30, 35, 47])
def test_cpu_hogs_are_blamed_on_the_cpu_not_on_the_traffic_beside_it(seed):
    # CPU hogs whose same-step traffic -> cpu edge the learner orients backwards (the
    # default ranking before innovations blamed the traffic in each of these)
    inc = simulate_incident(services=10, random_state=seed)
    assert inc.fault_type == "cpu_hog"
    model = CausalDetector().fit(inc.normal)
    result = explain(model, inc.anomalous, (inc.fault_start, inc.fault_end))
    assert result.top(1) == [inc.root_cause_metric], result.top(3)
    innovation = explain(model, inc.anomalous, (inc.fault_start, inc.fault_end), method="innovation")
    assert innovation.top(1) == [inc.root_cause_metric]


def test_innovations_are_the_autoregression_residuals_by_hand():
    # x_t = A x_{t-1} + e_t: the fitted autoregression recovers A, and the innovations of
    # new data are (x_t - A x_{t-1} - mean) / sd, the first row seeing itself as its past
    A = np.array([[0.5, 0.0, 0.0], [0.6, 0.3, 0.0], [0.0, -0.4, 0.2]])  # row i: metric i's past weights
    rng = np.random.default_rng(0)
    X = np.zeros((20_000, 3))
    for t in range(1, len(X)):
        X[t] = A @ X[t - 1] + rng.standard_normal(3)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    model = CausalDetector(lags=1, drift_window=0).fit(frame)
    scale = model.encoder_.scale_.to_numpy()
    np.testing.assert_allclose(model.innov_coef_.T, A * scale[None, :] / scale[:, None], atol=0.03)
    new = frame.iloc[:50]
    Xe = model.encoder_.transform(new).to_numpy()
    past = np.vstack([Xe[:1], Xe[:-1]]) - model.innov_mean_[3:]
    expected = ((Xe - model.innov_mean_[:3] - past @ model.innov_coef_ - model.innov_resid_mean_)
                / model.innov_resid_std_)
    np.testing.assert_allclose(model.innovations(new), expected, atol=1e-10)
    assert abs(np.std(model.innovations(frame)) - 1) < 0.01


def test_innovations_keep_the_priors_forbidden_causes_out():
    from faultgraph.discovery import PriorKnowledge

    A = np.array([[0.5, 0.0, 0.0], [0.6, 0.3, 0.0], [0.0, -0.4, 0.2]])
    rng = np.random.default_rng(1)
    X = np.zeros((5000, 3))
    for t in range(1, len(X)):
        X[t] = A @ X[t - 1] + rng.standard_normal(3)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    free = CausalDetector(lags=2).fit(frame)
    tiered = CausalDetector(lags=2, prior=PriorKnowledge(tiers=(("a",), ("b", "c")))).fit(frame)
    # b and c may not drive a, at any lag: a's equation holds only its own past
    d = 3
    rows_into_a = tiered.innov_coef_[:, 0].reshape(2, d)  # (lag, source)
    assert np.all(rows_into_a[:, 1:] == 0) and abs(rows_into_a[0, 0] - 0.5) < 0.05
    assert np.any(free.innov_coef_[:, 0].reshape(2, d)[:, 1:] != 0)
    # where the prior allows everything, both fits agree
    np.testing.assert_allclose(tiered.innov_coef_[:, 1:], free.innov_coef_[:, 1:], atol=1e-12)


def _chain(shift: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """a -> b -> c, each one step later, with memory; from step 200 a's own noise is
    shifted by ``shift``. Returns the normal period and the test period."""
    A = np.zeros((1, 3, 3))
    A[0][np.arange(3), np.arange(3)] = 0.3
    A[0, 0, 1], A[0, 1, 2] = 1.5, 1.5
    names = ["a", "b", "c"]
    normal = pd.DataFrame(simulate_lagged_sem(np.zeros((3, 3)), A, 3000, random_state=0), columns=names)
    test = pd.DataFrame(simulate_lagged_sem(np.zeros((3, 3)), A, 300, random_state=1), columns=names)
    effect = np.zeros((300, 3))
    for t in range(200, 300):
        effect[t] = effect[t - 1] @ A[0] + np.array([shift, 0.0, 0.0])
    return normal, test + effect


def test_chain_fault_in_a_ranks_a_first_although_b_and_c_deviate_more():
    normal, test = _chain(2.0)
    model = CausalDetector().fit(normal)
    z = ((test.iloc[220:] - normal.median()) / normal.std()).abs().mean()
    assert z["b"] > z["a"] and z["c"] > z["a"]          # plain z-scores blame the effects
    assert explain(model, test, (220, 299), method="baro").top(1) != ["a"]
    result = explain(model, test, (220, 299))
    assert result.top(1) == ["a"]                         # the causal ranking finds the cause
    assert result.causes[0].path[:2] == ("a", "b")


def test_step_scores_are_explains_parts_step_by_step():
    inc = simulate_incident(services=5, random_state=3)
    model = CausalDetector().fit(inc.normal)
    data = pd.concat([inc.normal.iloc[-400:], inc.anomalous])
    window = (inc.fault_start, inc.fault_end)
    steps = {m: step_scores(model, data, window, method=m) for m in ("noise", "innovation", "nsigma", "baro",
                                                                      "causal", "causal+innovation+nsigma")}
    assert steps["noise"].index.equals(data.loc[inc.fault_start:inc.fault_end].index)
    by_metric = {c.metric: c for c in explain(model, data, window).causes}
    names = list(steps["noise"].columns)
    # explain's window scores are the steps aggregated: mean, burst of the largest, max
    np.testing.assert_allclose(steps["noise"].mean(), [by_metric[m].noise_z for m in names])
    np.testing.assert_allclose(burst(steps["innovation"].to_numpy()), [by_metric[m].innovation_z for m in names])
    np.testing.assert_allclose(steps["nsigma"].max(), [by_metric[m].deviation_z for m in names])
    for method in ("baro", "causal"):
        aggregate = steps[method].max() if method == "baro" else steps[method].mean()
        scores = {c.metric: c.score for c in explain(model, data, window, method=method).causes}
        np.testing.assert_allclose(aggregate, [scores[m] for m in names])
    np.testing.assert_allclose(steps["causal+innovation+nsigma"],
                               steps["noise"] + steps["innovation"] + steps["nsigma"])
    # one step is a window here; N-sigma by hand against the training period
    one = step_scores(model, data, (inc.fault_start, inc.fault_start), method="nsigma", reference_window=0)
    hand = ((data.loc[inc.fault_start] - inc.normal.mean()) / inc.normal.std(ddof=0)).abs()
    np.testing.assert_allclose(one.iloc[0], hand[one.columns])
    with pytest.raises(InvalidInputError, match="holds 1 steps; at least 3"):
        explain(model, data, (inc.fault_start, inc.fault_start))
    # a metric constant in training is inf where it left its value, 0 elsewhere
    model = CausalDetector().fit(inc.normal.assign(restarts=0.0))
    data = data.assign(restarts=0.0)
    data.loc[inc.fault_start + 2 : inc.fault_start + 3, "restarts"] = 1.0
    steps = step_scores(model, data, (inc.fault_start, inc.fault_start + 5))
    assert list(steps["restarts"]) == [0.0, 0.0, np.inf, np.inf, 0.0, 0.0]
    assert "restarts" not in step_scores(model, data, (inc.fault_start + 4, inc.fault_start + 5))
    with pytest.raises(InvalidInputError, match="method must be one of"):
        step_scores(model, data, window, method="zscore")



def test_step_scores_other_methods_and_indexes():
    inc = simulate_incident(services=4, random_state=6)
    model = CausalDetector().fit(inc.normal)
    window = (inc.fault_start, inc.fault_start + 9)
    parts = {m: step_scores(model, inc.anomalous, window, method=m) for m in ("causal", "nsigma", "causal+nsigma")}
    np.testing.assert_allclose(parts["causal+nsigma"], parts["causal"] + parts["nsigma"])
    draws = step_scores(model, inc.anomalous, window, method="random", random_state=3)
    assert draws.shape == parts["nsigma"].shape and ((draws >= 0) & (draws < 1)).all().all()
    assert draws.equals(step_scores(model, inc.anomalous, window, method="random", random_state=3))
    # a time index (tz-aware): bounds as times, or as bare numbers, seconds since 1970 as the readers take them
    times = pd.date_range("2026-01-01", periods=len(inc.anomalous), freq="10s", tz="UTC")
    timed = inc.anomalous.set_axis(times, axis=0)
    first = inc.anomalous.index.get_loc(inc.fault_start)
    by_time = step_scores(model, timed, (times[first], times[first + 9]), method="nsigma")
    np.testing.assert_allclose(by_time, parts["nsigma"])
    seconds = (times[first].timestamp(), times[first + 9].timestamp())
    assert step_scores(model, timed, seconds, method="nsigma").index.equals(by_time.index)
    assert explain(model, timed, seconds).window == (times[first], times[first + 9])
    # a repeated index value (explain accepts it): one row per step still
    repeated = inc.anomalous.set_axis(inc.anomalous.index.where(inc.anomalous.index != inc.fault_start + 3,
                                                                inc.fault_start + 2), axis=0)
    restarts = np.zeros(len(repeated))
    restarts[first + 3] = 1.0  # the second of the two rows with one index value
    model = CausalDetector().fit(inc.normal.assign(restarts=0.0))
    steps = step_scores(model, repeated.assign(restarts=restarts), window, method="nsigma")
    assert len(steps) == 10 and list(steps.index[2:4]) == [inc.fault_start + 2] * 2
    assert list(steps["restarts"]) == [0, 0, 0, np.inf, 0, 0, 0, 0, 0, 0]


def test_rca_json_keeps_numbers_as_numbers_and_times_as_text():
    inc = simulate_incident(services=3, random_state=5)
    model = CausalDetector().fit(inc.normal)
    as_json = explain(model, inc.anomalous, (inc.fault_start, inc.fault_end)).to_dict()
    assert as_json["window"] == [inc.fault_start, inc.fault_end] and not isinstance(as_json["window"][0], str)
    timed = inc.anomalous.set_index(pd.date_range("2026-01-01", periods=len(inc.anomalous), freq="10s"))
    model = CausalDetector().fit(inc.normal.set_index(pd.date_range("2025-12-31", periods=len(inc.normal),
                                                                    freq="10s")))
    window = (timed.index[50], timed.index[70])
    as_json = explain(model, timed, window).to_dict()
    assert as_json["window"] == ["2026-01-01 00:08:20", "2026-01-01 00:11:40"]
    assert [pd.Timestamp(v) for v in as_json["window"]] == list(window)
    json.dumps(as_json, allow_nan=False)
    long = pd.concat([inc.normal.iloc[-100:], inc.anomalous])  # a recent normal before the window
    as_json = explain(CausalDetector().fit(inc.normal), long, (inc.fault_start, inc.fault_end)).to_dict()
    assert as_json["reference"] == [long.index[0], inc.fault_start - 1] and long.index[0] == inc.fault_start - 130


def test_onsets_follow_the_fault_down_the_chain():
    # what broke first: a leaves its normal range within two steps of the fault, then b, then c
    normal, test = _chain(4.0)
    result = explain(CausalDetector().fit(normal), test, (190, 299))
    onset = {c.metric: c.onset for c in result.causes}
    assert 200 <= onset["a"] <= 202 and onset["a"] < onset["b"] < onset["c"]
    # a window that begins after the fault: each excursion is traced back to where it
    # began, with or without a recent normal (the rows before the window are read for it)
    model = CausalDetector().fit(normal)
    for window, reference_window in (((205, 299), None), ((250, 299), None), ((250, 299), 0)):
        late = explain(model, test, window, reference_window=reference_window)
        assert {c.metric: c.onset for c in late.causes} == onset
    assert all(c.onset is None for c in explain(model, test, (150, 199)).causes)  # before the fault


def test_onsets_at_the_edges_of_the_data_read():
    inc = simulate_incident(services=10, random_state=3)
    model = CausalDetector().fit(inc.normal)
    # a window from the data's first row: its innovations have no past there, no break is
    # read into them; the injected metric breaks at the injection, the others later
    result = explain(model, inc.anomalous, (inc.anomalous.index[0], inc.fault_end))
    onset = {c.metric: (c.onset, c.onset_censored) for c in result.causes}
    assert onset[inc.root_cause_metric] == (inc.fault_start, False)
    assert not any(censored for _, censored in onset.values())
    # a gap too long to fill among the rows read only for onsets is no error: they are left out
    data = pd.concat([inc.normal.iloc[-400:], inc.anomalous])
    gappy = data.copy()
    gappy.iloc[100:110, 3] = np.nan
    for reference_window in (0, 100):
        a = explain(model, gappy, (inc.fault_start, inc.fault_end), reference_window=reference_window)
        b = explain(model, data, (inc.fault_start, inc.fault_end), reference_window=reference_window)
        assert a.top(len(a.causes)) == b.top(len(b.causes)) and a.reference == b.reference
        np.testing.assert_allclose([c.score for c in a.causes], [c.score for c in b.causes], rtol=1e-12)
    # an excursion that reaches back to the first row read is censored: then or before
    model = CausalDetector().fit(inc.normal.assign(restarts=0.0))
    moved = data.assign(restarts=0.0)
    moved.loc[inc.fault_start - 380 :, "restarts"] = 1.0
    first = explain(model, moved, (inc.fault_start, inc.fault_end), reference_window=0).causes[0]
    assert (first.metric, first.onset_censored) == ("restarts", True)
    assert first.onset == moved.index[moved.index.get_loc(inc.fault_start) - 360 - 1 - 6]  # lookback, lag, gap margin
    assert first.to_dict()["onset_censored"] is True


def test_the_reports_step_picture_uses_the_explanations_recent_normal(monkeypatch):
    import faultgraph.report.incident as incident
    from faultgraph.report import render_incident_report

    inc = simulate_incident(services=5, random_state=2)
    model = CausalDetector().fit(inc.normal)
    data = pd.concat([inc.normal.iloc[-200:], inc.anomalous])
    data.iloc[:, :5] += 3.0  # a level settled since training: the recent normal matters
    window = (inc.fault_start, inc.fault_end)
    for reference_window, steps in ((100, 100), (None, 230), (0, 0)):
        result = explain(model, data, window, reference_window=reference_window)
        assert result.reference_window == (reference_window if reference_window is not None else 360)
        seen = {}

        def spy(*args, seen=seen, **kwargs):
            seen.update(kwargs)
            return step_scores(*args, **kwargs)

        monkeypatch.setattr(incident, "step_scores", spy)
        assert 'id="steps"' in render_incident_report(model, data, result)
        assert seen["reference_window"] == result.reference_window and seen["method"] == result.method
        # with it, the steps are those explain aggregated (its recent normal, not another)
        z = step_scores(model, data, window, method="nsigma", reference_window=seen["reference_window"])
        deviation = {c.metric: c.deviation_z for c in result.causes}
        np.testing.assert_allclose(z.max(), [deviation[m] for m in z.columns])
        span = None if steps == 0 else (data.index[230 - steps], data.index[229])
        assert result.reference == span


def test_explain_refuses_bad_windows_and_targets():
    inc = simulate_incident(services=5, random_state=0)
    model = CausalDetector().fit(inc.normal)
    with pytest.raises(InvalidInputError, match="outside the data"):
        explain(model, inc.anomalous, (10_000, 20_000))
    with pytest.raises(InvalidInputError, match="holds 1 steps; at least 3"):
        explain(model, inc.anomalous, (1550, 1550))
    first, last = inc.anomalous.index[0], inc.anomalous.index[-1]
    for window in ((first - 100, 1600), (1550, last + 1)):  # partly outside: refused, not clipped
        with pytest.raises(InvalidInputError, match=rf"reaches outside the data \({first} .. {last}\)"):
            explain(model, inc.anomalous, window)
    with pytest.raises(InvalidInputError, match="window start 1600 comes after its end 1550"):
        explain(model, inc.anomalous, (1600, 1550))
    with pytest.raises(InvalidInputError, match="window bounds must be times or numbers, got nan"):
        explain(model, inc.anomalous, (float("nan"), 1600))
    with pytest.raises(NotFittedError, match="CausalDetector is not fitted yet"):
        explain(CausalDetector(), inc.anomalous, (1550, 1600))
    with pytest.raises(InvalidInputError, match="model must be a fitted CausalDetector, got str"):
        explain("model", inc.anomalous, (1550, 1600))
    with pytest.raises(InvalidInputError, match="services must be a mapping metric -> service or a function"):
        explain(model, inc.anomalous, (1550, 1600), services=5)
    with pytest.raises(InvalidInputError, match="n_paths must be an integer >= 0, got 'x'"):
        explain(model, inc.anomalous, (1550, 1600), n_paths="x")
    with pytest.raises(InvalidInputError, match="target 'nope'"):
        explain(model, inc.anomalous, (1550, 1600), target="nope")
    with pytest.raises(InvalidInputError, match="method must be one of"):
        explain(model, inc.anomalous, (1550, 1600), method="magic")
    with pytest.raises(InvalidInputError, match="window must be"):
        explain(model, inc.anomalous, 1550)
    for bad in (-1, 30, 2.5):
        with pytest.raises(InvalidInputError, match="reference_window must be 0 .* or at least 60 steps"):
            explain(model, inc.anomalous, (1550, 1600), reference_window=bad)
    with pytest.raises(InvalidInputError, match="must be in time order"):
        explain(model, inc.anomalous.iloc[::-1], (1550, 1600))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_level_that_settled_before_the_incident_is_not_blamed_for_it(seed):
    # a metric moved to a new level 200 steps before the fault (a deploy, say) and stays
    # there: against the training period it deviates most; against the recent normal
    # before the window it is quiet, and the faulted metric comes first again
    inc = simulate_incident(services=10, random_state=seed)
    model = CausalDetector().fit(inc.normal.iloc[:1200])
    data = pd.concat([inc.normal.iloc[1200:], inc.anomalous])
    shifted = "s2_memory" if inc.root_cause_service != "s2" else "s4_memory"
    data.loc[data.index >= inc.fault_start - 200, shifted] += 20 * inc.normal[shifted].iloc[:1200].std()
    window = (inc.fault_start, inc.fault_end)
    assert explain(model, data, window).top(1) == [inc.root_cause_metric]
    assert explain(model, data, window, reference_window=0).top(1) == [shifted]


def test_a_metric_constant_in_training_that_moves_is_listed_first(tmp_path):
    # restarts were 0 throughout the normal period (the encoder drops the metric: no
    # scale to learn) and jump to 2 in the window: it comes first, with what it was
    from faultgraph.report import render_incident_report

    inc = simulate_incident(services=10, random_state=0)
    normal = inc.normal.assign(s4_restarts=0.0, s5_restarts=0.0)
    model = CausalDetector().fit(normal)
    assert model.encoder_.constants_ == {"s4_restarts": 0.0, "s5_restarts": 0.0}
    data = pd.concat([normal.iloc[-100:], inc.anomalous.assign(s4_restarts=0.0, s5_restarts=0.0)])
    data.loc[inc.fault_start + 10 : inc.fault_start + 20, "s4_restarts"] = 2.0
    data.loc[inc.fault_start - 99 :, "s5_restarts"] = 1.0  # moved for good before the window: its new normal
    window = (inc.fault_start, inc.fault_end)
    result = explain(model, data, window)
    first = result.causes[0]
    assert (first.metric, first.constant_value, first.largest_departure) == ("s4_restarts", 0.0, 2.0)
    assert result.top(1, "service") == ["s4"] and "s5_restarts" not in result.top(len(result.causes))
    assert result.causes[1].metric == inc.root_cause_metric  # the model's ranking follows
    as_json = result.to_dict()["causes"][0]
    assert as_json["score"] is None and as_json["noise_z"] is None and as_json["constant_value"] == 0.0
    # it cannot be the symptom, and the library says why (not "no metric", as if misspelt)
    with pytest.raises(InvalidInputError, match="'s4_restarts' was constant at 0 throughout the training data"):
        explain(model, data, window, target="s4_restarts")
    with pytest.raises(InvalidInputError, match="'s4_restart' is not a metric of the model"):
        explain(model, data, window, target="s4_restart")
    # against the training period alone both moved, s5 at every step of the window: first
    assert explain(model, data, window, reference_window=0).top(2) == ["s5_restarts", "s4_restarts"]
    page = render_incident_report(model, data, result)
    assert "constant at 0 throughout the normal period, off it by up to 2" in page
    assert f"<td class='path'>s4_restarts ({inc.fault_start + 10})</td>" in page  # its onset, in the table
    assert ("not in the causal graph (it never moved in training); the model's first cause, "
            f"{inc.root_cause_metric}") in page
    assert f"constant at 0 in training, off it from {inc.fault_start + 10} by up to 2 here" in str(result)
    assert first.onset == inc.fault_start + 10 and as_json["onset"] == inc.fault_start + 10
    again = CausalDetector.load(model.save(tmp_path / "m"))  # the constants travel with the model
    assert again.encoder_.constants_ == model.encoder_.constants_
    # a gap in the settled constant is no move; nor is a return to the training value, nor
    # a column the model dropped as empty that holds garbage now
    data.loc[inc.fault_start + 5, "s5_restarts"] = np.nan
    data.loc[inc.fault_start + 30 :, "s5_restarts"] = 0.0
    assert explain(model, data, window).top(2) == ["s4_restarts", inc.root_cause_metric]
    model = CausalDetector().fit(normal.assign(dead=np.nan))
    assert explain(model, data.assign(dead=np.inf), window).top(1) == ["s4_restarts"]


def test_a_target_that_did_not_move_is_said_to_be_flat():
    """The library says it, not only the CLI: a symptom that held one value explains no move."""
    inc = simulate_incident(services=10, random_state=0)
    model = CausalDetector().fit(inc.normal)
    data = pd.concat([inc.normal.iloc[-100:], inc.anomalous])
    flat = next(m for m in model.encoder_.columns_ if not m.startswith(inc.root_cause_service + "_"))
    data.loc[inc.fault_start - 1: inc.fault_end, flat] = 3.0
    window = (inc.fault_start, inc.fault_end)
    with pytest.warns(UserWarning, match=f"target '{flat}' held one value \\(3\\) throughout the window"):
        result = explain(model, data, window, target=flat)
    assert result.caveats[0][0] == flat and "give as target a metric that moved" in result.caveats[0][1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a symptom that moved: no word
        assert not [m for m, _ in explain(model, data, window, target=inc.root_cause_metric).caveats
                    if m == inc.root_cause_metric]


def test_a_constant_that_left_its_value_before_the_window_did_not_break_in_it():
    # forty rows before the window: too few for a recent normal (MIN_REFERENCE), enough to
    # see that s5 had settled elsewhere and s6 is off its value more often than not since
    # training, while s4 held its value until the window (in the median)
    inc = simulate_incident(services=10, random_state=0)
    flat = {"s4_restarts": 0.0, "s5_restarts": 0.0, "s6_restarts": 0.0}
    model = CausalDetector().fit(inc.normal.assign(**flat))
    data = pd.concat([inc.normal.iloc[-10:], inc.anomalous]).assign(**flat)
    data.loc[inc.fault_start + 10 : inc.fault_start + 20, "s4_restarts"] = 2.0
    data["s5_restarts"] = 54.75  # settled at a new level since training
    data["s6_restarts"] = np.where(np.arange(len(data)) % 3, 1.0, 0.0)  # varies now, mostly off its value
    data.loc[inc.fault_start - 4, "s4_restarts"] = 1.0  # one blip before the window: s4 still held its value
    window = (inc.fault_start, inc.fault_end)
    result = explain(model, data, window)
    assert result.reference is None
    assert [c.metric for c in result.causes if c.constant_value is not None] == ["s4_restarts"]
    assert result.top(2) == ["s4_restarts", inc.root_cause_metric]
    scores = step_scores(model, data, window)
    assert "s4_restarts" in scores and "s5_restarts" not in scores and "s6_restarts" not in scores
    # no rows before the window, or the training period alone as the reference: all three moved
    alone = explain(model, data, window, reference_window=0)
    assert {c.metric for c in alone.causes if c.constant_value is not None} == set(flat)
    cut = explain(model, data.loc[inc.fault_start:], window)
    assert {c.metric for c in cut.causes if c.constant_value is not None} == set(flat)
    # those already off their value before the window are said to be a state the training
    # period did not see; s4, which broke in the window, is not
    unseen = dict(alone.caveats)
    assert set(unseen) == {"s5_restarts", "s6_restarts"}
    before = int(np.flatnonzero(data.index == inc.fault_start)[0])
    assert unseen["s5_restarts"].startswith(f"constant at 0 in training and off it at 100% of the {before} steps")
    share = (data["s6_restarts"].iloc[:before] != 0).mean()
    assert unseen["s6_restarts"].startswith(f"constant at 0 in training and off it at {share:.0%} of the {before} ")
    assert "a state the training period did not see" in unseen["s6_restarts"]
    assert "note on s5_restarts: constant at 0 in training" in str(alone) and not result.caveats
    # a counter that settled at 1 before the window and steps to 3 in it moved from its new
    # level: it is listed (with a recent normal or without one)
    longer = pd.concat([inc.normal.iloc[-300:-10], data]).assign(s5_restarts=1.0)
    longer.loc[inc.fault_start + 10 :, "s5_restarts"] = 3.0
    result = explain(model, longer, window)
    assert result.reference is not None and "s5_restarts" in result.top(len(result.causes))
    data.loc[inc.fault_start + 10 :, "s5_restarts"] = 60.0
    assert "s5_restarts" in explain(model, data, window).top(len(result.causes))


def test_the_recent_normal_spans_the_models_drift_window_and_at_least_60_steps():
    inc = simulate_incident(services=5, random_state=1)
    data = pd.concat([inc.normal.iloc[-400:], inc.anomalous])
    first = data.index.get_loc(inc.fault_start)
    window = (inc.fault_start, inc.fault_end)
    for drift_window, steps in ((360, 360), (30, 60), (0, None)):
        model = CausalDetector(drift_window=drift_window).fit(inc.normal.iloc[:1000])
        reference = explain(model, data, window).reference
        assert reference == (None if steps is None else (data.index[first - steps], data.index[first - 1]))


def test_recent_normal_and_burst_by_hand():
    values = np.zeros((100, 3))
    values[:, 0] = 5.0  # settled 5 sd away: 4 sd of it is drift (tolerance 1)
    values[:, 1] = -0.5  # within the tolerance: left alone
    values[90:, 2] = 7.0  # the incident itself, only inside the window
    mask = np.zeros(100, bool)
    mask[90:] = True
    assert window_reference(mask, 360) == slice(0, 90)
    assert window_reference(mask, 50) is None  # 50 steps: fewer than MIN_REFERENCE = 60
    assert window_reference(mask, 0) is None
    np.testing.assert_allclose(recent_normal(values, mask, slice(0, 90)), np.tile([1.0, -0.5, 7.0], (10, 1)))
    np.testing.assert_allclose(recent_normal(values, mask, None), values[90:])
    A = np.array([[1.0, 0.0], [5.0, 2.0], [3.0, 2.0], [4.0, 9.0]])
    np.testing.assert_allclose(burst(A), [(5 + 4 + 3) / 3, (9 + 2 + 2) / 3])
    np.testing.assert_allclose(burst(A[:2]), [3.0, 1.0])  # shorter than 3 steps: the mean


def test_case_folder_and_mismatched_columns(tmp_path):
    inc = simulate_incident(services=4, random_state=2)
    inc.write(tmp_path / "case")
    case = load_case(tmp_path / "case")
    assert case.truth["root_cause_metric"] == inc.root_cause_metric
    pd.testing.assert_frame_equal(case.normal, inc.normal.astype(float), check_index_type=False, check_names=False)
    bad = inc.anomalous.drop(columns=["s1_cpu"]).assign(s9_cpu=1.0)
    bad.to_csv(tmp_path / "case" / "anomalous.csv")
    with pytest.raises(InvalidInputError, match="only in normal: 's1_cpu'; only in anomalous: 's9_cpu'"):
        load_case(tmp_path / "case")
    with pytest.raises(InvalidInputError, match="does not exist"):
        load_case(tmp_path / "nowhere")


def test_explain_cli_both_modes(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from faultgraph.cli import app

    runner = CliRunner()
    assert runner.invoke(app, ["simulate", "incident", "--seed", "4", "--out", str(tmp_path / "case")]).exit_code == 0
    truth = json.loads((tmp_path / "case" / "truth.json").read_text())
    out = tmp_path / "rca.json"
    result = runner.invoke(app, ["explain", "--normal", str(tmp_path / "case" / "normal.csv"), "--anomalous",
                                 str(tmp_path / "case" / "anomalous.csv"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    rca = json.loads(out.read_text())
    assert {"causes", "target", "window", "method", "services"} <= set(rca)
    assert set(rca["causes"][0]) == {"metric", "service", "score", "noise_z", "innovation_z", "deviation_z",
                                     "effect_on_target", "path", "constant_value", "largest_departure", "onset",
                                     "onset_censored"}
    for c in rca["causes"]:  # the default score is the sum of its parts
        assert c["score"] == pytest.approx(c["noise_z"] + c["innovation_z"] + c["deviation_z"])
    assert rca["services"][0]["service"] == truth["root_cause_service"]
    # model mode
    assert runner.invoke(app, ["fit", str(tmp_path / "case" / "normal.csv"), "--out", str(tmp_path / "m")]).exit_code == 0
    result = runner.invoke(app, ["explain", str(tmp_path / "m"), str(tmp_path / "case" / "anomalous.csv"),
                                 "--start", str(truth["fault_start"]), "--end", str(truth["fault_end"]),
                                 "--method", "baro", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["method"] == "baro"
    # --steps: the per-step scores of the same method, one row per step, the time index kept
    # exact (far from 0, as epoch-like numbers are: %.6g would merge 1001530 and 1001531)
    shifted = pd.read_csv(tmp_path / "case" / "anomalous.csv", index_col=0)
    shifted.index = shifted.index + 1_000_000.0
    shifted.to_csv(tmp_path / "shifted.csv")
    result = runner.invoke(app, ["explain", str(tmp_path / "m"), str(tmp_path / "shifted.csv"), "--start",
                                 str(truth["fault_start"] + 1_000_000), "--end", str(truth["fault_end"] + 1_000_000),
                                 "--method", "nsigma", "--out", str(out), "--steps", str(tmp_path / "steps.csv")])
    assert result.exit_code == 0, result.output
    written = pd.read_csv(tmp_path / "steps.csv", index_col=0)
    from faultgraph.rca import step_scores

    expected = step_scores(CausalDetector.load(tmp_path / "m"), shifted,
                           (truth["fault_start"] + 1_000_000, truth["fault_end"] + 1_000_000), method="nsigma")
    assert list(written.index) == list(expected.index) and written.index.is_unique
    np.testing.assert_allclose(written.to_numpy(), expected.to_numpy(), rtol=1e-5)
    # with 230 steps before the window, the window is compared with them (its recent
    # normal); --reference-window 0 compares with the training period alone
    before = pd.concat([pd.read_csv(tmp_path / "case" / "normal.csv", index_col=0).iloc[-200:],
                        pd.read_csv(tmp_path / "case" / "anomalous.csv", index_col=0)])
    before.to_csv(tmp_path / "longer.csv")
    window = ["--start", str(truth["fault_start"]), "--end", str(truth["fault_end"])]
    result = runner.invoke(app, ["explain", str(tmp_path / "m"), str(tmp_path / "longer.csv"), *window,
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    rca = json.loads(out.read_text())
    first = before.index.get_loc(truth["fault_start"])
    assert [float(v) for v in rca["reference"]] == [before.index[0], before.index[first - 1]]
    assert "reference_window" not in rca
    assert rca["causes"][0]["metric"] == truth["root_cause_metric"]
    result = runner.invoke(app, ["explain", str(tmp_path / "m"), str(tmp_path / "longer.csv"), *window,
                                 "--reference-window", "0", "--out", str(out), "--html", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    rca = json.loads(out.read_text())
    assert rca["reference"] is None and rca["reference_window"] == 0
    assert "compared with:</b> the normal period\n" in (tmp_path / "r.html").read_text()
    result = runner.invoke(app, ["report", str(tmp_path / "m"), str(out), "--out", str(tmp_path / "again.html")])
    assert result.exit_code == 0, result.output  # report compares the same way explain did
    assert "compared with:</b> the normal period\n" in (tmp_path / "again.html").read_text()
    result = runner.invoke(app, ["explain", str(tmp_path / "m"), str(tmp_path / "case" / "anomalous.csv"),
                                 "--start", "0", "--end", "5", "--out", str(out)])
    assert result.exit_code == 2 and "outside the data" in result.stderr
    result = runner.invoke(app, ["explain", "--normal", str(tmp_path / "case" / "normal.csv"), "--out", str(out)])
    assert result.exit_code == 2 and "needs both --normal and --anomalous" in result.stderr
    # case-mode options with a fitted model are refused, not ignored
    result = runner.invoke(app, ["explain", str(tmp_path / "m"), str(tmp_path / "case" / "anomalous.csv"), "--start",
                                 str(truth["fault_start"]), "--end", str(truth["fault_end"]), "--lags", "3",
                                 "--prior", "missing.yaml", "--out", str(out)])
    assert result.exit_code == 2 and "--lags, --prior apply to case mode" in result.stderr
    # an output that cannot be written stops the command before any other is written
    out.unlink()
    result = runner.invoke(app, ["explain", str(tmp_path / "m"), str(tmp_path / "case" / "anomalous.csv"), "--start",
                                 str(truth["fault_start"]), "--end", str(truth["fault_end"]), "--out", str(out),
                                 "--html", str(tmp_path)])
    assert result.exit_code == 2 and "is a folder; give a file name" in result.stderr and not out.exists()
    result = runner.invoke(app, ["explain", str(tmp_path / "m"), str(tmp_path / "case" / "anomalous.csv"), "--start",
                                 str(truth["fault_start"]), "--end", str(truth["fault_end"]), "--out", str(out),
                                 "--steps", str(out)])
    assert result.exit_code == 2 and "--out and --steps name the same file" in result.stderr and not out.exists()
    result = runner.invoke(app, ["explain", str(tmp_path / "m"), str(tmp_path / "case" / "anomalous.csv"), "--start",
                                 str(truth["fault_start"]), "--end", str(truth["fault_end"]), "--out",
                                 str(tmp_path / "x"), "--html", str(tmp_path / "x" / "r.html")])
    assert result.exit_code == 2 and "one would be written inside the other" in result.stderr
    assert not (tmp_path / "x").exists()
    monkeypatch.chdir(tmp_path)  # --html rca.json clashes with --out's default, rca.json
    result = runner.invoke(app, ["explain", str(tmp_path / "m"), str(tmp_path / "case" / "anomalous.csv"),
                                 "--start", str(truth["fault_start"]), "--end", str(truth["fault_end"]),
                                 "--html", "rca.json"])
    assert result.exit_code == 2 and "--out (default) and --html name the same file 'rca.json'" in result.stderr
    # --json prints for machines and writes nothing unless --out is given
    out.unlink(missing_ok=True)
    result = runner.invoke(app, ["explain", str(tmp_path / "m"), str(tmp_path / "case" / "anomalous.csv"), *window,
                                 "--json"], catch_exceptions=False)
    assert result.exit_code == 0 and json.loads(result.stdout)["causes"][0]["metric"] == truth["root_cause_metric"]
    assert not out.exists() and not (tmp_path / "rca.json").exists() and "wrote" not in result.stderr
    # a metric with no value at all cannot be filled however large max_gap is: refused, not NaN scores
    blank = pd.read_csv(tmp_path / "case" / "anomalous.csv", index_col=0)
    blank[truth["root_cause_metric"]] = np.nan
    blank.to_csv(tmp_path / "blank.csv")
    assert runner.invoke(app, ["fit", str(tmp_path / "case" / "normal.csv"), "--max-gap", "1000",
                               "--out", str(tmp_path / "m1000")]).exit_code == 0
    for args in (["detect", str(tmp_path / "m1000"), str(tmp_path / "blank.csv"), "--out", str(tmp_path / "s.csv")],
                 ["explain", str(tmp_path / "m1000"), str(tmp_path / "blank.csv"), *window, "--out", str(out)]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert f"no value at all for '{truth['root_cause_metric']}'" in result.stderr
    # extra metrics are ignored, and said so
    blank[truth["root_cause_metric"]] = pd.read_csv(tmp_path / "case" / "anomalous.csv", index_col=0)[
        truth["root_cause_metric"]]
    blank["label"] = 0
    blank.to_csv(tmp_path / "extra.csv")
    result = runner.invoke(app, ["explain", str(tmp_path / "m"), str(tmp_path / "extra.csv"), *window,
                                 "--out", str(out)])
    assert result.exit_code == 0 and "ignoring 1 metric(s) the model was not fitted on: 'label'" in result.stderr
    assert json.loads(out.read_text())["causes"][0]["metric"] == truth["root_cause_metric"]


def test_ranking_metrics_by_hand():
    rankings = [["a", "b", "c"], ["b", "a", "c"], ["c", "b", "a"]]
    truths = ["a", "a", "a"]
    assert ac_at_k(rankings, truths, 1) == pytest.approx(1 / 3)
    assert ac_at_k(rankings, truths, 2) == pytest.approx(2 / 3)
    assert avg_at_k(rankings, truths, 3) == pytest.approx((1 / 3 + 2 / 3 + 1) / 3)
    # labelled {0, 2}; ranking 2, 5, 0: top-2 (100 %) holds 2 only; top-3 (150 %) holds both
    assert hit_rate([2, 5, 0], [0, 2], 100) == 0.5 and hit_rate([2, 5, 0], [0, 2], 150) == 1.0
    assert ndcg([2, 5, 0], [0, 2], 100) == pytest.approx(1.0 / (1 + 1 / np.log2(3)))
    assert default_service("checkout_cpu") == "checkout" and default_service("cpu") == "cpu"
    with pytest.raises(InvalidInputError):
        ac_at_k([], [], 1)
