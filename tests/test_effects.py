"""Structural equations and effects: closed forms on hand-built SEMs, scores, paths, do()."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from faultgraph import InvalidInputError, NotADAGError, NotFittedError
from faultgraph.effects import (
    average_treatment_effect,
    causal_scores,
    interventional_samples,
    propagation_paths,
    total_effects,
    what_if,
)
from faultgraph.sem import SEM
from faultgraph.simulate import simulate_linear_sem

# Hand-built linear SEMs: weights and the total effect of the first node on the last,
# worked out by hand (sum over directed paths of the product of weights).
GRAPHS = {
    "chain": ({("a", "b"): 2.0, ("b", "c"): 3.0}, "a", "c", 6.0),
    "fork": ({("b", "a"): 1.5, ("b", "c"): -2.0}, "a", "c", 0.0),
    "collider": ({("a", "c"): 0.5, ("b", "c"): 1.0}, "a", "c", 0.5),
    "diamond": ({("a", "b"): 2.0, ("a", "c"): -1.0, ("b", "d"): 0.5, ("c", "d"): 3.0}, "a", "d", 2.0 * 0.5 - 3.0),
}


def _fit(edges, n=3000, seed=0, noise="gauss"):
    nodes = sorted({v for e in edges for v in e})
    W = np.zeros((len(nodes), len(nodes)))
    for (s, t), w in edges.items():
        W[nodes.index(s), nodes.index(t)] = w
    X = simulate_linear_sem(W, n, noise=noise, random_state=seed)
    data = pd.DataFrame(X, columns=nodes)
    parents = {v: [s for (s, t) in edges if t == v] for v in nodes}
    return SEM().fit(data, parents), data, W


@pytest.mark.parametrize("name", list(GRAPHS))
def test_ate_equals_closed_form_of_the_fitted_equations(name):
    edges, treatment, target, truth = GRAPHS[name]
    sem, _, _ = _fit(edges)
    W = sem.weight_matrix()
    closed = np.linalg.inv(np.eye(len(sem.nodes_)) - W)[sem.nodes_.index(treatment), sem.nodes_.index(target)]
    result = average_treatment_effect(sem, treatment, target, n_bootstrap=0)
    assert result.method == "exact"
    assert result.ate == pytest.approx(closed, abs=1e-9)
    # and the fitted effect is close to the true one (n = 3000 rows)
    assert result.ate == pytest.approx(truth, abs=0.2)


@pytest.mark.parametrize("name", list(GRAPHS))
def test_monte_carlo_effect_lies_in_the_interval(name):
    edges, treatment, target, _ = GRAPHS[name]
    sem, _, _ = _fit(edges)
    result = average_treatment_effect(sem, treatment, target, n_bootstrap=200, random_state=2)
    # common random numbers: both arms share their noise draws
    hi = interventional_samples(sem, {treatment: 1.0}, 40000, random_state=3)[target].mean()
    lo = interventional_samples(sem, {treatment: 0.0}, 40000, random_state=3)[target].mean()
    assert result.ci_low <= hi - lo <= result.ci_high, (result, hi - lo)


def test_ate_scales_with_the_intervention_size():
    sem, _, _ = _fit(GRAPHS["chain"][0])
    one = average_treatment_effect(sem, "a", "c", n_bootstrap=0).ate
    assert average_treatment_effect(sem, "a", "c", high=3.0, low=1.0, n_bootstrap=0).ate == pytest.approx(2 * one)


def test_total_effects_matrix_sums_paths():
    sem, _, _ = _fit(GRAPHS["diamond"][0])
    T = total_effects(sem)
    W = sem.weight_matrix()
    i = {n: k for k, n in enumerate(sem.nodes_)}
    assert T[i["a"], i["d"]] == pytest.approx(W[i["a"], i["b"]] * W[i["b"], i["d"]] + W[i["a"], i["c"]] * W[i["c"], i["d"]])
    assert T[i["d"], i["a"]] == 0.0 and T[i["a"], i["a"]] == 1.0


def test_do_leaves_ancestors_unchanged_and_sets_the_node():
    sem, data, _ = _fit(GRAPHS["chain"][0])
    base = interventional_samples(sem, {}, 20000, random_state=5)
    forced = interventional_samples(sem, {"b": 10.0}, 20000, random_state=5)
    assert (forced["b"] == 10.0).all()
    # a is an ancestor of b: same draws, same distribution
    np.testing.assert_array_equal(base["a"].to_numpy(), forced["a"].to_numpy())
    assert forced["c"].mean() == pytest.approx(sem.intercept_["c"] + 10.0 * sem.coef_["c"][0], abs=0.05)
    # the observational samples match the data's moments
    assert base["c"].std() == pytest.approx(data["c"].std(), rel=0.05)


def test_causal_scores_are_shares_that_sum_to_one():
    edges, _, _, _ = GRAPHS["diamond"]
    sem, _, _ = _fit(edges)
    scores = causal_scores(sem, "d", n_bootstrap=20, random_state=0)
    values = [s.score for s in scores.scores]
    assert all(v >= 0 for v in values) and sum(values) == pytest.approx(1.0)
    assert values == sorted(values, reverse=True)
    ates = {s.node: s.ate for s in scores.scores}
    total = sum(abs(v) for v in ates.values())
    for s in scores.scores:
        assert s.score == pytest.approx(abs(s.ate) / total)
        assert s.ci_low <= s.ate + 1e-9 and s.ate - 1e-9 <= s.ci_high
    assert scores.to_dict()["target"] == "d"


def test_propagation_paths_are_directed_and_sorted():
    edges = GRAPHS["diamond"][0]
    sem, _, _ = _fit(edges)
    paths = propagation_paths(sem, "a", "d", k=5)
    assert len(paths) == 2
    effects = [abs(p.effect) for p in paths]
    assert effects == sorted(effects, reverse=True)
    for p in paths:
        assert p.nodes[0] == "a" and p.nodes[-1] == "d"
        for u, v in zip(p.nodes, p.nodes[1:]):
            assert u in sem.parents_[v]
        product = np.prod([sem.coef_[v][sem.parents_[v].index(u)] for u, v in zip(p.nodes, p.nodes[1:])])
        assert p.effect == pytest.approx(product)
    assert paths[0].nodes == ("a", "c", "d")  # |(-1)(3)| > |(2)(0.5)|
    # the path effects sum to the total effect in a linear SEM
    assert sum(p.effect for p in paths) == pytest.approx(average_treatment_effect(sem, "a", "d", n_bootstrap=0).ate)
    assert propagation_paths(sem, "d", "a") == ()


def test_top_k_paths_match_brute_force_on_a_random_dag():
    import networkx as nx

    from faultgraph.simulate import simulate_dag, simulate_weights

    B = simulate_dag(12, 3, "er", random_state=4)
    W = simulate_weights(B, random_state=4)
    nodes = [f"v{i}" for i in range(12)]
    data = pd.DataFrame(simulate_linear_sem(W, 2000, random_state=4), columns=nodes)
    sem = SEM().fit(data, W)
    Wf = sem.weight_matrix()
    G = nx.DiGraph([(nodes[i], nodes[j]) for i, j in zip(*np.nonzero(W))])
    order = [nodes[i] for i in np.argsort(-(W != 0).sum(axis=1))]
    source, target = next((s, t) for s in order for t in nodes if s != t and G.has_node(t)
                          and G.has_node(s) and len(list(nx.all_simple_paths(G, s, t))) >= 3)
    brute = sorted((np.prod([Wf[nodes.index(u), nodes.index(v)] for u, v in zip(p, p[1:])]) for p in
                    nx.all_simple_paths(G, source, target)), key=lambda e: -abs(e))[:3]
    got = [p.effect for p in propagation_paths(sem, source, target, k=3)]
    np.testing.assert_allclose(got, brute)


def test_what_if_counterfactual_by_hand():
    sem, data, _ = _fit(GRAPHS["chain"][0])
    rows = data.iloc[:5]
    cf = what_if(sem, rows, {"a": 2.0})
    # b's own noise is kept: b' = b + β_ab (a' - a); likewise for c through b
    b_ab, b_bc = sem.coef_["b"][0], sem.coef_["c"][0]
    np.testing.assert_allclose(cf["b"], rows["b"] + b_ab * (2.0 - rows["a"]))
    np.testing.assert_allclose(cf["c"], rows["c"] + b_bc * (cf["b"] - rows["b"]))
    # no intervention: the rows themselves
    pd.testing.assert_frame_equal(what_if(sem, rows, {}), rows[sem.nodes_], check_dtype=False)


def test_logistic_label_and_monte_carlo_effect():
    rng = np.random.default_rng(0)
    n = 6000
    a = rng.normal(size=n)
    b = 0.8 * a + rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(2.0 * b - 1.0)))).astype(float)
    data = pd.DataFrame({"a": a, "b": b, "y": y})
    sem = SEM().fit(data, {"a": [], "b": ["a"], "y": ["b"]})
    assert sem.node_kind_["y"] == "logistic" and not sem.is_linear
    assert sem.coef_["y"][0] == pytest.approx(2.0, abs=0.2) and sem.intercept_["y"] == pytest.approx(-1.0, abs=0.15)
    res = average_treatment_effect(sem, "b", "y", n=20000, n_bootstrap=30, random_state=0)
    expected = np.mean(1 / (1 + np.exp(-(2.0 * 1 - 1))) - 1 / (1 + np.exp(-(2.0 * 0 - 1))))
    assert res.method == "monte-carlo"
    assert res.ate == pytest.approx(expected, abs=0.05)
    assert res.ci_low <= res.ate <= res.ci_high
    scores = causal_scores(sem, "y", n_bootstrap=0, random_state=0)
    assert scores.top(1) == ["b"]


def test_sem_bad_input():
    sem, data, _ = _fit(GRAPHS["chain"][0])
    with pytest.raises(NotFittedError):
        SEM().weight_matrix()
    with pytest.raises(InvalidInputError, match="not a node of the model"):
        average_treatment_effect(sem, "zz", "c")
    with pytest.raises(InvalidInputError, match="must differ"):
        average_treatment_effect(sem, "c", "c")
    with pytest.raises(InvalidInputError, match="do\\['a'\\] must be finite"):
        interventional_samples(sem, {"a": float("nan")})
    with pytest.raises(NotADAGError):
        SEM().fit(data, {"a": ["c"], "b": ["a"], "c": ["b"]})
    with pytest.raises(InvalidInputError, match="lacks"):
        SEM().fit(data, {"a": ["nope"]})
    with pytest.raises(InvalidInputError, match="DataFrame"):
        SEM().fit(data.to_numpy(), {})
    with pytest.raises(InvalidInputError, match="k must be"):
        propagation_paths(sem, "a", "c", k=0)


def test_bootstrap_redraws_resamples_that_make_a_rare_variable_constant():
    # 'a' is off zero in 2 of 300 rows: about 1 resample in 7 misses both and makes it constant
    rng = np.random.default_rng(0)
    a = np.zeros(300)
    a[[10, 200]] = 1.0
    b = 2.0 * a + rng.normal(size=300)
    c = 3.0 * b + rng.normal(size=300)
    sem = SEM().fit(pd.DataFrame({"a": a, "b": b, "c": c}), {"a": [], "b": ["a"], "c": ["b"]})
    with pytest.warns(UserWarning, match=r"resamples made a variable constant \(a \d+x\) and were drawn again"):
        result = average_treatment_effect(sem, "a", "c", n_bootstrap=40, random_state=1)
    assert np.isfinite([result.ci_low, result.ci_high]).all() and result.ci_low <= result.ate <= result.ci_high
    a[200] = 0.0  # off zero in one row: resamples miss it about 37 % of the time, still drawn again
    one = SEM().fit(pd.DataFrame({"a": a, "b": b, "c": c}), {"a": [], "b": ["a"], "c": ["b"]})
    with pytest.warns(UserWarning, match="drawn again"):
        average_treatment_effect(one, "a", "c", n_bootstrap=10, random_state=1)


def test_bootstrap_gives_up_rather_than_loop_for_ever(monkeypatch):
    import faultgraph.effects.ate as ate

    rng = np.random.default_rng(0)
    data = pd.DataFrame({"a": [1.0, 0.0, 0.0, 0.0], "b": rng.normal(size=4)})
    sem = SEM().fit(data, {"a": [], "b": ["a"]})
    draws = []

    def always_a(values):  # as if every resample made 'a' constant
        draws.append(1)
        return np.array([True, False])

    monkeypatch.setattr(ate, "_constant_columns", always_a)
    with pytest.raises(InvalidInputError, match=r"resamples keep making a variable constant: 'a' \(1 of 4 rows"):
        average_treatment_effect(sem, "a", "b", n_bootstrap=10, random_state=0)
    assert len(draws) == 10 * ate.MAX_REDRAW
    for bad in (1, 9, -1, True, 2.5):
        with pytest.raises(InvalidInputError, match=r"n_bootstrap must be 0 \(no interval\) or at least 10"):
            average_treatment_effect(sem, "a", "b", n_bootstrap=bad)


def test_lagged_edges_left_out_of_the_sem_are_said():
    # y(t) = 0.9 x(t-1): a lagged learner finds the edge; SEM's equations are same-step,
    # so the effect through time is not counted, and a warning says so (it was silent: ATE 0)
    import warnings

    from faultgraph import StructureLearner

    rng = np.random.default_rng(0)
    x = rng.normal(size=2000)
    y = np.r_[0.0, 0.9 * x[:-1]] + 0.3 * rng.normal(size=2000)
    data = pd.DataFrame({"x": x, "y": y})
    learner = StructureLearner(lags=1, standardize=False).fit(data)
    assert [(s, t, k) for s, t, k, _ in learner.graph_.lagged_edges] == [("x", "y", 1)]
    with pytest.warns(UserWarning, match=r"1 lagged edge\(s\) \(e.g. x\(t-1\) -> y\); SEM models same-step"):
        sem = SEM().fit(data, learner)
    assert sem.parents_["y"] == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SEM().fit(data, {"y": ["x"]})  # a same-step graph: nothing to say


def test_an_intervened_value_must_be_a_finite_number():
    from faultgraph.effects import average_treatment_effect
    from faultgraph.sem import SEM

    rng = np.random.default_rng(0)
    a = rng.normal(size=300)
    frame = pd.DataFrame({"a": a, "c": 2 * a + rng.normal(size=300)})
    sem = SEM().fit(frame, {"c": ["a"]})
    for bad in (np.nan, np.inf, "1", True):
        with pytest.raises(InvalidInputError, match="high must be a finite number"):
            average_treatment_effect(sem, "a", "c", high=bad, n_bootstrap=0)
    assert average_treatment_effect(sem, "a", "c", high=3.0, low=-1.0, n_bootstrap=0).ate == pytest.approx(
        4 * average_treatment_effect(sem, "a", "c", n_bootstrap=0).ate)
