"""``CausalDetector(lags="auto")``: the lag window chosen from the training data
(:func:`faultgraph.encode.lags.choose_lags`), ``scoring="auto"``, and both kept by save/load
(issue 17 item 7)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from faultgraph.detect import CausalDetector
from faultgraph.encode.lags import LagChoice, choose_lags, median_lead, peak_lag
from faultgraph.errors import InvalidInputError


def _delayed_system(n: int = 1500, delay: int = 4, seed: int = 0) -> pd.DataFrame:
    """Six metrics: ``a`` (an AR(1) of 0.5) drives ``b`` ``delay`` steps later (weight 0.9),
    ``b`` drives ``c`` at once (0.8); ``u``, ``v``, ``w`` are independent AR(1)s of 0.3."""
    rng = np.random.default_rng(seed)
    e = rng.normal(size=(n + 50, 6))
    x = np.zeros_like(e)
    for t in range(1, n + 50):
        x[t, 0] = 0.5 * x[t - 1, 0] + e[t, 0]
        x[t, 1] = (0.9 * x[t - delay, 0] if t >= delay else 0.0) + 0.5 * e[t, 1]
        x[t, 2] = 0.8 * x[t, 1] + 0.5 * e[t, 2]
        x[t, 3:] = 0.3 * x[t - 1, 3:] + e[t, 3:]
    return pd.DataFrame(x[50:], columns=["a", "b", "c", "u", "v", "w"])


def _white(n: int = 1500, d: int = 8, seed: int = 1) -> pd.DataFrame:
    return pd.DataFrame(np.random.default_rng(seed).normal(size=(n, d)), columns=[f"m{i}" for i in range(d)])


def test_a_four_step_link_gets_a_window_of_at_least_four():
    frame = _delayed_system()
    choice = choose_lags(frame.to_numpy())
    assert 4 <= choice.lags <= 8 and choice.max_lags == 8
    # windows shorter than the delay predict the held-back tail clearly worse; the chosen one is within 2 %
    assert min(choice.errors[:4]) > 1.1 and choice.errors[choice.lags] <= 1.02
    # a's differenced changes lead b's and c's by 4 steps, b's lead c's at once: median 2 over those pairs
    assert choice.pre_estimate >= 2 and choice.pairs >= 2
    assert peak_lag(frame["a"], frame["b"], 8) == 4
    det = CausalDetector(lags="auto").fit(frame)
    assert det.lags == "auto" and det.lags_ == det.lag_choice_.lags >= 4
    assert ("a", "b", 4) in {(s, t, k) for s, t, k, _ in det.graph_.edge_delays}
    assert det.coef_.shape == (6 * (det.lags_ + 1), 6)
    assert str(det.lag_choice_).startswith(f"lags={det.lags_}: the shortest window")


@pytest.mark.parametrize("seed", [1, 2])
def test_white_noise_gets_no_window_or_one(seed):
    frame = _white(seed=seed)
    assert choose_lags(frame.to_numpy()).lags in (0, 1)
    det = CausalDetector(lags="auto").fit(frame)
    assert det.lags_ in (0, 1)
    assert np.isfinite(det.score_samples(_white(300, seed=seed + 10))["score"]).all()


def test_a_fixed_window_is_kept_and_records_no_choice():
    det = CausalDetector(lags=2, scoring="residual+marginal").fit(_white(600))
    assert det.lags_ == 2 and det.lag_choice_ is None
    assert det.scoring_ == "residual+marginal" and det.scoring_reason_ == ""
    # the default score is chosen from the data, and says why, without choosing the window
    det = CausalDetector(lags=2).fit(_white(600))
    assert det.scoring == "auto" and det.scoring_ == "residual+marginal" and det.lag_choice_ is None
    assert det.scoring_reason_.startswith("residual+marginal: the metrics' differenced changes lead each other")


def test_save_load_keeps_the_choice(tmp_path):
    frame = _delayed_system()
    det = CausalDetector(lags="auto", scoring="auto").fit(frame.iloc[:1200])
    det.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    # params hold the window and score used (a faultgraph from before "auto" scores the same)
    assert meta["params"]["lags"] == det.lags_ and meta["params"]["scoring"] == det.scoring_
    assert meta["lag_choice"]["lags"] == det.lags_ and "shortest window" in meta["lag_choice"]["reason"]
    back = CausalDetector.load(tmp_path / "m")
    assert back.lags == "auto" and back.scoring == "auto" and back.get_params()["lags"] == "auto"
    assert back.lags_ == det.lags_ and back.lag_choice_ == det.lag_choice_
    assert back.scoring_ == det.scoring_ and back.scoring_reason_ == det.scoring_reason_
    test = frame.iloc[1000:]
    np.testing.assert_allclose(back.score_samples(test)["score"], det.score_samples(test)["score"])
    # a fixed window round-trips as before, with no choice recorded
    fixed = CausalDetector(lags=1).fit(frame.iloc[:1200])
    fixed.save(tmp_path / "f")
    assert "lag_choice" not in json.loads((tmp_path / "f" / "model.json").read_text())
    again = CausalDetector.load(tmp_path / "f")
    assert again.lags == again.lags_ == 1 and again.lag_choice_ is None


def test_a_choice_that_disagrees_with_params_is_refused(tmp_path):
    det = CausalDetector(lags="auto").fit(_delayed_system().iloc[:1200])
    det.save(tmp_path / "m")
    path = tmp_path / "m" / "model.json"
    meta = json.loads(path.read_text())
    meta["lag_choice"]["lags"] = det.lags_ + 1
    path.write_text(json.dumps(meta))
    with pytest.raises(InvalidInputError, match="lag_choice.lags"):
        CausalDetector.load(tmp_path / "m")


@pytest.mark.parametrize("bad", ["sometimes", -1, True, 2.5, None])
def test_a_bad_lags_is_refused_naming_the_argument(bad):
    with pytest.raises(InvalidInputError, match=r"lags must be a whole number >= 0 .* or \"auto\".*got"):
        CausalDetector(lags=bad).fit(_white(300))


def test_a_bad_scoring_is_refused():
    with pytest.raises(InvalidInputError, match="scoring"):
        CausalDetector(scoring="sometimes").fit(_white(300))


def test_scoring_auto_adds_innovations_where_links_take_several_steps():
    delayed = CausalDetector(lags="auto", scoring="auto").fit(_delayed_system())
    assert delayed.scoring_ == "residual+marginal+innovation" and "lead each other by a median" in delayed.scoring_reason_
    assert any(c.startswith("innovation:") for c in delayed.score_samples(_delayed_system(300, seed=5)).columns)
    same_step = CausalDetector(scoring="auto").fit(_delayed_system(delay=1))  # a fixed window: choice computed anyway
    assert same_step.lag_choice_ is None and same_step.scoring_ == "residual+marginal"


@pytest.mark.parametrize("kwargs, match", [
    ({"max_lags": -1}, "max_lags"), ({"max_lags": True}, "max_lags"), ({"parents": 1.5}, "parents"),
    ({"holdout": 0.0}, "holdout"), ({"holdout": 0.7}, "holdout"), ({"tolerance": -0.1}, "tolerance"),
])
def test_choose_lags_refuses_bad_options(kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        choose_lags(_white(200).to_numpy(), **kwargs)


def test_choose_lags_refuses_bad_data_and_says_when_rows_are_too_few():
    with pytest.raises(InvalidInputError, match="2-D"):
        choose_lags(np.zeros(10))
    with pytest.raises(InvalidInputError, match="NaN"):
        choose_lags(np.array([[1.0, np.nan]] * 50))
    few = choose_lags(_white(30).to_numpy())
    assert few.lags == 0 and few.max_lags == 0 and "too few" in few.reason
    assert LagChoice.from_dict(few.to_dict()) == few


def test_median_lead_reads_the_delay_and_refuses_bad_options():
    lead, pairs = median_lead(_delayed_system(delay=5).to_numpy())
    assert lead >= 2 and pairs >= 2
    assert median_lead(_delayed_system(delay=1).to_numpy())[0] <= 1
    assert median_lead(np.zeros((5, 3))) == (0, 0)  # too short to look at any lag
    with pytest.raises(InvalidInputError, match="max_lag"):
        median_lead(_white(100).to_numpy(), 0)
    with pytest.raises(InvalidInputError, match="parents"):
        median_lead(_white(100).to_numpy(), parents=-1)


def test_the_smd_summary_pairs_within_each_dataset():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import robustness_smd

    frame = pd.DataFrame({"dataset": ["S", "S", "S", "S", "A", "A"], "machine": ["a", "b", "a", "b", "c", "c"],
                          "config": ["defaults", "defaults", "x", "x", "defaults", "x"],
                          "F1": [0.5, 0.7, 0.6, 0.7, 0.2, 0.1], "best F1": [0.6, 0.8, 0.6, 0.6, 0.3, 0.3],
                          "ROC-AUC": [0.9, 0.9, 0.95, 0.95, 0.7, 0.8]})
    out = robustness_smd.summary(frame).set_index(["dataset", "config"])
    assert out.loc[("S", "x"), "Δ best F1 [95 % CI]"].startswith("-0.100 [-0.200, +0.000]")
    assert out.loc[("A", "x"), "Δ F1 [95 % CI]"] == "-0.100 [-0.100, -0.100]"
    assert out.loc[("A", "x"), "ROC-AUC"] == pytest.approx(0.8) and out.loc[("A", "defaults"), "Δ F1 [95 % CI]"] == ""


def test_fit_lags_auto_on_the_command_line(tmp_path):
    from typer.testing import CliRunner

    from faultgraph.cli import app

    runner = CliRunner()
    data = tmp_path / "train.csv"
    _delayed_system(n=1200, delay=4, seed=3).to_csv(data, index=False)
    result = runner.invoke(app, ["fit", str(data), "--lags", "auto", "--out", str(tmp_path / "m")])
    assert result.exit_code == 0, result.output
    spec = json.loads((tmp_path / "m" / "model.json").read_text())
    assert spec["params"]["lags"] >= 4 and spec["lag_choice"]["lags"] == spec["params"]["lags"]
    assert spec["scoring_choice"]["scoring"] in ("residual+marginal", "residual+marginal+innovation")
    model = CausalDetector.load(tmp_path / "m")
    assert model.lags == "auto" and model.lags_ == spec["params"]["lags"]
    for bad in ("sometimes", "-1", "2.5"):
        result = runner.invoke(app, ["fit", str(data), "--lags", bad, "--out", str(tmp_path / "bad")])
        assert result.exit_code == 2 and "'--lags'" in result.output and "nor 'auto'" in result.output
    result = runner.invoke(app, ["fit", str(data), "--label", "a", "--lags", "auto", "--out", str(tmp_path / "bad")])
    assert result.exit_code != 0 and "--lags auto applies to anomaly detection" in result.output
    assert not (tmp_path / "bad").exists()


def test_explain_case_mode_takes_lags_auto(tmp_path):
    from typer.testing import CliRunner

    from faultgraph.cli import app
    from faultgraph.simulate import simulate_incident

    inc = simulate_incident(services=4, random_state=2)
    inc.write(tmp_path / "case")
    runner = CliRunner()
    args = ["explain", "--normal", str(tmp_path / "case" / "normal.csv"), "--anomalous",
            str(tmp_path / "case" / "anomalous.csv")]
    result = runner.invoke(app, [*args, "--lags", "auto", "--out", str(tmp_path / "rca.json")])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "rca.json").read_text())["causes"][0]["service"] == inc.root_cause_service
    result = runner.invoke(app, [*args, "--lags", "often", "--out", str(tmp_path / "bad.json")])
    assert result.exit_code == 2 and "nor 'auto'" in result.output and not (tmp_path / "bad.json").exists()
