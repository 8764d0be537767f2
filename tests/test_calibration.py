"""Issue 17, item 1: calibrated detection scores (scale floors, flagged near-duplicate and
near-deterministic equations, a soft cap on each metric's deviation, a threshold read on a
held-back training tail). Every case is built here, with a planted fault as the oracle."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from faultgraph.detect import CausalDetector
from faultgraph.detect.unsupervised import flag_columns, soft_cap
from faultgraph.errors import InvalidInputError
from faultgraph.io.migrations import UNVERSIONED_DETECTOR_DEFAULTS, detector_params

#: The calibrated configuration the tests exercise (the defaults may differ: see
#: benchmarks/results/calibration.md); short windows for short data.
CALIBRATED = {"scale_floor": 0.1, "soft_cap": 5.0, "holdout": 0.2}
OFF = {"scale_floor": 0.0, "soft_cap": 0.0, "holdout": 0.0}
SHORT = {"drift_window": 0, "background_window": 0, "smooth": 5}


def system(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """A chain ``a → b → c`` and three artefacts: ``near`` (a gauge at one value but for
    rare small jumps: IQR 1e-5, sd 1e-3), ``dup`` (``b`` again, to 1e-3) and ``det``
    (``a + c`` to 1e-3, a near-deterministic sum)."""
    a = rng.normal(size=n)
    b = 2 * a + rng.normal(size=n)
    c = b - a + rng.normal(size=n)
    near = 0.5 + rng.normal(scale=1e-5, size=n)
    jumps = rng.random(n) < 0.02
    near[jumps] += rng.normal(scale=1e-2, size=jumps.sum())
    return pd.DataFrame({"a": a, "b": b, "c": c, "near": near, "dup": b + rng.normal(scale=1e-3, size=n),
                         "det": a + c + rng.normal(scale=1e-3, size=n)})


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.DataFrame, dict[str, slice]]:
    rng = np.random.default_rng(0)
    train, test = system(1500, rng), system(400, rng)
    windows = {"dup": slice(60, 80), "near": slice(140, 160), "det": slice(220, 240), "fault": slice(300, 320)}
    sd_b = train["b"].std()
    test.iloc[windows["dup"], test.columns.get_loc("dup")] += 0.1 * sd_b  # a relation bends a little
    test.iloc[windows["near"], test.columns.get_loc("near")] += 2e-3  # the gauge steps within its range
    test.iloc[windows["det"], test.columns.get_loc("det")] += 0.3 * train["det"].std()
    test.iloc[windows["fault"], test.columns.get_loc("c")] += 6 * train["c"].std()  # the real fault
    return train, test, windows


def _fit(train: pd.DataFrame, **params: float) -> CausalDetector:
    return CausalDetector(**SHORT, **params).fit(train)


def test_artefacts_neither_alarm_nor_outrank_the_fault(data):
    train, test, windows = data
    det = _fit(train, **CALIBRATED)
    out = det.score_samples(test)
    score = out["score"].to_numpy()
    fault = score[windows["fault"]].max()
    residuals = out.filter(like="residual:")
    for name in ("dup", "near", "det"):
        assert score[windows[name]].max() < fault / 3, name
        assert residuals[f"residual:{name}"].iloc[windows[name]].abs().mean() < 5, name  # bounded
    assert windows["fault"].start <= int(np.argmax(score)) < windows["fault"].stop + det.smooth
    # the metric with the largest deviation during the fault is the faulty one
    residual = out.filter(like="residual:").iloc[windows["fault"]].abs().mean()
    assert residual.idxmax() == "residual:c"


def test_without_calibration_the_artefacts_own_the_score(data):
    """The oracle above is not trivial: the previous scoring alarms on the artefacts, with
    deviations in the hundreds."""
    train, test, windows = data
    det = _fit(train, **OFF)
    out = det.score_samples(test)
    score = out["score"].to_numpy()
    assert max(score[windows[name]].max() for name in ("dup", "near", "det")) > score[windows["fault"]].max()
    assert out.filter(like="residual:").abs().to_numpy().max() > 100


def test_flagged_metrics_say_why_and_are_saved(data, tmp_path):
    train, _, _ = data
    det = _fit(train, **CALIBRATED)
    assert "dup" in det.flagged_ and "near-duplicate of 'b'" in det.flagged_["dup"]
    assert not {"a", "c", "near"} & set(det.flagged_)  # a rare-jump gauge is scaled by its sd, not flagged
    det.save(tmp_path / "model")
    back = CausalDetector.load(tmp_path / "model")
    assert back.flagged_ == det.flagged_
    assert back.soft_cap == det.soft_cap and back.holdout == det.holdout and back.scale_floor == det.scale_floor
    np.testing.assert_allclose(back.score_samples(data[1])["score"], det.score_samples(data[1])["score"])


def test_without_a_floor_the_artefacts_are_named_not_floored(data, tmp_path):
    """The default (no scale_floor) floors nothing, so the artefacts still own the score
    (test above); the model and fit's summary name them, and say why."""
    from faultgraph.workflows import fit_summary

    train, _, _ = data
    det = _fit(train, **OFF)
    floored = _fit(train, **{**OFF, "scale_floor": 0.01})
    assert "near-duplicate of 'b'" in det.flagged_["dup"] and "not floored" in det.flagged_["dup"]
    assert det.flagged_["near"].startswith("nearly always at one value")
    assert not {"a", "b", "c"} & set(det.flagged_)
    assert not any("not floored" in why for why in floored.flagged_.values())
    np.testing.assert_array_equal(det.scale_, _fit(train, **OFF).scale_)  # named, not changed
    det.save(tmp_path / "m")
    assert CausalDetector.load(tmp_path / "m").flagged_ == det.flagged_
    line = next(x for x in fit_summary(det, tmp_path / "m") if x.startswith("flagged"))
    assert "flagged 2 metric(s)" in line and "not floored" in line and "dup, near" in line


def test_same_ranking_in_other_units(data):
    train, test, _ = data
    factors = pd.Series({"a": 1e3, "b": 1e-2, "c": 7.0, "near": 1e4, "dup": 1e-2, "det": 3.0})
    offsets = pd.Series({"a": 5.0, "b": -2.0, "c": 0.0, "near": 1e3, "dup": -2.0, "det": 10.0})
    one = _fit(train, **CALIBRATED).score_samples(test)
    other = _fit(train * factors + offsets, **CALIBRATED).score_samples(test * factors + offsets)
    np.testing.assert_allclose(one["score"], other["score"], rtol=1e-5, atol=1e-8)
    ranks = one.filter(like="residual:").abs().rank(axis=1)
    np.testing.assert_array_equal(ranks, other.filter(like="residual:").abs().rank(axis=1))


def test_a_rare_drop_does_not_set_the_threshold_alone():
    """An availability at 100 in all training rows but 13 (a point down) nearly triples
    the threshold of the previous scoring; calibrated, it moves it far less."""
    rng = np.random.default_rng(1)
    train = system(1500, rng).drop(columns=["near", "dup", "det"])
    avail = np.full(len(train), 100.0)
    avail[np.arange(50, 1500, 120)] = 99.0  # 13 rows a point down
    with_it = train.assign(availability=avail)
    ratios = {}
    for name, params in (("off", OFF), ("calibrated", {**CALIBRATED, "holdout": 0.0})):
        ratios[name] = _fit(with_it, **params).threshold_ / _fit(train, **params).threshold_
    assert ratios["calibrated"] < 2.0  # measured 1.77
    assert ratios["off"] > 1.5 * ratios["calibrated"]  # measured 2.93


def test_holdout_fits_on_the_head_and_reads_the_threshold_on_the_tail(data):
    train, _, _ = data
    det = _fit(train, **CALIBRATED)
    assert det.holdout_rows_ == 300
    assert len(det.train_scores_) == len(train)
    # a metric that only moves in the held-back tail was not seen by the model
    moving = train.assign(late=np.r_[np.zeros(1200), np.arange(300.0)])
    assert "late" in _fit(moving, **CALIBRATED).encoder_.dropped_
    assert "late" not in _fit(moving, **OFF).encoder_.dropped_
    # too short to hold a tail back: fitted on everything, as before
    assert _fit(train.iloc[:250], **CALIBRATED).holdout_rows_ == 0


def test_soft_cap_and_flags_directly():
    z = np.array([[0.0, 1.0, -1e5]])
    capped = soft_cap(z, 5.0)
    assert capped[0, 0] == 0 and abs(capped[0, 1] - 1.0) < 0.01 and -70 < capped[0, 2] < -50
    np.testing.assert_array_equal(soft_cap(z, 0.0), z)
    X = np.random.default_rng(2).normal(size=(200, 3))
    X = np.column_stack([X, X[:, 1] * 1.0])
    flags = flag_columns(X, np.array([1.0, 1.0, 0.01, 0.5]), 0.1, ["p", "q", "r", "s"])
    assert set(flags) == {"r", "s"}
    assert "near-duplicate of 'q'" in flags["s"] and "near-deterministic" in flags["r"]
    assert flag_columns(X, np.zeros(4), 0.0, ["p", "q", "r", "s"]) == {}
    named = flag_columns(X, np.array([1.0, 1.0, 0.001, 0.5]), 0.01, ["p", "q", "r", "s"], floored=False)
    assert set(named) == {"r", "s"} and all("not floored" in why for why in named.values())
    assert "below 0.01 of the metric's own" in named["r"] and "scale_floor 0.01" not in named["r"]


@pytest.mark.parametrize("param, value", [("soft_cap", -1.0), ("scale_floor", 1.5), ("holdout", 0.95),
                                          ("holdout", "0.2"), ("soft_cap", float("nan"))])
def test_bad_calibration_parameters_name_themselves(param, value):
    with pytest.raises(InvalidInputError, match=f"{param} must be a number in"):
        CausalDetector(**{param: value}).fit(np.random.default_rng(0).normal(size=(300, 3)))


def test_folders_without_the_new_parameters_score_as_before():
    assert detector_params({"lags": 1}) == {"lags": 1, **UNVERSIONED_DETECTOR_DEFAULTS}
    assert detector_params({"soft_cap": 3.0})["soft_cap"] == 3.0
    assert set(UNVERSIONED_DETECTOR_DEFAULTS.values()) == {0.0}


@pytest.mark.parametrize("method", ["causal+innovation+nsigma", "causal+nsigma", "noise"])
def test_explain_ranks_the_fault_not_the_artefacts(data, method):
    """explain reads the model's floor and cap: an artefact that bends a little in the same
    window (the duplicate, the gauge) does not outrank the faulty metric (the previous
    scoring ranks it first here too: a regression test of the calibrated path)."""
    from faultgraph.rca import explain

    train, test, windows = data
    both = test.copy()
    fault = windows["fault"]
    both.iloc[fault, both.columns.get_loc("dup")] += 0.1 * train["b"].std()
    both.iloc[fault, both.columns.get_loc("near")] += 2e-3
    det = _fit(train, **CALIBRATED)
    ranked = explain(det, both, (fault.start, fault.stop - 1), method=method, target="c").top(1)
    assert ranked == ["c"]


def test_explain_notes_a_flagged_cause(data):
    """Without a floor the bent duplicate ranks among the first causes; explain then says
    that the model flagged it, and why (rca.json's caveats, a note line in the text)."""
    from faultgraph.rca import explain

    train, test, windows = data
    det = _fit(train, **OFF)
    window = windows["dup"]
    result = explain(det, test, (window.start, window.stop - 1), target="dup")
    assert "dup" in result.top(5)
    caveats = dict(result.caveats)
    assert "near-duplicate of 'b'" in caveats["dup"] and "not floored" in caveats["dup"]
    assert set(caveats) <= set(result.top(5)) & set(det.flagged_)
    assert f"note on dup: {caveats['dup']}" in str(result) and result.to_dict()["caveats"] == caveats
    from html import escape

    from faultgraph.report import render_incident_report
    page = render_incident_report(det, test, result)
    assert f"<b>Note on dup:</b> {escape(caveats['dup'])}" in page
    fault = windows["fault"]  # a cause the model did not flag gets no note
    clean = explain(det, test, (fault.start, fault.stop - 1), target="c")
    assert clean.top(1) == ["c"] and "c" not in dict(clean.caveats)


def test_the_docs_example_runs():
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "calibration.md").read_text()
    for code in re.findall(r"```python\n(.*?)```", text, flags=re.S):
        exec(compile(code, "docs/calibration.md", "exec"), {})
