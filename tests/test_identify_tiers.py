"""Issue 18: effects identified from a causal order (tiers), simultaneous intervals, and
time marks from tests of the past (the lagged confident-wrong mechanism)."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from faultgraph.discovery.ensemble import block_bootstrap_rows
from faultgraph.errors import InvalidInputError
from faultgraph.effects.identify import (
    Resample,
    granger_order,
    identified_scores,
    optimal_adjustment,
    order_adjustment,
    path_effect,
    ordered_graph,
    orient_graph,
    select_parents,
    surely_reaches,
    weighted_covariance,
)


def _resamples(n: int, A: np.ndarray, lagged: np.ndarray | None = None, B: int = 40, block: int = 1,
               time_order: np.ndarray | None = None) -> list[Resample]:
    rng = np.random.default_rng(11)
    return [Resample(block_bootstrap_rows(n, block, rng), A, lagged, time_order) for _ in range(B)]


def _ols(y: np.ndarray, *columns: np.ndarray) -> float:
    """Coefficient of the first column in the least-squares regression of y on the columns."""
    X = np.column_stack([np.ones(len(y)), *columns])
    return float(np.linalg.lstsq(X, y, rcond=None)[0][1])


def _chain(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    # a -> b -> y, a -> y, b -> c (c: a symptom, no effect on y); a confounds b and y
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    b = 1.0 * a + rng.normal(size=n)
    c = 0.9 * b + rng.normal(size=n)
    y = 0.8 * b + 0.5 * a + rng.normal(size=n)
    return pd.DataFrame({"a": a, "b": b, "c": c, "y": y})


def _full_order_mask(order: list[int], d: int, sink: int) -> np.ndarray:
    rank = {k: r for r, k in enumerate(order)}
    allowed = np.zeros((d, d), dtype=bool)
    for i in range(d):
        for j in range(d):
            if i != j and i != sink and (j == sink or rank[i] < rank[j]):
                allowed[i, j] = True
    return allowed


def test_full_order_identifies_the_effect_whatever_edges_the_graph_misses():
    data = _chain()
    # the learner missed a -> b and b -> y: b has no path to y in the graph
    A = np.zeros((4, 4))
    A[0, 3] = A[1, 2] = 1  # a -> y, b -> c
    allowed = _full_order_mask([0, 1, 2], 4, 3)
    tiers = [["a"], ["b"], ["c"]]
    scores = identified_scores(data, A, "y", allowed=allowed, tiers=tiers, resamples=_resamples(3000, A))
    by = {s.node: s for s in scores.scores}
    # b: the regression of y on b and its earlier tiers (a), the true 0.8, identified
    assert by["b"].ate == pytest.approx(_ols(data["y"].to_numpy(), data["b"], data["a"]), abs=1e-9)
    assert by["b"].identified and by["b"].ci_low <= 0.8 <= by["b"].ci_high and by["b"].ci_low > 0.6
    # a: its total effect 0.5 + 0.8 = 1.3 (no earlier tiers: the plain regression)
    assert by["a"].identified and by["a"].ci_low <= 1.3 <= by["a"].ci_high
    # c: regression on a and b, about 0; identified with an interval holding 0: no certain cause
    assert by["c"].ate == pytest.approx(_ols(data["y"].to_numpy(), data["c"], data["a"], data["b"]), abs=1e-9)
    assert by["c"].identified and by["c"].ci_low <= 0 <= by["c"].ci_high
    assert "c (" not in scores.summary.split("Candidates")[0]
    # the rule before (the graph's parents and earlier tiers, 0 where no possible path):
    # b's bounds then hold 0 and it is not identified
    old = identified_scores(data, A, "y", allowed=allowed, tiers=tiers, resamples=_resamples(3000, A),
                            adjust_order=False, zero_unless="possible", time_marks="fit")
    b_old = next(s for s in old.scores if s.node == "b")
    assert not b_old.identified and b_old.ate_bounds[0] <= 0


def test_order_interval_is_simultaneous_normal_over_the_resamples():
    data = _chain(seed=1)
    A = np.zeros((4, 4))
    A[0, 1] = A[1, 3] = A[0, 3] = A[1, 2] = 1
    allowed = _full_order_mask([0, 1, 2], 4, 3)
    resamples = _resamples(3000, A, B=30)
    scores = identified_scores(data, A, "y", allowed=allowed, tiers=[["a"], ["b"], ["c"]], resamples=resamples)
    b = next(s for s in scores.scores if s.node == "b")
    D = data.to_numpy()
    values = []
    for r in resamples:
        C = weighted_covariance(D, np.bincount(r.rows, minlength=len(D)))
        M = C[np.ix_([1, 0], [1, 0])]
        values.append(np.linalg.solve(M, C[[1, 0], 3])[0])
    z = NormalDist().inv_cdf(1 - 0.05 / (2 * 3))  # Bonferroni over the 3 nodes besides y
    half = z * max(np.std(values, ddof=1), _hc3(D[:, 3], D[:, 1], D[:, 0]))
    assert b.ci_low == pytest.approx(b.ate - half, rel=1e-6) and b.ci_high == pytest.approx(b.ate + half, rel=1e-6)
    assert b.ate_bounds == (b.ci_low, b.ci_high)


def _hc3(y: np.ndarray, *columns: np.ndarray) -> float:
    """HC3 standard error of the first column's coefficient: the sandwich
    (X'X)⁻¹ X' diag(r² / (1 − h)²) X (X'X)⁻¹ with an intercept."""
    X = np.column_stack([np.ones(len(y)), *columns])
    bread = np.linalg.inv(X.T @ X)
    r = y - X @ bread @ X.T @ y
    h = np.array([row @ bread @ row for row in X])
    meat = (X * (r / (1 - h))[:, None] ** 2).T @ X
    return float(np.sqrt((bread @ meat @ bread)[1, 1]))


def test_robust_se_is_hc3_and_floors_an_interval_the_resamples_make_too_narrow():
    from faultgraph.effects.identify import robust_se

    data = _chain(seed=2)
    D = data.to_numpy()
    assert robust_se(D, 1, 3, [0]) == pytest.approx(_hc3(D[:, 3], D[:, 1], D[:, 0]), rel=1e-8)
    assert robust_se(D, 1, 3, [0, 3]) == 0.0  # y adjusted for: the effect is 0
    # 20 resamples that all hold every row once: no spread at all, yet the estimate has its noise
    A = np.zeros((4, 4))
    A[0, 1] = A[1, 3] = A[0, 3] = A[1, 2] = 1
    same = [Resample(np.arange(len(D)), A, None, None) for _ in range(20)]
    scores = identified_scores(data, A, "y", allowed=_full_order_mask([0, 1, 2], 4, 3), tiers=[["a"], ["b"], ["c"]],
                               resamples=same)
    b = next(s for s in scores.scores if s.node == "b")
    z = NormalDist().inv_cdf(1 - 0.05 / (2 * 3))
    assert b.ci_high - b.ate == pytest.approx(z * _hc3(D[:, 3], D[:, 1], D[:, 0]), rel=1e-6)
    assert b.ci_low < 0.8 < b.ci_high


def test_order_adjustment_needs_every_possible_parent_in_earlier_tiers():
    allowed = _full_order_mask([0, 1, 2], 4, 3)
    assert order_adjustment([0], 1, 3, allowed, 3000)
    assert order_adjustment([], 0, 3, allowed, 3000)
    # b and c in one tier: c may be b's parent and is not earlier
    same = allowed.copy()
    same[2, 1] = True
    assert not order_adjustment([0], 1, 3, same, 3000)
    # too many regressors for the rows (more than a tenth): the graph decides
    assert not order_adjustment([0], 1, 3, allowed, 25)


def test_too_many_earlier_metrics_fall_back_to_the_graph_with_a_warning():
    data = _chain(n=30)
    A = np.zeros((4, 4))
    A[0, 1] = A[1, 3] = 1
    with pytest.warns(RuntimeWarning, match="earlier-tier metrics"):
        scores = identified_scores(data, A, "y", allowed=_full_order_mask([0, 1, 2], 4, 3),
                                   tiers=[["a"], ["b"], ["c"]])
    c = next(s for s in scores.scores if s.node == "c")
    # c: its learned parents (none), not a and b; no path in the graph, so 0 joins the bounds
    assert c.ate == pytest.approx(_ols(data["y"].to_numpy(), data["c"]), abs=1e-9)
    assert not c.identified and c.ate_bounds[0] <= 0 <= c.ate_bounds[1]


def test_a_collider_past_standing_in_for_its_parents_reverses_fitted_time_marks_not_tested_ones():
    # a -> c <- b at each step, a -> y; lags follow the same order (x_t = x_t W + x_{t-1} A + e).
    # c is a symptom of the cause a: no path to y.
    rng = np.random.default_rng(5)
    T, d = 4001, 4
    W = np.zeros((d, d))
    W[0, 2], W[1, 2], W[0, 3] = 1.0, 1.0, 0.8
    lag = 0.5 * W + 0.3 * np.eye(d)
    inv = np.linalg.inv(np.eye(d) - W)
    X = np.zeros((T, d))
    for t in range(1, T):
        X[t] = (X[t - 1] @ lag + rng.normal(size=d)) @ inv
    data = pd.DataFrame(X[1:], columns=list("abcy"))
    # what a sparse fit of the past did on a planted system (d = 12, seed 101): the collider's
    # past stands in for its parents' pasts, c(t-1) -> a(t) and c(t-1) -> b(t), so the
    # same-step links come out c -> a, c -> b and a chain c -> a -> y looks identified
    A = np.zeros((d, d))
    A[2, 0] = A[2, 1] = A[0, 3] = 1
    fitted = np.zeros((1, d, d))
    fitted[0, 2, 0] = fitted[0, 2, 1] = 0.2
    for k in range(d):
        fitted[0, k, k] = 0.3
    allowed = np.ones((d, d), dtype=bool)
    allowed[3, :] = False  # y is a sink
    resamples = _resamples(T - 2, A, fitted, block=16, time_order=fitted)
    old = identified_scores(data, A, "y", lagged=fitted, time_order=fitted, allowed=allowed, resamples=resamples,
                            time_marks="fit", adjust_order=False, zero_unless="possible")
    c_old = next(s for s in old.scores if s.node == "c")
    assert c_old.identified and c_old.ci_low > 0  # confident and wrong: c has no effect on y
    # the Wald tests of the whole past find a(t-1) -> c(t) and b(t-1) -> c(t), never back
    D = np.column_stack([X[1:], X[:-1]])
    tested = granger_order(weighted_covariance(D), d, 1, len(D))
    assert tested[0, 0, 2] and tested[0, 1, 2] and not tested[0, 2, 0] and not tested[0, 2, 1]
    o = orient_graph(A, list("abcy"), allowed=allowed, lagged=tested)
    assert o.directed[0, 2] and o.directed[1, 2] and not surely_reaches(o, 2, 3)
    new = identified_scores(data, A, "y", lagged=fitted, time_order=fitted, allowed=allowed, resamples=resamples)
    c_new = next(s for s in new.scores if s.node == "c")
    assert not (c_new.identified and (c_new.ci_low > 0 or c_new.ci_high < 0))
    assert c_new.ate_bounds[0] <= 0 <= c_new.ate_bounds[1]
    a_new = next(s for s in new.scores if s.node == "a")
    assert a_new.ci_low <= 0.8 <= a_new.ci_high and a_new.ci_low > 0  # the cause keeps its effect


def test_granger_order_needs_ten_rows_per_past_column():
    C = np.eye(6)
    assert granger_order(C, 3, 1, 29) is None
    assert granger_order(C, 3, 0, 1000) is None
    assert granger_order(C, 3, 1, 30).shape == (1, 3, 3)


def test_optimal_adjustment_by_hand_and_the_efficient_option():
    # z -> a -> b -> y, a -> y, w -> b: O(a, y) = {w} (a parent of the mediator b), z is left out
    names = ["z", "a", "w", "b", "y"]
    G = np.zeros((5, 5), dtype=bool)
    for i, j in [(0, 1), (1, 3), (3, 4), (1, 4), (2, 3)]:
        G[i, j] = True
    assert optimal_adjustment(G, 1, 4) == [2]
    assert optimal_adjustment(G, 0, 4) == [2]
    assert optimal_adjustment(G, 2, 4) == [1]  # a: a parent of y, a precision variable
    assert optimal_adjustment(G, 4, 1) is None
    rng = np.random.default_rng(8)
    n = 3000
    z, w = rng.normal(size=n), rng.normal(size=n)
    a = 2 * z + rng.normal(size=n)
    b = a + w + rng.normal(size=n)
    y = 0.5 * b + 0.3 * a + rng.normal(size=n)
    data = pd.DataFrame(np.column_stack([z, a, w, b, y]), columns=names)
    allowed = _full_order_mask([0, 1, 2, 3], 5, 4)
    tiers = [["z"], ["a"], ["w"], ["b"]]
    A = G.astype(float)
    eff = identified_scores(data, A, "y", allowed=allowed, tiers=tiers, estimator="adjustment")
    plain = identified_scores(data, A, "y", allowed=allowed, tiers=tiers, efficient=False)
    paths = identified_scores(data, A, "y", allowed=allowed, tiers=tiers)  # the default
    a_eff = next(s for s in eff.scores if s.node == "a")
    a_plain = next(s for s in plain.scores if s.node == "a")
    a_paths = next(s for s in paths.scores if s.node == "a")
    assert a_eff.ate == pytest.approx(_ols(y, a, w), abs=1e-9)  # the optimal set {w}
    assert a_plain.ate == pytest.approx(_ols(y, a, z), abs=1e-9)  # its earlier tier {z}
    # along the paths a -> b -> y and a -> y: b's coefficient on a (given w) times y's on b
    # (given a), plus y's on a
    assert a_paths.ate == pytest.approx(_ols(b, a, w) * _ols(y, b, a) + _ols(y, a, b), abs=1e-9)
    assert a_eff.identified and a_plain.identified and a_paths.identified
    with pytest.raises(InvalidInputError, match="estimator"):
        identified_scores(data, A, "y", allowed=allowed, tiers=tiers, estimator="ols")


def test_path_effect_is_the_total_effect_of_the_linear_sem():
    # x0 -> x1 -> x3, x0 -> x2 -> x3, x0 -> x3, x4 -> x1: on the population covariance the
    # effect along the paths is exactly (I - W)^-1
    W = np.zeros((5, 5))
    W[0, 1], W[1, 3], W[0, 2], W[2, 3], W[0, 3], W[4, 1] = 0.8, 1.5, -0.7, 0.5, 0.3, 2.0
    T = np.linalg.inv(np.eye(5) - W)
    C = T.T @ np.diag([1.0, 0.5, 2.0, 1.0, 3.0]) @ T
    G = W != 0
    for x in range(5):
        for y in range(5):
            value = path_effect(C, G, x, y)
            if x != y and abs(T[x, y]) > 0:
                assert value == pytest.approx(T[x, y], abs=1e-8)
            elif x != y:
                assert value is None
    # a past parent joins the regression (the present's confounder): u(t-1) -> x(t), u(t-1) -> y(t)
    rng = np.random.default_rng(3)
    u = rng.normal(size=4001)
    x = 1.5 * u[:-1] + rng.normal(size=4000)
    y = 0.4 * x + 2.0 * u[:-1] + rng.normal(size=4000)
    D = np.column_stack([x, y, u[1:], u[:-1]])  # columns x, y, u (present), u (past)
    G2 = np.zeros((3, 3), dtype=bool)
    G2[0, 1] = True
    C2 = weighted_covariance(D)
    assert path_effect(C2, G2, 0, 1, {1: [3], 0: [3]}) == pytest.approx(_ols(y, x, u[:-1]), abs=1e-9)
    assert abs(path_effect(C2, G2, 0, 1) - 0.4) > 0.3  # the past left out: confounded


def test_path_effect_has_a_smaller_variance_than_the_optimal_set():
    # x -> m -> y: O(x, y) is empty (the plain regression of y on x); the product of the two
    # regressions is the efficient estimator (Guo and Perkovic 2022)
    G = np.zeros((3, 3), dtype=bool)
    G[0, 1] = G[1, 2] = True
    assert optimal_adjustment(G, 0, 2) == []
    rng = np.random.default_rng(5)
    paths, plain = [], []
    for _ in range(300):
        x = rng.normal(size=200)
        m = 0.9 * x + rng.normal(size=200)
        y = 0.9 * m + rng.normal(size=200)
        C = weighted_covariance(np.column_stack([x, m, y]))
        paths.append(path_effect(C, G, 0, 2))
        plain.append(_ols(y, x))
    assert abs(np.mean(paths) - 0.81) < 0.01 and abs(np.mean(plain) - 0.81) < 0.01
    # asymptotically (0.81 * 1 + 0.81 / 1.81) / 1.81 = 0.69 of the plain regression's variance
    assert np.var(paths) < 0.85 * np.var(plain)


def test_optimal_adjustment_adds_the_past_parents_of_the_causal_nodes():
    # a -> b -> y and a -> y at one step; past parents: a's {4}, b's {5}, y's {6}
    G = np.zeros((3, 3), dtype=bool)
    G[0, 1] = G[1, 2] = G[0, 2] = True
    past = {0: [4], 1: [5], 2: [6]}
    # O(a, y): causal nodes b and y, whose same-step parents are a and b (forbidden), and their pasts
    assert optimal_adjustment(G, 0, 2, past) == [5, 6]
    # O(b, y): causal node y: its other parent a and its past; b's own past is not needed
    assert optimal_adjustment(G, 1, 2, past) == [0, 6]
    assert optimal_adjustment(G, 1, 2) == [0]
    assert optimal_adjustment(G, 2, 0, past) is None


def test_select_parents_finds_parents_among_nearly_collinear_candidates():
    # x = a + b + e; ca = a + 0.05 e' (a's child, nearly a copy); n: noise. Given a and b,
    # x is independent of ca and n: forward steps keep {a, b}; one regression on all four
    # spreads a's weight over a and ca
    rng = np.random.default_rng(3)
    n = 2000
    a, b, noise = rng.normal(size=(3, n))
    ca = a + 0.05 * rng.normal(size=n)
    x = a + b + rng.normal(size=n)
    D = np.column_stack([a, b, ca, noise, x])
    C = weighted_covariance(D)
    assert sorted(select_parents(C, 4, [0, 1, 2, 3], n)) == [0, 1]
    assert select_parents(C, 4, [3], n) == []  # noise alone: nothing
    assert select_parents(C, 4, [], n) == []
    assert 4 not in select_parents(C, 4, [4, 0], n)  # never itself


def test_ordered_graph_recovers_a_planted_dag_from_its_order_and_refuses_a_cycle():
    from faultgraph.simulate.graphs import simulate_dag, simulate_linear_sem, simulate_weights

    rng = np.random.default_rng(4)
    d = 8
    B = simulate_dag(d, 1.5, random_state=rng)
    W = simulate_weights(B, random_state=rng)
    X = simulate_linear_sem(W, 5000, random_state=rng)
    X = (X - X.mean(axis=0)) / X.std(axis=0)  # standardised: the order, not the scales, decides
    from faultgraph._graph import topological_order

    rank = {k: r for r, k in enumerate(topological_order(B))}
    cand = {j: [k for k in range(d) if rank[k] < rank[j]] for j in range(d)}
    G, past = ordered_graph(weighted_covariance(X), cand, d, 5000)
    np.testing.assert_array_equal(G, B != 0)
    assert all(v == [] for v in past.values())
    # two strongly related metrics, each allowed before the other: a cycle, no graph
    both = {0: [1], 1: [0]}
    x0 = rng.normal(size=500)
    pair = np.column_stack([x0, x0 + 0.3 * rng.normal(size=500)])
    assert ordered_graph(weighted_covariance(pair), both, 2, 500) is None


def _lagged_chain(T: int = 4000, seed: int = 6) -> pd.DataFrame:
    # x_t = x_t W + x_{t-1}(W/2 + 0.3 I) + e with a -> b (1.0), b -> y (0.8), a -> y (0.5), b -> c (0.9)
    rng = np.random.default_rng(seed)
    W = np.zeros((4, 4))
    W[0, 1], W[1, 3], W[0, 3], W[1, 2] = 1.0, 0.8, 0.5, 0.9
    inv = np.linalg.inv(np.eye(4) - W)
    A = 0.5 * W + 0.3 * np.eye(4)
    X = np.zeros((T, 4))
    E = rng.normal(size=(T, 4))
    for t in range(1, T):
        X[t] = (X[t - 1] @ A + E[t]) @ inv
    return pd.DataFrame(X[100:], columns=["a", "b", "c", "y"])


def test_time_order_identifies_effects_the_learned_graph_misses():
    data = _lagged_chain()
    A = np.zeros((4, 4))  # the learner found no same-step edge at all
    lagged = np.zeros((1, 4, 4))
    resamples = _resamples(len(data) - 1, A, lagged, B=30, block=20)
    scores = identified_scores(data, A, "y", lagged=lagged, resamples=resamples)
    by = {s.node: s for s in scores.scores}
    for node, total in (("a", 1.3), ("b", 0.8)):  # a: 0.5 + 1.0 x 0.8
        assert by[node].identified and by[node].ci_low <= total <= by[node].ci_high
        assert by[node].ci_low > 0.5 * total
    # c: a symptom of b, no path to y in the order's graph: not identified by time, and no certain cause
    assert not (by["c"].identified and (by["c"].ci_low > 0 or by["c"].ci_high < 0))
    assert [s.node for s in scores.scores[:2]] == ["a", "b"]  # certain causes by |ate|
    # the rule before: nothing is identified where the graph has no edge
    old = identified_scores(data, A, "y", lagged=lagged, resamples=resamples, efficient=False)
    assert not any(s.identified and s.node in ("a", "b") for s in old.scores)


def test_select_parents_skips_a_copy_of_a_chosen_column():
    rng = np.random.default_rng(9)
    a = rng.normal(size=1000)
    x = a + rng.normal(size=1000)
    D = np.column_stack([a, 2 * a, x])  # the second column adds nothing once the first is in
    chosen = select_parents(weighted_covariance(D), 2, [0, 1], 1000)
    assert len(chosen) == 1 and chosen[0] in (0, 1)


def test_select_parents_drops_an_early_pick_that_later_ones_make_redundant():
    # s = a + b + noise is the single best predictor of x = a + b + e and is picked first;
    # once a and b are in, s adds nothing and the backward step drops it
    rng = np.random.default_rng(12)
    n = 4000
    a, b, u, e = rng.normal(size=(4, n))
    s = a + b + 0.3 * u
    x = a + b + e
    C = weighted_covariance(np.column_stack([s, a, b, x]))
    assert select_parents(C, 3, [0], n) == [0]  # alone, s is a strong predictor
    assert sorted(select_parents(C, 3, [0, 1, 2], n)) == [1, 2]


def test_select_parents_never_adds_a_column_without_variance_left():
    # c is a copy of a up to 1e-14 of variance; its partial correlation with x given a is
    # rounding (0.12 here), which at 1,000 rows would pass the test without the guard
    C = np.array([[1.0, 1.0, 0.5], [1.0, 1.0 + 1e-14, 0.5 + 1e-8], [0.5, 0.5 + 1e-8, 1.0]])
    assert select_parents(C, 2, [0, 1], 1000) in ([0], [1])
    # x an exact total of the chosen: nothing more is added on rounding noise
    D = np.random.default_rng(13).normal(size=(500, 3))
    total = np.column_stack([D, D[:, 0] + D[:, 1]])
    assert sorted(select_parents(weighted_covariance(total), 3, [0, 1, 2], 500)) == [0, 1]


def test_certain_causes_rank_by_effect_not_by_the_interval_end_nearest_zero():
    # p: effect 1.0 but little variance (a wide interval); q: effect 0.8, a narrow one
    rng = np.random.default_rng(14)
    n = 3000
    p = 0.08 * rng.normal(size=n)
    q = rng.normal(size=n)
    y = 1.0 * p + 0.8 * q + rng.normal(size=n)
    data = pd.DataFrame({"p": p, "q": q, "y": y})
    A = np.zeros((3, 3))
    A[0, 2] = A[1, 2] = 1
    scores = identified_scores(data, A, "y", allowed=_full_order_mask([0, 1], 3, 2), tiers=[["p"], ["q"]],
                               resamples=_resamples(n, A, B=40))
    by = {s.node: s for s in scores.scores}
    assert by["p"].ci_low > 0 and by["q"].ci_low > 0 and by["p"].identified and by["q"].identified
    assert min(by["p"].ci_low, by["p"].ci_high) < min(by["q"].ci_low, by["q"].ci_high)  # p's end is nearer 0
    assert [s.node for s in scores.scores] == ["p", "q"]  # ranked by |ate|


def test_without_resamples_no_cause_is_called_certain():
    data = _chain()
    A = np.zeros((4, 4))
    A[0, 1] = A[1, 3] = A[0, 3] = A[1, 2] = 1
    scores = identified_scores(data, A, "y", allowed=_full_order_mask([0, 1, 2], 4, 3), tiers=[["a"], ["b"], ["c"]])
    b = next(s for s in scores.scores if s.node == "b")
    assert b.identified and b.ci_low == b.ci_high == b.ate
    assert "Certain causes of y (direction identified, interval excludes 0): none" in scores.summary
    assert "No interval was computed" in scores.summary


def test_partial_tiers_with_lags_keep_the_earlier_tiers_not_the_time_graph():
    # a, a confounder without memory, drives c and m; c -> m -> y: c's total effect is 1.0.
    # a's past predicts nothing, so the time order cannot place it before c; the tiers can.
    names = ["a", "e", "c", "m", "y"]
    d = 5
    W = np.zeros((d, d))
    W[0, 2] = W[0, 3] = W[2, 3] = W[3, 4] = 1.0
    lag_w = 0.5 * W + 0.5 * np.eye(d)
    lag_w[0, :] = 0
    rng = np.random.default_rng(3)
    T = 4000
    X = np.zeros((T, d))
    inv = np.linalg.inv(np.eye(d) - W)
    E = rng.normal(size=(T, d))
    for t in range(1, T):
        X[t] = (X[t - 1] @ lag_w + E[t]) @ inv
    data = pd.DataFrame(X[100:], columns=names)
    rank = {"a": 0, "e": 0, "c": 1, "m": 2, "y": 3}
    allowed = np.array([[i != j and rank[names[i]] <= rank[names[j]] for j in range(d)] for i in range(d)])
    lagged = np.zeros((1, d, d))
    resamples = _resamples(len(data) - 1, W, lagged, B=30, block=20)
    scores = identified_scores(data, W, "y", lagged=lagged, tiers=[["a", "e"], ["c"], ["m"]], allowed=allowed,
                               resamples=resamples)
    c = next(s for s in scores.scores if s.node == "c")
    assert c.identified and c.ci_low <= 1.0 <= c.ci_high


def test_a_pair_whose_pasts_predict_each_other_is_not_identified_by_time():
    # as _lagged_chain, but b's past also drives a (feedback across steps): a and b are no
    # longer ordered in time, so neither is identified by time
    rng = np.random.default_rng(6)
    W = np.zeros((4, 4))
    W[0, 1], W[1, 3], W[0, 3], W[1, 2] = 1.0, 0.8, 0.5, 0.9
    inv = np.linalg.inv(np.eye(4) - W)
    lag_w = 0.5 * W + 0.3 * np.eye(4)
    lag_w[1, 0] = 0.2  # stable: spectral radius 0.81
    T = 4000
    X = np.zeros((T, 4))
    E = rng.normal(size=(T, 4))
    for t in range(1, T):
        X[t] = (X[t - 1] @ lag_w + E[t]) @ inv
    data = pd.DataFrame(X[100:], columns=["a", "b", "c", "y"])
    A = np.zeros((4, 4))
    lagged = np.zeros((1, 4, 4))
    scores = identified_scores(data, A, "y", lagged=lagged, resamples=_resamples(len(data) - 1, A, lagged, B=20,
                                                                                 block=20))
    by = {s.node: s for s in scores.scores}
    assert not by["a"].identified and not by["b"].identified
    # the same system without the feedback: both identified (test_time_order_identifies_...)


def test_a_timed_interval_is_the_simultaneous_interval_of_each_resamples_optimal_set():
    from faultgraph.effects.identify import RESAMPLE_Z, Z_01, adjustment_effect
    from faultgraph.discovery import lagged_design

    data = _lagged_chain()
    A = np.zeros((4, 4))
    lagged = np.zeros((1, 4, 4))
    resamples = _resamples(len(data) - 1, A, lagged, B=25, block=20)
    scores = identified_scores(data, A, "y", lagged=lagged, resamples=resamples)
    a = next(s for s in scores.scores if s.node == "a")
    D = lagged_design(data.to_numpy(), 1)
    values = []
    for r in resamples:  # the resample's time order, its graph at sqrt(2) times the threshold, its optimal set
        C = weighted_covariance(D, np.bincount(r.rows, minlength=len(D)))
        tested = granger_order(C, 4, 1, len(D))
        anc = tested.any(axis=0)
        np.fill_diagonal(anc, False)
        one_way = anc & ~anc.T
        cand = {x: [int(k) for k in np.flatnonzero(one_way[:, x]) if k != 3] + [4, 5, 6, 7] for x in range(3)}
        cand[3] = [0, 1, 2, 4, 5, 6, 7]
        graph = ordered_graph(C, cand, 4, len(D), RESAMPLE_Z * Z_01)
        assert graph is not None  # (a cycle would use the full data's graph)
        O = optimal_adjustment(graph[0], 0, 3, graph[1])
        values.append(0.0 if O is None else adjustment_effect(C, 0, 3, O))
    z = NormalDist().inv_cdf(1 - 0.05 / (2 * 3))
    half = z * np.std(values, ddof=1)
    assert a.ci_low == pytest.approx(a.ate - half, rel=1e-6) and a.ci_high == pytest.approx(a.ate + half, rel=1e-6)


def _record_candidates(monkeypatch) -> list[dict[int, list[int]]]:
    """The candidate parents of every ``ordered_graph`` call, as they are made."""
    import faultgraph.effects.identify as identify

    seen: list[dict[int, list[int]]] = []
    original = identify.ordered_graph

    def spy(C, candidates, d, n_samples, z=identify.Z_01):
        seen.append({k: list(v) for k, v in candidates.items()})
        return original(C, candidates, d, n_samples, z)

    monkeypatch.setattr(identify, "ordered_graph", spy)
    return seen


def test_the_targets_past_is_no_candidate_cause_of_a_metric(monkeypatch):
    seen = _record_candidates(monkeypatch)
    data = _lagged_chain()  # columns a, b, c, y; lag 1: y's past is column 4 + 3 = 7
    lagged = np.zeros((1, 4, 4))
    identified_scores(data, np.zeros((4, 4)), "y", lagged=lagged, resamples=_resamples(len(data) - 1, np.zeros((4, 4)),
                                                                                      lagged, B=3, block=20))
    assert seen
    for candidates in seen:
        assert all(7 not in candidates[x] for x in range(3))  # a sink at every step
        assert 7 in candidates[3] and {4, 5, 6} <= set(candidates[3])  # its own past may explain it


def test_the_targets_past_is_dropped_at_every_lag_wherever_its_column_is(monkeypatch):
    seen = _record_candidates(monkeypatch)
    data = _lagged_chain()[["a", "y", "b", "c"]]  # the target in column 1; lags 2: its pasts are 5 and 9
    lagged = np.zeros((2, 4, 4))
    identified_scores(data, np.zeros((4, 4)), "y", lagged=lagged)
    assert seen
    for candidates in seen:
        for x in (0, 2, 3):
            assert {5, 9}.isdisjoint(candidates[x]) and {4, 6, 7, 8, 10, 11} <= set(candidates[x])
        assert set(candidates[1]) == {0, 2, 3, *range(4, 12)}


def _service_chain(n: int = 3000, seed: int = 0) -> tuple[pd.DataFrame, float]:
    """web -> api -> db, each with memory and lagged links along the chain, and a 0/1 fault
    caused by db; the same-step total effect of web on api is 0.8 (raw units)."""
    rng = np.random.default_rng(seed)
    X = np.zeros((n + 200, 3))
    for t in range(1, len(X)):
        e = rng.normal(size=3)
        web = 0.5 * X[t - 1, 0] + e[0]
        api = 0.8 * web + 0.3 * X[t - 1, 1] + 0.4 * X[t - 1, 0] + e[1]
        X[t] = [web, api, 0.9 * api + 0.3 * X[t - 1, 2] + 0.4 * X[t - 1, 1] + e[2]]
    frame = pd.DataFrame(X[200:], columns=["web", "api", "db"])
    eta = frame["db"] / frame["db"].std() - 2
    frame["fault"] = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    return frame, 0.8


@pytest.mark.parametrize("tiers", [False, True])
def test_a_metric_target_is_ordered_like_any_metric_so_its_effects_get_no_effect_on_it(tiers):
    # effects on api, a metric: db (its effect) used to be a certain cause (0.82, CI [0.79, 0.85])
    # because the target was taken for a sink, after every metric
    from faultgraph.detect import FaultIdentifier
    from faultgraph.discovery import PriorKnowledge
    from faultgraph.workflows import effects_report

    frame, effect = _service_chain()
    prior = PriorKnowledge(tiers=(("web",), ("api",), ("db",))) if tiers else None
    model = FaultIdentifier(lags=1, bootstrap=20, n_workers=0, random_state=0, prior=prior).fit(frame)
    by = {s.node: s for s in effects_report(model, target="api")[0].scores}
    truth = effect * float(model.encoder_.scale_["web"]) / float(model.encoder_.scale_["api"])
    assert by["web"].identified and 0 < by["web"].ci_low <= truth <= by["web"].ci_high
    assert by["db"].ate == 0 and by["db"].ate_bounds == (0.0, 0.0)
    assert by["db"].identified == tiers  # by the prior: db is in a later tier; by time: no path in any graph
    assert by["fault"].identified and by["fault"].ate == 0 and by["fault"].ate_bounds == (0.0, 0.0)  # a sink


def test_the_priors_masks_decide_the_candidates_at_every_step(monkeypatch):
    seen = _record_candidates(monkeypatch)
    data = _lagged_chain()  # columns a, b, c, y; lag 1: pasts are columns 4-7
    allowed = ~np.eye(4, dtype=bool)
    allowed[0, 1] = False  # a -> b forbidden, same-step
    lag_allowed = np.ones((4, 4), dtype=bool)
    lag_allowed[2, 0] = False  # c(t-1) -> a(t) forbidden
    identified_scores(data, np.zeros((4, 4)), "y", lagged=np.zeros((1, 4, 4)), allowed=allowed,
                      lagged_allowed=lag_allowed)
    assert seen
    for candidates in seen:
        assert 0 not in candidates[1] and 6 not in candidates[0]
        assert 7 in candidates[0]  # y is no sink here: its past may drive a metric
    with pytest.raises(InvalidInputError, match=r"lagged_allowed must be \(4, 4\)"):
        identified_scores(data, np.zeros((4, 4)), "y", lagged=np.zeros((1, 4, 4)), lagged_allowed=np.ones((3, 3)))
    with pytest.raises(InvalidInputError, match=r"allowed must be \(4, 4\)"):
        identified_scores(data, np.zeros((4, 4)), "y", allowed=np.ones((2, 2)))


def test_one_graphs_v_structures_orient_only_with_an_ensemble():
    # a -> c <- b, c -> y: the v-structure at c (and Meek's rule) orient every edge, so a's
    # effect on y (1.0 x 0.8) is identified from the one graph. Without an ensemble nothing
    # shows that the v-structure holds: a is then a candidate, its bounds holding 0
    rng = np.random.default_rng(3)
    n = 3000
    a, b = rng.normal(size=n), rng.normal(size=n)
    c = a + b + rng.normal(size=n)
    data = pd.DataFrame({"a": a, "b": b, "c": c, "y": 0.8 * c + rng.normal(size=n)})
    A = np.zeros((4, 4))
    A[0, 2] = A[1, 2] = A[2, 3] = 1
    resamples = _resamples(n, A, B=20)
    one = {s.node: s for s in identified_scores(data, A, "y", resamples=resamples).scores}
    assert not one["a"].identified and one["a"].ate_bounds[0] <= 0 <= one["a"].ate_bounds[1]
    marks = identified_scores(data, A, "y").details["identification"]["edges"]
    assert not any(m["oriented"] for m in marks)
    ens = {s.node: s for s in identified_scores(data, A, "y", resamples=resamples, ensemble=True).scores}
    assert ens["a"].identified and ens["a"].ci_low <= 0.8 <= ens["a"].ci_high and ens["a"].ci_low > 0


def test_robust_se_with_repeats_x_in_its_set_and_a_lagged_design():
    from faultgraph.discovery import lagged_design
    from faultgraph.effects.identify import robust_se

    D = lagged_design(_lagged_chain().to_numpy(), 2)  # a, b, c, y, then two lags of each
    expected = _hc3(D[:, 3], D[:, 1], D[:, 0], D[:, 5], D[:, 9])
    assert robust_se(D, 1, 3, [0, 5, 0, 1, 9]) == pytest.approx(expected, rel=1e-8)  # repeats and x dropped


def test_a_learned_path_that_the_orders_graph_lacks_is_no_identified_effect():
    # the learned graph holds a spurious c -> y (c, a symptom of b, oriented into the sink y by
    # the prior): its one admissible set made c identified, whatever the data say; the graph
    # that the tested time order allows has no path from c, so c is a candidate, 0 in its bounds
    data = _lagged_chain()
    A = np.zeros((4, 4))
    A[0, 1] = A[1, 3] = A[0, 3] = A[1, 2] = A[2, 3] = 1
    lagged = np.zeros((1, 4, 4))
    sink = ~np.eye(4, dtype=bool)
    sink[3, :] = False
    resamples = _resamples(len(data) - 1, A, lagged, B=20, block=20)
    scores = {s.node: s for s in identified_scores(data, A, "y", lagged=lagged, allowed=sink,
                                                   resamples=resamples).scores}
    assert not scores["c"].identified and scores["c"].ate_bounds[0] <= 0 <= scores["c"].ate_bounds[1]
    assert scores["b"].identified and scores["b"].ci_low > 0  # b's path is in both graphs
    before = {s.node: s for s in identified_scores(data, A, "y", lagged=lagged, allowed=sink, resamples=resamples,
                                                   efficient=False).scores}
    assert before["c"].identified  # without the order's graph, the learned path stood


def test_a_tier_keeps_its_direction_where_time_says_nothing():
    # x has no memory, so its past predicts nothing and the time order's graph has no path from
    # x; its tier orients x -> m, so its learned path stands: identified (true effect 0.48)
    rng = np.random.default_rng(0)
    X = np.zeros((3050, 4))  # x, m, w, y
    for t in range(1, len(X)):
        e = rng.normal(size=4)
        m = 0.8 * e[0] + 0.5 * X[t - 1, 1] + e[1]
        X[t] = [e[0], m, 0.7 * m + 0.5 * X[t - 1, 2] + e[2], 0.6 * m + 0.4 * X[t - 1, 3] + e[3]]
    data = pd.DataFrame(X[50:], columns=["x", "m", "w", "y"])
    A = np.zeros((4, 4))
    A[0, 1] = A[1, 2] = A[1, 3] = 1
    lagged = np.zeros((1, 4, 4))
    from faultgraph.discovery import PriorKnowledge

    prior = PriorKnowledge(tiers=(("x",), ("m",)), sinks=("y",))
    allowed, _ = prior.masks(list(data.columns))
    scores = {s.node: s for s in identified_scores(
        data, A, "y", lagged=lagged, allowed=allowed, lagged_allowed=prior.lagged_mask(list(data.columns)),
        tiers=prior.tiers, resamples=_resamples(len(data) - 1, A, lagged, B=20, block=20)).scores}
    assert scores["x"].identified and scores["x"].ci_low <= 0.48 <= scores["x"].ci_high


def test_a_self_loop_in_the_mask_does_not_unmake_a_sink(monkeypatch):
    seen = _record_candidates(monkeypatch)
    data = _lagged_chain()  # a, b, c, y; c is no ancestor of y in time
    allowed = np.ones((4, 4), dtype=bool)
    allowed[3, :3] = False  # y causes nothing; its diagonal left True, as np.ones leaves it
    identified_scores(data, np.zeros((4, 4)), "y", lagged=np.zeros((1, 4, 4)), allowed=allowed)
    assert seen and all({0, 1, 2} <= set(candidates[3]) for candidates in seen)  # a sink comes after every node
