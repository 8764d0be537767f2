"""Calibrated ranking scales (``explain(..., scales=...)``, ``ranking_scales``): near-constant,
duplicated and near-deterministic metrics never take the top rank, the same data in other
units rank the same, and the automatic symptom is a metric that moved."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from faultgraph.detect import CausalDetector
from faultgraph.errors import InvalidInputError
from faultgraph.rca import explain, step_scores
from faultgraph.rca.ranking import RANK_SCALE_FLOOR, SCALES, grid_step, ranking_scales

WINDOW = (400, 439)


def awkward(n: int, seed: int, fault_from: int | None = None, shift: float = 0.0) -> pd.DataFrame:
    """``a → b → c`` (lagged and same-step), ``u`` on its own, and three awkward columns:
    ``count``, a request count that is 95 almost always (a tick up now and then: its robust
    scale collapses), ``dup``, ``b`` in other units plus a rounding error (a duplicate), and
    ``total``, ``a + b`` to one part in a million (a sum of its parts: near-deterministic).
    From ``fault_from`` on, ``u``'s own noise shifts by ``shift`` sd (the root cause), while
    the awkward columns' relations bend by a hair: ``count`` ticks once more, ``dup``'s and
    ``total``'s errors grow to 5 % of their own variation (no news in their own terms)."""
    rng = np.random.default_rng(seed)
    e = rng.normal(size=(n, 4))
    a = np.zeros(n)
    for t in range(n):
        a[t] = 0.5 * (a[t - 1] if t else 0.0) + e[t, 0]
    b = 0.8 * a + 0.6 * e[:, 1]
    c = 0.8 * b + 0.6 * e[:, 2]
    u = e[:, 3].copy()
    count = np.full(n, 95.0)
    count[rng.choice(n, size=n // 40, replace=False)] += 1.0
    error = np.full(n, 1e-6)
    if fault_from is not None:
        u[fault_from:] += shift
        count[fault_from + 5] += 1.0
        error[fault_from:] = 0.05
    dup = 1000.0 * (b + error * rng.normal(size=n))
    total = a + b + error * rng.normal(size=n)
    return pd.DataFrame({"a": a, "b": b, "c": c, "u": u, "count": count, "dup": dup, "total": total})


@pytest.fixture(scope="module")
def fitted() -> CausalDetector:
    return CausalDetector().fit(awkward(400, seed=1))


@pytest.fixture(scope="module")
def incident() -> pd.DataFrame:
    return awkward(440, seed=2, fault_from=400, shift=4.0)


def test_awkward_metrics_never_take_the_top_rank(fitted, incident):
    for method in ("causal+innovation+nsigma", "causal", "noise", "innovation", "causal+nsigma", "mechanism"):
        ex = explain(fitted, incident, WINDOW, method=method, scales="calibrated")
        assert ex.top(1)[0] not in {"count", "dup", "total", "b", "c"}, (method, ex.top(3))
    calibrated = explain(fitted, incident, WINDOW, scales="calibrated")
    assert calibrated.top(1) == ["u"]
    # no score runs away: every part is on the scale of a few sd, not 1e4
    assert max(c.score for c in calibrated.causes) < 100.0
    # on the model's own scales the bent relation owns the ranking: b's equation (on dup,
    # its duplicate) held to 1e-9 in training, c's leans on collinear parents
    model = explain(fitted, incident, WINDOW, scales="model")
    assert model.top(1)[0] in {"b", "c"} and model.causes[0].score > 100.0


def test_ranking_scales_floor_and_flag(fitted):
    resid, innov, flagged, aside = ranking_scales(fitted)
    own = np.minimum(1.0, fitted.train_std_)
    assert np.all(resid >= RANK_SCALE_FLOOR * own - 1e-15)
    assert np.all(resid >= fitted.resid_std_)
    assert np.all(innov >= RANK_SCALE_FLOOR * own - 1e-15)
    names = list(fitted.encoder_.columns_)
    collapsed = [n for n, r in zip(names, fitted.resid_std_ / own) if r < RANK_SCALE_FLOOR]
    assert sorted(flagged) == sorted(collapsed) and all("near-deterministic" in why for why in flagged.values())
    assert not aside.any()  # set aside only below RANK_DETERMINISTIC (0 by default)
    # set aside: those metrics are ranked on their own deviation (their N-sigma z)
    _, _, flagged_hi, aside_hi = ranking_scales(fitted, share=0.5, deterministic=0.5)
    assert aside_hi.any() and set(flagged_hi) >= {names[j] for j in np.flatnonzero(aside_hi)}
    # the model's own scales: as fitted, nothing flagged
    model_resid, model_innov, none, no = ranking_scales(fitted, "model")
    np.testing.assert_array_equal(model_resid, fitted.resid_std_)
    assert model_innov is None and none == {} and not no.any()
    with pytest.raises(InvalidInputError, match="scales must be one of"):
        ranking_scales(fitted, "robust")
    with pytest.raises(InvalidInputError, match="share must be a number >= 0, got -1"):
        ranking_scales(fitted, share=-1)


def test_explanation_says_what_was_flagged(fitted, incident):
    ex = explain(fitted, incident, WINDOW, scales="calibrated")
    _, _, flagged, _ = ranking_scales(fitted)
    assert "b" in flagged  # b's equation on its duplicate
    assert dict(ex.flagged) == flagged
    assert ex.to_dict()["flagged"] == flagged
    assert explain(fitted, incident, WINDOW, scales="model").to_dict()["flagged"] == {}
    assert explain(fitted, incident, WINDOW).method == "causal+innovation+nsigma"
    with pytest.raises(InvalidInputError, match="scales must be one of"):
        explain(fitted, incident, WINDOW, scales="robust")
    assert set(SCALES) == {"calibrated", "model"}


def test_grid_step_reads_counts_not_continuous_values():
    rng = np.random.default_rng(0)
    X = np.column_stack([np.round(rng.normal(size=200) * 3) + 95.0, rng.normal(size=200),
                         np.full(200, 4.0), 0.25 * np.round(rng.normal(size=200) * 8)])
    step = grid_step(X)
    assert step[0] == pytest.approx(1.0) and step[1] == 0.0 and step[2] == 0.0
    assert step[3] == pytest.approx(0.25)
    assert grid_step(X * 60.0)[0] == pytest.approx(60.0)  # in other units, the step in those units
    assert not grid_step(X[:10]).any()  # too few rows: no step read


def test_same_ranking_in_other_units(fitted, incident):
    units = {"a": 1e3, "b": 0.01, "c": 7.0, "u": 1e-4, "count": 60.0, "dup": 2.5, "total": 1e6}
    offset = {"a": 5.0, "b": -3.0, "c": 100.0, "u": 0.0, "count": 1e4, "dup": 1.0, "total": -7.0}

    def rescale(frame):
        return pd.DataFrame({k: frame[k] * units[k] + offset[k] for k in frame})

    train = awkward(400, seed=1)
    other = CausalDetector().fit(rescale(train))
    for method in ("causal+innovation+nsigma", "causal", "nsigma"):
        for scales in SCALES:
            base = explain(fitted, incident, WINDOW, method=method, scales=scales)
            moved = explain(other, rescale(incident), WINDOW, method=method, scales=scales)
            assert moved.top(4) == base.top(4), (method, scales)
            got = {c.metric: c.score for c in moved.causes}
            for c in base.causes[:4]:
                assert got[c.metric] == pytest.approx(c.score, rel=1e-3)
        base = explain(fitted, incident, WINDOW, method=method)
        moved = explain(other, rescale(incident), WINDOW, method=method)
        assert moved.top(4) == base.top(4), method
        got = {c.metric: c.score for c in moved.causes}
        for c in base.causes[:4]:
            assert got[c.metric] == pytest.approx(c.score, rel=1e-3)


def test_automatic_symptom_is_never_a_flat_metric():
    rng = np.random.default_rng(5)
    train = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300),
                          "gauge": np.where(rng.random(300) < 0.5, 10.0, 10.0 + 1e-3 * rng.normal(size=300))})
    model = CausalDetector().fit(train)
    test = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60), "gauge": np.full(60, 10.0)})
    test.loc[40:, "a"] += 3.0
    test.loc[39:, "gauge"] = 12.0  # stuck far from its training values (a huge z), flat through the window
    ex = explain(model, test, (40, 59))
    assert ex.target != "gauge"
    assert ex.target == "a"
    steps = step_scores(model, test, (40, 59))
    assert list(steps.columns)[:3] == ["a", "b", "gauge"]
    # with nothing moved at all, the largest deviation is still a symptom (no crash)
    still = pd.DataFrame({"a": np.full(60, 0.5), "b": np.full(60, -0.2), "gauge": np.full(60, 12.0)})
    assert explain(model, still, (40, 59)).target == "gauge"


def test_grid_step_floor_makes_one_tick_of_a_count_no_six_sd_event(fitted, incident, monkeypatch):
    from faultgraph.rca import ranking

    def count_z():
        return {c.metric: c.deviation_z for c in explain(fitted, incident, WINDOW, scales="calibrated").causes}["count"]

    monkeypatch.setattr(ranking, "RANK_RESOLUTION_ROWS", 0)
    assert count_z() > 5.0  # one tick of a count that is 95 97 % of the time: sd 0.16, a 6-sd event
    monkeypatch.setattr(ranking, "RANK_RESOLUTION_ROWS", 60)
    assert count_z() < 3.0  # on a scale of at least step / sqrt(6): about 2.4
