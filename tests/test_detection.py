"""Unsupervised detection: residual scores, POT thresholds and the detection metrics."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from faultgraph import InvalidInputError, NotFittedError
from faultgraph.detect import CausalDetector, NSigmaDetector, PCADetector, RandomDetector, pot_threshold, quantile_threshold
from faultgraph.evaluate import detection_report, label_segments, point_adjust
from faultgraph.simulate import simulate_lagged_sem


@pytest.fixture(scope="module")
def system():
    """A lagged linear system like a service chain: 6 metrics whose effects reach their
    neighbours one step later (0 -> 1 -> 2 -> 3, 0 -> 4 -> 5), one same-step edge (1 -> 4
    is absent; 4 -> 5 also acts at once), and memory on every metric. Train 3000 steps,
    test 1000 with a fault at steps 500-559: node 1's own noise shifts by 4 sd."""
    d = 6
    W = np.zeros((d, d))
    W[4, 5] = 0.8
    A = np.zeros((1, d, d))
    A[0][np.arange(d), np.arange(d)] = 0.5
    A[0, 0, 1], A[0, 1, 2], A[0, 2, 3], A[0, 0, 4] = 0.9, -0.8, 0.9, 0.7
    names = [f"m{i}" for i in range(d)]
    train = pd.DataFrame(simulate_lagged_sem(W, A, 3000, random_state=7), columns=names)
    shock = np.zeros((1000, d))
    shock[500:560, 1] = 4.0
    Xt = simulate_lagged_sem(W, A, 1000, random_state=8)
    # the shock enters node 1's equation and travels through the same dynamics
    inv = np.linalg.inv(np.eye(d) - W)
    effect = np.zeros((1000, d))
    for t in range(1000):
        effect[t] = ((effect[t - 1] if t else np.zeros(d)) @ A[0] + shock[t]) @ inv
    labels = np.zeros(1000, dtype=int)
    labels[500:560] = 1
    return train, pd.DataFrame(Xt + effect, columns=names), labels


def test_score_rises_in_the_fault_window_and_blames_the_faulty_node(system):
    train, test, labels = system
    det = CausalDetector(lags=1).fit(train)
    scores = det.score_samples(test)
    inside, outside = scores["score"][labels == 1], scores["score"][labels == 0]
    assert inside.median() > 2.5 * outside.median()  # a 4-sigma shift in one of 6 metrics
    residuals = scores.filter(like="residual:")[labels == 1].abs().mean()
    assert residuals.idxmax() == "residual:m1"  # node 1's own noise changed, not its children's
    report = detection_report(labels, scores["score"].to_numpy(), det.threshold_)
    assert report.roc_auc > 0.95 and report.event_recall == 1.0
    # the children move a lot in raw terms, yet the residual of node 1 stands out
    raw = (test - train.median()).abs()[labels == 1].mean()
    assert raw["m2"] > raw["m1"] or raw["m3"] > raw["m1"]


def test_leading_steps_filled_from_later_values_are_not_scored_nor_alarm_after(system):
    train, test, labels = system
    det = CausalDetector(lags=1).fit(train)
    reach = det.lags_ + det.smooth - 1  # the steps whose lags or smoothing window read the filled ones
    differ_before = 0
    for start in range(0, 440, 20):
        # five metrics first reported five steps in: backfilled, those steps hold values no
        # one observed, and the lags and the smoothing carried them into the steps after
        healthy = test.iloc[start:start + 60]
        late = healthy.copy()
        late.iloc[:5, 1:] = np.nan
        assert det.warm_up(healthy) == 0 and det.warm_up(late) == 5 + reach
        full, part = det.score_samples(healthy), det.score_samples(late)
        warm = det.warm_up(late)
        assert part["score"].iloc[:warm].isna().all() and not part["anomaly"].iloc[:warm].any()
        assert part["score"].iloc[warm:].notna().all() and part["anomaly"].dtype.kind == "i"
        # after them, the alarms of the data as if every metric had been there
        np.testing.assert_array_equal(part["anomaly"].iloc[warm:], full["anomaly"].iloc[warm:])
        before = det.score_samples(late.bfill())  # the leading fill, scored as before
        differ_before += int((before["anomaly"].to_numpy() != full["anomaly"].to_numpy()).any())
    assert differ_before >= 3  # the false alarms this removes
    assert NSigmaDetector().fit(train).warm_up(late) == 5 + NSigmaDetector().smooth - 1


def test_a_fresh_start_alarms_no_more_than_the_same_steps_scored_with_their_history(system):
    train, test, _ = system
    det = CausalDetector(lags=1).fit(train)
    healthy = test.iloc[:480]  # the fault is at 500
    starts = range(0, 420, 5)
    # the first 15 steps of a window scored on their own (smoothing and adjustments start
    # from the training tail) against the same steps scored after 60 steps of history
    fresh = sum(bool(det.score_samples(healthy.iloc[s:s + 60])["anomaly"].iloc[:15].any()) for s in starts)
    later = sum(bool(det.score_samples(healthy.iloc[max(s - 60, 0):s + 60])["anomaly"].iloc[-60:].iloc[:15].any())
                for s in starts)
    assert fresh <= later + 5, (fresh, later)  # a smoothing that started empty: 34 of 84 against 15


def test_baselines_share_the_code_path(system):
    train, test, labels = system
    for det in (NSigmaDetector(combine="max"), PCADetector(), RandomDetector(random_state=0)):
        out = det.fit(train).score_samples(test)
        assert list(out.columns[:2]) == ["score", "anomaly"] and len(out) == len(test)
    rnd = RandomDetector(random_state=0, smooth=1).fit(train).score_samples(test)
    assert 0.4 < detection_report(labels, rnd["score"].to_numpy(), 0.0).roc_auc < 0.6


def test_metric_mismatch_names_missing_and_extra(system):
    train, test, _ = system
    det = CausalDetector().fit(train)
    with pytest.raises(InvalidInputError, match="missing 'm5'; extra 'other'"):
        det.score_samples(test.drop(columns=["m5"]).assign(other=1.0))
    with pytest.raises(NotFittedError):
        CausalDetector().score_samples(test)
    with pytest.raises(InvalidInputError, match="combine must be one of"):
        CausalDetector(combine="sum").fit(train)
    with pytest.warns(UserWarning, match="ignoring 1 metric\\(s\\) the model was not fitted on: 'other'"):
        scored = det.score_samples(test.assign(other=1.0))
    pd.testing.assert_frame_equal(scored, det.score_samples(test))  # an extra metric changes nothing
    with pytest.raises(NotFittedError, match="CausalDetector is not fitted yet"):
        CausalDetector().graph_
    with pytest.raises(InvalidInputError, match="train must be a DataFrame or a 2-D array of numbers"):
        CausalDetector().fit([["a", "b"], ["c", "d"]])
    with pytest.raises(InvalidInputError, match=r"values beyond ±1e\+100 in 'm0'"):
        det.score_samples(test.assign(m0=1e200))
    with pytest.raises(InvalidInputError, match="PCA keeps all 1 component"):
        PCADetector().fit(train[["m0"]])


@pytest.mark.parametrize("risk", [1e-2, 1e-3, 0.05, 0.1, 0.5])  # above 0.02: below the fitted tail
def test_pot_gives_about_the_requested_false_alarm_rate(risk):
    rng = np.random.default_rng(0)
    train = rng.standard_normal(200_000) ** 2   # chi-square scores of normal data
    fresh = rng.standard_normal(1_000_000) ** 2
    t = pot_threshold(train, risk=risk)
    rate = np.mean(fresh >= t)
    assert risk / 1.5 < rate < risk * 1.5, rate
    assert quantile_threshold(train, 1 - risk) == pytest.approx(np.quantile(train, 1 - risk))
    with pytest.raises(InvalidInputError, match="risk must lie in"):
        pot_threshold(train, risk=2)


def test_detection_metrics_by_hand():
    labels = np.array([0, 1, 1, 1, 0, 0, 1, 1, 0, 0])
    score = np.array([0.1, 0.2, 0.9, 0.3, 0.1, 0.2, 0.1, 0.1, 0.8, 0.1])
    assert label_segments(labels) == [(1, 3), (6, 7)]
    np.testing.assert_allclose(point_adjust(labels, score), [0.1, 0.9, 0.9, 0.9, 0.1, 0.2, 0.1, 0.1, 0.8, 0.1])
    r = detection_report(labels, score, threshold=0.5)
    # flagged: steps 2 and 8 -> TP 1, FP 1, FN 4
    assert (r.precision, r.recall) == (0.5, 0.2) and r.f1 == pytest.approx(2 * 0.5 * 0.2 / 0.7)
    assert r.event_recall == 0.5 and r.mean_delay == 1.0 and r.n_events == 2
    # point adjustment: at t = 0.9 the first segment (3 points) is found, no false alarm:
    # P 1, R 3/5 -> F1 0.75; unadjusted best is lower
    assert r.best_f1_pa == pytest.approx(0.75)
    assert r.best_f1 < r.best_f1_pa


def test_save_load_and_cli_round_trip(system, tmp_path):
    from typer.testing import CliRunner

    from faultgraph.cli import app

    train, test, labels = system
    det = CausalDetector().fit(train)
    det.save(tmp_path / "model")
    again = CausalDetector.load(tmp_path / "model")
    pd.testing.assert_frame_equal(det.score_samples(test), again.score_samples(test))
    np.testing.assert_array_equal(det.innovations(test), again.innovations(test))
    del again.innov_coef_  # as in a folder written before innovations were kept
    with pytest.raises(InvalidInputError, match="saved before faultgraph kept innovations; fit it again"):
        again.innovations(test)

    train.to_csv(tmp_path / "train.csv", index_label="timestamp")
    test.to_csv(tmp_path / "test.csv", index_label="timestamp")
    runner = CliRunner()
    result = runner.invoke(app, ["fit", str(tmp_path / "train.csv"), "--lags", "1", "--drift-window", "240",
                                 "--out", str(tmp_path / "m")])
    assert result.exit_code == 0, result.output
    assert CausalDetector.load(tmp_path / "m").drift_history_.shape == (240, 12)  # metrics and residuals
    assert CausalDetector.load(tmp_path / "m").lasting_  # the default
    result = runner.invoke(app, ["fit", str(tmp_path / "train.csv"), "--lags", "1", "--no-lasting",
                                 "--out", str(tmp_path / "m-no-lasting")])
    assert result.exit_code == 0, result.output
    plain = CausalDetector.load(tmp_path / "m-no-lasting")
    assert plain.lasting is False and not plain.lasting_
    assert "lasting" not in json.loads((tmp_path / "m-no-lasting" / "model.json").read_text())
    result = runner.invoke(app, ["detect", str(tmp_path / "m"), str(tmp_path / "test.csv"), "--out",
                                 str(tmp_path / "scores.csv")])
    assert result.exit_code == 0, result.output
    scores = pd.read_csv(tmp_path / "scores.csv", index_col=0)
    assert list(scores.columns) == ["score", "anomaly", "background"] + [f"residual:m{i}" for i in range(6)]
    assert (scores["background"] == 1.0).all()  # stationary data: the threshold is read as fitted
    # away from the fault (and the 15 steps the smoothing carries it past its end) alarms
    # stay rare. Smoothing makes them come in runs of ~15 steps, so 925 quiet steps hold
    # only ~60 independent chances: this is a sanity bound, the calibration of the POT
    # threshold itself is tested above on independent scores.
    quiet = np.ones(len(labels), dtype=bool)
    quiet[500:575] = False
    assert scores["anomaly"][labels == 1].mean() > 0.5 and scores["anomaly"][quiet].mean() < 0.06
    test.drop(columns=["m2"]).assign(extra=1.0).to_csv(tmp_path / "bad.csv", index_label="timestamp")
    result = runner.invoke(app, ["detect", str(tmp_path / "m"), str(tmp_path / "bad.csv"), "--out",
                                 str(tmp_path / "s2.csv")])
    assert result.exit_code == 2 and "missing 'm2'; extra 'extra'" in result.stderr


def test_a_saved_detector_keeps_its_prior(system, tmp_path):
    from faultgraph.discovery import PriorKnowledge

    data = system[0]
    names = list(data.columns)
    prior = PriorKnowledge(tiers=((names[0],), tuple(names[1:])), forbidden=((names[2], names[1]),))
    det = CausalDetector(prior=prior).fit(data)
    det.save(tmp_path / "m")
    loaded = CausalDetector.load(tmp_path / "m")
    assert loaded.prior == prior
    assert PriorKnowledge.from_dict(prior.to_dict()) == prior


def test_a_prior_naming_a_metric_constant_in_training_applies_to_the_others(system, tmp_path):
    from faultgraph.discovery import PriorKnowledge

    data = system[0]
    a, b, c = list(data.columns)[:3]
    rest = tuple(n for n in data.columns if n != a)
    prior = PriorKnowledge(forbidden=((b, a), ("flat", a)), tiers=((a, "flat"), rest), required=(("flat", c),),
                           sinks="fl*")  # the pattern matches only the constant metric
    with pytest.warns(UserWarning, match=r"requires the edge flat -> .* 'flat' is not modelled \(constant"):
        det = CausalDetector(prior=prior).fit(data.assign(flat=1.0))
    applied = PriorKnowledge(forbidden=((b, a),), tiers=((a,), rest))
    assert det.prior_ == applied and det.encoder_.constants_ == {"flat": 1.0}
    assert CausalDetector.load(det.save(tmp_path / "m")).prior_ == applied  # the prior as applied is kept
    # the same graph as the prior without the constant metric, on the data without it
    ref = CausalDetector(prior=applied).fit(data)
    np.testing.assert_array_equal(det.graph_.adjacency, ref.graph_.adjacency)
    np.testing.assert_array_equal(det.coef_, ref.coef_)
    # a prior that names no dropped metric is kept as given, patterns and all
    kept = PriorKnowledge(forbidden=(("m*", a),))
    assert CausalDetector(prior=kept).fit(data.assign(flat=1.0)).prior_ == kept
    # a known graph's edges into or out of the constant metric go too, each with a warning
    given = PriorKnowledge(graph=((a, b), (b, c), ("flat", c)))
    with pytest.warns(UserWarning, match=r"requires the edge flat -> .* the edge is left out"):
        assert CausalDetector(prior=given).fit(data.assign(flat=1.0)).prior_ == PriorKnowledge(graph=((a, b), (b, c)))


def test_prior_without_leaves_out_every_mention():
    from faultgraph.discovery import PriorKnowledge

    p = PriorKnowledge(forbidden=(("a", "b"), ("c", "a")), required=(("b", "c"), ("a", "d")),
                       tiers=(("a",), ("b", "c")), sinks=("a", "d"), sources=("b",), graph=(("b", "c"), ("a", "c")))
    new, lost = p.without(["a"])
    assert new == PriorKnowledge(required=(("b", "c"),), tiers=(("b", "c"),), sinks=("d",), sources=("b",),
                                 graph=(("b", "c"),))
    assert lost == (("a", "d"), ("a", "c"))  # the required edge, then the given graph's
    assert p.without([]) == (p, ())


def test_a_prior_given_as_a_yaml_path_is_saved_and_lambda1_survives_loading(system, tmp_path):
    data = system[0]
    names = list(data.columns)
    (tmp_path / "prior.yaml").write_text(f"forbidden: [[{names[1]}, {names[0]}]]\n")
    det = CausalDetector(prior=str(tmp_path / "prior.yaml")).fit(data)
    det.save(tmp_path / "m")
    loaded = CausalDetector.load(tmp_path / "m")
    assert loaded.prior.forbidden == ((names[1], names[0]),)
    assert loaded.lambda1_ == det.lambda1_ == max(0.03, float(np.sqrt(2 * np.log(2 * len(names)) / len(data))))


def test_drift_adjust_subtracts_the_trailing_median_beyond_the_tolerance_and_never_looks_ahead():
    from faultgraph.detect import drift_adjust

    rng = np.random.default_rng(3)
    values = rng.standard_normal((200, 2)) + np.array([0.0, 5.0])  # column 1 has drifted by 5
    history = rng.standard_normal((50, 2)) + np.array([0.0, 5.0])
    out = drift_adjust(values, history, 20, tolerance=1.0)
    full = np.vstack([history, values])
    for t in (0, 7, 150):  # by hand: the median of the 20 rows before, less the tolerance
        median = np.median(full[50 + t - 20 : 50 + t], axis=0)
        drift = np.sign(median) * np.maximum(np.abs(median) - 1.0, 0.0)
        np.testing.assert_allclose(out[t], values[t] - drift)
    assert abs(np.median(out[:, 1]) - 1.0) < 0.3  # the drift is gone but for the tolerance
    np.testing.assert_array_equal(out[:, 0], values[:, 0])  # a median within ±1 is noise: untouched
    changed = values.copy()
    changed[120:] += 100.0  # the future changes: nothing before it may move
    np.testing.assert_array_equal(drift_adjust(changed, history, 20)[:120], out[:120])
    assert drift_adjust(values, history, 0) is values
    np.testing.assert_array_equal(drift_adjust(values[:1], np.zeros((0, 2)), 5), values[:1])  # no past: as is


def test_a_lasting_level_shift_stops_alarming_but_a_short_fault_still_does(system):
    train, test, labels = system
    shifted = test.copy()
    shifted.loc[100:, "m5"] += 6 * train["m5"].std()  # from step 100 on, m5 settles 6 sd higher
    det = CausalDetector(lags=1, lasting=False).fit(train)
    fixed = CausalDetector(lags=1, drift_window=0, lasting=False).fit(train)
    late = np.zeros(len(labels), dtype=bool)
    late[400:] = True
    late[500:575] = False  # well after the shift, outside the fault
    assert fixed.score_samples(shifted)["anomaly"][late].mean() > 0.9  # without: alarms for ever
    adapted = det.score_samples(shifted)
    assert adapted["anomaly"][late].mean() < 0.1  # (all but the 1-sd tolerance of the shift is removed)
    assert adapted["anomaly"][labels == 1].mean() > 0.5  # the 60-step fault is still caught
    # the per-metric residuals are never adjusted: the shift is still visible there
    assert adapted["residual:m5"][late].abs().median() > 3 * adapted["residual:m5"][:100].abs().median()
    # data without drift scores exactly as without the adjustment
    np.testing.assert_array_equal(det.score_samples(test)["score"], fixed.score_samples(test)["score"])
    with pytest.raises(InvalidInputError, match="drift_window must be a non-negative integer"):
        CausalDetector(drift_window=-1).fit(train)


def test_lasting_scores_the_larger_of_the_adjusted_and_unadjusted_scores_each_over_its_own_threshold(
        system, tmp_path):
    from faultgraph.io.model import load_model_dir, save_model_dir

    train, test, labels = system
    shifted = test.copy()
    shifted.loc[100:, "m5"] += 6 * train["m5"].std()  # a fault that outlasts half the drift window
    det = CausalDetector(lags=1).fit(train)  # lasting is the default
    adjusted = CausalDetector(lags=1, lasting=False).fit(train)
    plain = CausalDetector(lags=1, drift_window=0, lasting=False).fit(train)
    assert det.lasting_ and det.threshold_ == adjusted.threshold_
    # the unadjusted score's threshold, read on the rows the adjusted one's is read on
    T = det.lasting_threshold_
    assert T == pytest.approx(pot_threshold(plain.train_scores_[det.drift_window:], det.risk), rel=1e-12)
    # by hand: the larger of the two, the unadjusted one in the adjusted one's units
    a, b = adjusted.score_samples(shifted)["score"], plain.score_samples(shifted)["score"]
    scored = det.score_samples(shifted)
    np.testing.assert_allclose(scored["score"], np.maximum(a, b * det.threshold_ / T), rtol=1e-12)
    np.testing.assert_array_equal(scored["anomaly"], ((a >= adjusted.threshold_) | (b >= T * (1 - 1e-12))).astype(int))
    late = np.zeros(len(labels), dtype=bool)
    late[400:] = True
    late[500:575] = False
    assert scored["anomaly"][late].mean() > 0.9 > 0.1 > adjusted.score_samples(shifted)["anomaly"][late].mean()
    np.testing.assert_allclose(det.train_scores_, np.maximum(adjusted.train_scores_, plain.train_scores_
                                                             * det.threshold_ / T), rtol=1e-12)
    # a shift that outlasts three quarters of the background window becomes the background
    short = CausalDetector(lags=1, background_window=120).fit(train).score_samples(shifted)
    assert short["anomaly"][late].mean() < 0.1
    # no drift window: nothing to add
    assert not CausalDetector(lags=1, drift_window=0).fit(train).lasting_
    # saved and loaded, it scores the same; a folder from before lasting scores as it did
    det.save(tmp_path / "m")
    np.testing.assert_array_equal(CausalDetector.load(tmp_path / "m").score_samples(shifted)["score"],
                                  scored["score"])
    meta, arrays = load_model_dir(tmp_path / "m")
    del meta["params"]["lasting"], meta["lasting"], arrays["lasting_background_history"]
    save_model_dir(tmp_path / "old", {k: v for k, v in meta.items() if k != "arrays_sha256"}, arrays)
    old = CausalDetector.load(tmp_path / "old")
    assert old.lasting is False and not old.lasting_
    np.testing.assert_array_equal(old.score_samples(shifted)["score"], a)
    with pytest.raises(InvalidInputError, match="lasting must be True or False"):
        CausalDetector(lasting="yes").fit(train)
    # where the unadjusted score is kept, the contributions are what enters it: m5 owns the late steps
    contributions = det.contributions(shifted)
    assert (contributions.loc[late].idxmax(axis=1) == "m5").mean() > 0.9
    assert (adjusted.contributions(shifted).loc[late].idxmax(axis=1) == "m5").mean() < 0.5
    # data whose deviations never drift score exactly as without lasting (one threshold's rows)
    assert det.threshold_ == det.lasting_threshold_
    np.testing.assert_array_equal(det.score_samples(test)["score"], adjusted.score_samples(test)["score"])
    # a folder whose params and arrays disagree is refused, not scored half-way
    meta, arrays = load_model_dir(tmp_path / "m")
    meta["params"]["lasting"] = False
    save_model_dir(tmp_path / "mixed", {k: v for k, v in meta.items() if k != "arrays_sha256"}, arrays)
    with pytest.raises(InvalidInputError, match="params.lasting is False but the folder holds a lasting score"):
        CausalDetector.load(tmp_path / "mixed")
    meta, arrays = load_model_dir(tmp_path / "m")
    arrays["lasting_background_history"] = arrays["lasting_background_history"].reshape(-1, 2)
    save_model_dir(tmp_path / "bent", {k: v for k, v in meta.items() if k != "arrays_sha256"}, arrays)
    with pytest.raises(InvalidInputError, match="lasting_background_history has shape"):
        CausalDetector.load(tmp_path / "bent")


@pytest.mark.parametrize("params", [{"holdout": 0.2}, {"calibration": "rank"}])
def test_lasting_with_a_holdout_or_calibration_saves_and_scores_the_same(system, tmp_path, params):
    train, test, _ = system
    shifted = test.copy()
    shifted.loc[100:, "m5"] += 6 * train["m5"].std()
    det = CausalDetector(lags=1, **params).fit(train)
    plain = CausalDetector(lags=1, drift_window=0, lasting=False, **params).fit(train)
    assert det.lasting_ and det.lasting_threshold_ > 0
    scored = det.score_samples(shifted)
    assert scored["anomaly"].iloc[400:500].mean() > 0.9  # the lasting fault
    if "holdout" in params:  # the unadjusted score is the no-drift detector's, on the same held-back rows
        np.testing.assert_allclose(det.lasting_threshold_, plain.threshold_, rtol=1e-12)
        assert det.holdout_rows_ == plain.holdout_rows_ > 0
    det.save(tmp_path / "m")
    pd.testing.assert_frame_equal(CausalDetector.load(tmp_path / "m").score_samples(shifted), scored)


def test_background_adjust_by_hand_and_never_looks_ahead():
    from faultgraph.detect import background_adjust
    from faultgraph.detect.unsupervised import BACKGROUND_QUANTILE, MIN_BACKGROUND

    rng = np.random.default_rng(0)
    history = rng.uniform(0.5, 1.5, 100)
    scores = np.concatenate([rng.uniform(0.5, 1.5, 100), rng.uniform(5.0, 15.0, 200)])  # 10 times noisier
    window, base = 80, 1.0
    out, background = background_adjust(scores, history, window, base)
    full = np.concatenate([history, scores])
    for t in (0, 99, 150, 299):  # by hand: the lower quartile of the 80 scores before, over twice the base
        q = np.quantile(full[100 + t - window : 100 + t], BACKGROUND_QUANTILE)
        assert background[t] == pytest.approx(1.0 + max(0.0, q / base - 2.0))
        assert out[t] == pytest.approx(scores[t] / background[t])
    assert (background[:101] == 1.0).all()  # a quiet background, within twice the training's: untouched
    assert background[-1] > 5.0  # the noisy regime (lower quartile about 7.5) has become the background
    changed = scores.copy()
    changed[200:] *= 100.0  # the future changes: nothing before it may move
    np.testing.assert_array_equal(background_adjust(changed, history, window, base)[1][:201], background[:201])
    # no past (fewer than MIN_BACKGROUND scores before a step), window 0, or a training
    # background of numerical noise: as is
    assert (background_adjust(scores, history[:0], window, base)[1][:MIN_BACKGROUND] == 1.0).all()
    np.testing.assert_array_equal(background_adjust(scores, history, 0, base)[0], scores)
    np.testing.assert_array_equal(background_adjust(scores, history, window, 1e-31)[0], scores)
    with pytest.raises(InvalidInputError, match="background window must be 0 .off. or at least 60 steps, got 5"):
        background_adjust(scores, history, 5, base)


def test_a_noisier_regime_alarms_relative_to_its_background_but_a_fault_in_it_still_does(system, tmp_path):
    # from step 100 on every metric runs with three times its noise (a regime the drift
    # adjustment of levels cannot take off); a large fault in that regime must still alarm
    train, test, labels = system
    rng = np.random.default_rng(3)
    noisy = test.copy()
    noisy.iloc[100:] += 2.0 * train.std().to_numpy() * rng.standard_normal((len(test) - 100, test.shape[1]))
    noisy.loc[500:559, "m1"] += 12.0 * train["m1"].std()
    det = CausalDetector(lags=1, background_window=200).fit(train)
    fixed = CausalDetector(lags=1, background_window=0).fit(train)
    late = np.zeros(len(labels), dtype=bool)
    late[400:] = True
    late[480:600] = False  # away from the fault
    assert fixed.score_samples(noisy)["anomaly"][late].mean() > 0.5  # without: alarms most of the time
    adapted = det.score_samples(noisy)
    assert adapted["anomaly"][late].mean() < 0.1 and adapted["background"][late].min() > 1.0
    assert adapted["anomaly"][labels == 1].mean() > 0.5
    # data in the training regime score exactly as without the adjustment
    np.testing.assert_array_equal(det.score_samples(test)["score"], fixed.score_samples(test)["score"])
    with pytest.raises(InvalidInputError, match="background_window must be a non-negative integer"):
        CausalDetector(background_window=-5).fit(train)
    with pytest.raises(InvalidInputError, match="background_window must be 0 .off. or at least 60 steps, got 30"):
        CausalDetector(background_window=30).fit(train)
    CausalDetector(lags=1, background_window=np.int64(200), drift_window=np.int64(100)).fit(train).save(
        tmp_path / "numpy-ints")  # NumPy integers are saved as plain numbers
    assert CausalDetector.load(tmp_path / "numpy-ints").background_window == 200
    # the CLI says when and how much it rescaled
    from typer.testing import CliRunner

    from faultgraph.cli import app

    det.save(tmp_path / "m")
    noisy.to_csv(tmp_path / "noisy.csv", index_label="step")
    result = CliRunner().invoke(app, ["detect", str(tmp_path / "m"), str(tmp_path / "noisy.csv"), "--out",
                                      str(tmp_path / "s.csv")])
    assert result.exit_code == 0, result.output
    rescaled = int((adapted["background"] > 1).sum())
    assert f"{rescaled} steps' score background ran above twice the training's" in " ".join(result.stderr.split())


def test_a_metric_constant_in_training_is_shown_when_it_moves_but_not_scored(system, tmp_path):
    from typer.testing import CliRunner

    from faultgraph.cli import app

    train, test, _ = system
    det = CausalDetector(lags=1).fit(train.assign(errors=0.0))  # an error counter at 0 all along
    errors = np.zeros(len(test))
    errors[300:310] = [1, 2, 2, 1, 1, 1, 1, 1, 1, np.nan]  # counts for a while (one sample lost)
    scored = det.score_samples(test.assign(errors=errors))
    np.testing.assert_array_equal(scored["constant:errors"], errors)  # its departure from 0
    assert list(scored.columns[-1:]) == ["constant:errors"]
    # it does not enter the score: the same as without the column
    np.testing.assert_array_equal(scored["score"], det.score_samples(test)["score"])
    assert "constant:errors" not in det.score_samples(test).columns
    train.assign(errors=0.0).to_csv(tmp_path / "train.csv", index_label="step")
    result = CliRunner().invoke(app, ["fit", str(tmp_path / "train.csv"), "--out", str(tmp_path / "m")])
    assert result.exit_code == 0, result.output
    assert ("dropped metric 'errors': constant at 0 in training: not scored; detect names it if it moves"
            in " ".join(result.stderr.split()))
    test.assign(errors=errors).to_csv(tmp_path / "t.csv", index_label="step")
    result = CliRunner().invoke(app, ["detect", str(tmp_path / "m"), str(tmp_path / "t.csv"), "--out",
                                      str(tmp_path / "s.csv")])
    assert result.exit_code == 0, result.output
    assert ("constant in training, not scored, but moved here (columns constant:<metric>): errors (at 0 in "
            "training; off it at 9 steps, by up to 2)") in " ".join(result.stderr.split())


def test_a_folder_saved_before_the_background_scores_as_it_did(system, tmp_path):
    from faultgraph.io.model import SCHEMA_VERSION, load_model_dir, save_model_dir

    train, test, _ = system
    CausalDetector(lags=1, scoring="residual+marginal").fit(train).save(tmp_path / "m")  # no "auto" then
    meta, arrays = load_model_dir(tmp_path / "m")
    # the schema-1 layout of a folder written before the background adjustment
    meta["params"]["score"] = meta["params"].pop("scoring")
    del meta["params"]["background_window"], meta["background_base"], arrays["background_history"]
    del meta["params"]["lasting"], meta["lasting"], arrays["lasting_background_history"]  # nor lasting
    save_model_dir(tmp_path / "old", {**{k: v for k, v in meta.items() if k != "arrays_sha256"}, "schema_version": 1},
                   arrays)
    assert json.loads((tmp_path / "old" / "model.json").read_text())["schema_version"] == 1 < SCHEMA_VERSION
    old = CausalDetector.load(tmp_path / "old")
    assert old.background_window == 0 and old.scoring == "residual+marginal"
    np.testing.assert_array_equal(old.score_samples(test)["score"],
                                  CausalDetector(lags=1, background_window=0, scoring="residual+marginal",
                                                 lasting=False).fit(train).score_samples(test)["score"])
    old.save(tmp_path / "again")  # and saves again


def test_a_nearly_exactly_predicted_metric_is_not_scaled_by_rounding_noise():
    # "steps" is piecewise constant; "copy" follows it to within 1e-6 (far below its
    # spread): its residual's IQR is that noise, and dividing new data's residuals by it
    # once turned every step of the metric into a 10^4-sigma alarm
    def frame(seed: int) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        steps = np.repeat(rng.integers(0, 5, size=200), 20).astype(float)
        return pd.DataFrame({"steps": steps, "copy": steps + 1e-6 * rng.standard_normal(steps.size),
                             "noise": rng.standard_normal(steps.size)})

    det = CausalDetector(lags=1).fit(frame(0))
    assert det.scale_.min() > 1e-4
    fresh = det.score_samples(frame(1)).filter(like="residual:")  # a new realisation, not the training data
    assert fresh.abs().to_numpy().max() < 100


def test_rounding_scale_by_hand():
    from faultgraph.detect import rounding_scale

    rng = np.random.default_rng(0)
    gauge = np.repeat(np.arange(40) * 0.25, 5)  # 40 levels on a 0.25 grid
    X = np.column_stack([gauge, rng.standard_normal(200), np.repeat([0.0, 3.0, 7.0, 8.0], 50),
                         np.repeat(np.arange(8) * 0.25, 25)])
    # the gauge: q / sqrt(6); continuous data, a 4-level state and an 8-level grid: none
    np.testing.assert_allclose(rounding_scale(X), [0.25 / np.sqrt(6), 0.0, 0.0, 0.0])


def test_two_gauges_rounded_to_one_grid_do_not_alarm_at_their_first_disagreement(monkeypatch):
    # "b" is "a" measured again: both rounded to 0.1, they agree at most steps, so the
    # residual of one on the other has an interquartile range of a fraction of a step;
    # one step of disagreement must stay a few sd (it was a 50-sd alarm: SMD machine-3-5)
    import faultgraph.detect.unsupervised as unsupervised

    def frame(seed: int, wobble: float) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        x = np.convolve(rng.standard_normal(3000), np.ones(50) / 50 ** 0.5, mode="same")
        return pd.DataFrame({"a": np.round(x, 1), "b": np.round(x + wobble * rng.standard_normal(3000), 1),
                             "c": rng.standard_normal(3000)})

    det = CausalDetector(lags=1).fit(frame(0, 0.005))
    fresh = frame(1, 0.03)  # the second gauge drifts a little more apart: a few one-step disagreements
    z = det.score_samples(fresh)[["residual:a", "residual:b"]].abs().to_numpy().max()
    assert 1 < z < 15
    monkeypatch.setattr(unsupervised, "rounding_scale", lambda X: np.zeros(X.shape[1]))
    z = CausalDetector(lags=1).fit(frame(0, 0.005)).score_samples(fresh)[["residual:a", "residual:b"]]
    assert z.abs().to_numpy().max() > 30  # scaled by the IQR of agreement alone


def test_the_innovation_score_adds_the_combined_innovations(system, tmp_path):
    from faultgraph.detect import drift_adjust

    train, test, labels = system
    plain = CausalDetector(lags=1).fit(train)
    det = CausalDetector(lags=1, scoring="residual+marginal+innovation").fit(train)
    np.testing.assert_array_equal(det.coef_, plain.coef_)  # the same model underneath
    d = train.shape[1]
    history = det.drift_history_[:, 2 * d :]
    innovations = drift_adjust(det.innovations(test), history, det.drift_window)
    # the smoothing starts from the training tail's last 14 steps, adjusted as they were
    tail = drift_adjust(history[-14:], history[:-14], det.drift_window)
    squares = np.mean(np.vstack([tail, innovations]) ** 2, axis=1)
    extra = pd.Series(squares).rolling(15, min_periods=1).mean().to_numpy()[14:]
    scored = det.score_samples(test)
    np.testing.assert_allclose(scored["score"] - plain.score_samples(test)["score"], extra, rtol=1e-10, atol=1e-10)
    assert list(scored.columns[-d:]) == [f"innovation:m{i}" for i in range(d)]  # kept for root-cause work
    np.testing.assert_array_equal(scored.filter(like="innovation:").to_numpy(), det.innovations(test))
    assert not plain.score_samples(test).filter(like="innovation:").columns.size
    assert detection_report(labels, det.score_samples(test)["score"].to_numpy(), det.threshold_).roc_auc > 0.95
    det.save(tmp_path / "m")
    pd.testing.assert_frame_equal(CausalDetector.load(tmp_path / "m").score_samples(test), det.score_samples(test))
    with pytest.raises(InvalidInputError, match="scoring must be one of"):
        CausalDetector(scoring="everything").fit(train)


def test_a_model_saved_without_innovations_loads_saves_and_explains_with_a_warning(system, tmp_path):
    from faultgraph.rca import explain

    train, test, _ = system
    det = CausalDetector(lags=1).fit(train)
    for key in ("innov_coef_", "innov_mean_", "innov_resid_mean_", "innov_resid_std_"):
        delattr(det, key)  # as a folder written before innovations were kept
    det.save(tmp_path / "old")
    old = CausalDetector.load(tmp_path / "old")
    assert not old.has_innovations
    old.save(tmp_path / "again")  # saved as it came
    with pytest.warns(UserWarning, match=r"saved before faultgraph kept innovations: ranked with causal\+nsigma"):
        result = explain(old, test, (500, 559))
    assert result.method == "causal+nsigma" and result.top(1) == ["m1"]
    assert result.to_dict()["causes"][0]["innovation_z"] is None
    with pytest.raises(InvalidInputError, match=r"--method causal\+nsigma"):
        explain(old, test, (500, 559), method="innovation")


def test_a_short_history_still_gets_a_threshold(system):
    train, _, _ = system
    det = CausalDetector(lags=1).fit(train.iloc[:15])  # far fewer rows than the drift window
    assert np.isfinite(det.threshold_) and det.drift_history_.shape[0] == 15


def test_too_short_a_training_period_is_refused_up_front_with_what_to_do(system):
    train, _, _ = system
    for detector in (CausalDetector(lags=1), NSigmaDetector()):
        with pytest.raises(InvalidInputError, match=r"the training data has 5 row\(s\); .* at least 10 training "
                                                    r"scores.*longer healthy period"):
            detector.fit(train.iloc[:5])
    assert NSigmaDetector().fit(train.iloc[:10]).threshold_ > 0  # ten rows are enough to fit at all


def test_one_training_episode_that_sets_the_threshold_is_named():
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"a": rng.normal(size=600)})
    train["b"] = 2 * train["a"] + rng.normal(size=600)
    train["c"] = train["b"] + rng.normal(size=600)
    train["k"] = 1.0
    spiky = train.copy()
    spiky.loc[300, "k"] = 50.0  # one glitch in a metric otherwise at one value
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clean period: nothing to say
        clean = CausalDetector().fit(train)
    with pytest.warns(UserWarning, match=r"one episode of the training data sets the alarm threshold: around 300 "
                                         r"\('k' 24.5 robust sd off\)"):
        glitched = CausalDetector().fit(spiky)
    # what it warns of: the glitch, smoothed over 15 of 600 rows, lifts the threshold several times over
    assert glitched.threshold_ > 5 * clean.threshold_


def test_rows_out_of_time_order_are_refused_by_fit_and_score_samples(system):
    train, test, _ = system
    timed = train.set_axis(pd.date_range("2024-01-01", periods=len(train), freq="min"))
    shuffled = timed.sample(frac=1, random_state=0)
    with pytest.raises(InvalidInputError, match=r"train's index must be in time order \(increasing\); sort it"):
        CausalDetector().fit(shuffled)
    det = CausalDetector().fit(timed)
    with pytest.raises(InvalidInputError, match=r"data's index must be in time order"):
        det.score_samples(timed.iloc[::-1])
    assert len(det.score_samples(timed.iloc[:50])) == 50
