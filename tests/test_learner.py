"""StructureLearner and the two optimisers: recovery, priors, DAG guarantee, contract."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from faultgraph import ConvergenceWarning, InvalidInputError, NotFittedError, StructureLearner
from faultgraph._graph import is_dag
from faultgraph.discovery import PriorKnowledge, break_cycles, dagma_linear, notears_linear, second_moments
from faultgraph.evaluate import graph_accuracy


@pytest.mark.parametrize("method", ["dagma", "notears"])
def test_recovers_planted_er2_graph(er10, method):
    learner = StructureLearner(method, standardize=False).fit(er10.data)
    acc = graph_accuracy(er10.W, learner.adjacency_)
    assert acc.shd <= 2, acc
    assert learner.n_iter_ > 0
    assert learner.h_final_ < 1e-4
    assert is_dag(learner.adjacency_)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_dagma_recovers_other_seeds(seed):
    from faultgraph.simulate import simulate_graph_data

    sim = simulate_graph_data(kind="er", nodes=10, degree=2, samples=1000, random_state=seed)
    learner = StructureLearner("dagma", standardize=False).fit(sim.data)
    assert graph_accuracy(sim.W, learner.adjacency_).shd <= 2


def test_weights_are_estimated(er10):
    learner = StructureLearner("dagma", standardize=False).fit(er10.data)
    true = er10.W != 0
    est = learner.adjacency_[true]
    assert (np.sign(est) == np.sign(er10.W[true])).all()
    # the L1 penalty shrinks weights a little; the fit stays close on average
    assert np.mean(np.abs(est - er10.W[true])) < 0.1


def test_fit_leaves_callers_data_unchanged(er10):
    X = er10.data.to_numpy().copy()
    before = X.copy()
    frame = er10.data.copy()
    StructureLearner(standardize=False).fit(X)
    StructureLearner(standardize=True).fit(frame)
    np.testing.assert_array_equal(X, before)
    pd.testing.assert_frame_equal(frame, er10.data)


def test_names_come_from_dataframe_columns(er10):
    learner = StructureLearner(standardize=False).fit(er10.data)
    assert list(learner.feature_names_in_) == er10.nodes
    for s, t, w in learner.edges_:
        assert er10.W[er10.nodes.index(s), er10.nodes.index(t)] != 0 or abs(w) > 0


def test_not_fitted_raises():
    with pytest.raises(NotFittedError, match="not fitted"):
        _ = StructureLearner().edges_


def test_output_is_a_dag_even_when_the_optimiser_stops_early(er10):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        learner = StructureLearner("dagma", standardize=False, max_iter=3, threshold=0.0).fit(er10.data)
    assert is_dag(learner.adjacency_)
    conv = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert conv and "h(W) =" in str(conv[0].message) and "loss" in str(conv[0].message)
    assert not learner.converged_


def test_break_cycles_drops_the_weakest_edge():
    W = np.zeros((3, 3))
    W[0, 1], W[1, 2], W[2, 0] = 1.0, 0.8, -0.4
    dag, dropped = break_cycles(W)
    assert dropped == [(2, 0, -0.4)]
    assert is_dag(dag) and W[2, 0] == -0.4  # input untouched


def test_break_cycles_keeps_required_edges():
    W = np.zeros((3, 3))
    W[0, 1], W[1, 2], W[2, 0] = 1.0, 0.8, -0.4
    keep = np.zeros((3, 3), dtype=bool)
    keep[2, 0] = True
    dag, dropped = break_cycles(W, keep=keep)
    assert dropped == [(1, 2, 0.8)] and dag[2, 0] == -0.4


# --- priors ---------------------------------------------------------------------------

def _index(er10):
    return {n: i for i, n in enumerate(er10.nodes)}


def test_forbidden_edge_never_appears(er10):
    i, j = np.argwhere(er10.W != 0)[0]
    a, b = er10.nodes[i], er10.nodes[j]
    for method in ("dagma", "notears"):
        learner = StructureLearner(method, standardize=False, prior=PriorKnowledge(forbidden=((a, b),))).fit(er10.data)
        assert learner.adjacency_[i, j] == 0


def test_required_edge_always_appears(er10):
    # a pair with no edge either way in the truth: the data alone would never choose it
    empty = [(i, j) for i in range(10) for j in range(10) if i != j and er10.W[i, j] == 0 and er10.W[j, i] == 0]
    i, j = empty[0]
    prior = PriorKnowledge(required=((er10.nodes[i], er10.nodes[j]),))
    for method in ("dagma", "notears"):
        learner = StructureLearner(method, standardize=False, prior=prior).fit(er10.data)
        assert learner.adjacency_[i, j] != 0
        assert is_dag(learner.adjacency_)


def test_sink_has_no_out_edges_and_source_no_in_edges(er10):
    out_deg = (er10.W != 0).sum(axis=1)
    in_deg = (er10.W != 0).sum(axis=0)
    sink = er10.nodes[int(np.argmax(out_deg))]       # a node that truly has out-edges
    source = er10.nodes[int(np.argmax(in_deg))]      # a node that truly has in-edges
    prior = PriorKnowledge(sinks=(sink,), sources=(source,))
    learner = StructureLearner(standardize=False, prior=prior).fit(er10.data)
    idx = _index(er10)
    assert not learner.adjacency_[idx[sink], :].any()
    assert not learner.adjacency_[:, idx[source]].any()


def test_tiers_are_respected(er10):
    tiers = (tuple(er10.nodes[5:]), tuple(er10.nodes[:5]))
    learner = StructureLearner(standardize=False, prior=PriorKnowledge(tiers=tiers)).fit(er10.data)
    # no edge from the later tier (nodes 0-4) to the earlier one (nodes 5-9)
    assert not learner.adjacency_[:5, 5:].any()


def test_prior_from_yaml(tmp_path, er10):
    a, b, c = er10.nodes[:3]
    path = tmp_path / "prior.yaml"
    path.write_text(f"forbidden:\n  - [{a}, {b}]\n  - '{b} -> {c}'\nsinks: [{c}]\ntiers:\n  - [{a}]\n  - [{b}, {c}]\n")
    prior = PriorKnowledge.from_yaml(path)
    assert prior.forbidden == ((a, b), (b, c)) and prior.sinks == (c,)
    learner = StructureLearner(standardize=False, prior=str(path)).fit(er10.data)
    idx = _index(er10)
    assert learner.adjacency_[idx[a], idx[b]] == 0 and not learner.adjacency_[idx[c]].any()


@pytest.mark.parametrize(
    "prior, match",
    [
        (PriorKnowledge(forbidden=(("nope", "x01"),)), "unknown metric 'nope'"),
        (PriorKnowledge(required=(("x01", "x02"),), forbidden=(("x01", "x02"),)), "rule out"),
        (PriorKnowledge(required=(("x01", "x02"), ("x02", "x01"))), "rule out|cycle"),
        (PriorKnowledge(required=(("x01", "x02"), ("x02", "x03"), ("x03", "x01"))), "requires a cycle"),
    ],
)
def test_bad_priors_are_rejected(er10, prior, match):
    with pytest.raises(InvalidInputError, match=match):
        StructureLearner(prior=prior).fit(er10.data.rename(columns=lambda c: f"x{int(c[1:]):02d}"))


def test_bad_prior_files_are_rejected(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("forbiden: [[a, b]]\n")
    with pytest.raises(InvalidInputError, match="unknown keys"):
        PriorKnowledge.from_yaml(bad)
    bad.write_text("forbidden: [[a, b, c]]\n")
    with pytest.raises(InvalidInputError, match="an edge must be"):
        PriorKnowledge.from_yaml(bad)
    with pytest.raises(InvalidInputError, match="cannot be read"):
        PriorKnowledge.from_yaml(tmp_path / "missing.yaml")


# --- bad input ------------------------------------------------------------------------

@pytest.mark.parametrize(
    "X, match",
    [
        (np.array([[1.0, np.nan], [2.0, 3.0], [0.0, 1.0]]), "NaN values in columns 'x1'"),
        (np.array([[1.0, np.inf], [2.0, 3.0], [0.0, 1.0]]), "infinite values"),
        (np.array([[1.0, 5.0], [2.0, 5.0], [0.0, 5.0]]), "constant columns 'x1'"),
        (np.ones((5, 1)), "at least 2 columns"),
        (np.ones((2, 3)), "data needs at least 3 rows, got 2"),
        (np.array([[1.0, 2.0], [3e200, 1.0], [0.0, 5.0]]), r"values beyond ±1e\+100 in columns 'x0'"),
        (np.ones(5), "must be 2-D"),
        (pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": ["x", "y", "z"]}), "non-numeric columns: 'b'"),
    ],
)
def test_bad_data_is_rejected(X, match):
    with pytest.raises(InvalidInputError, match=match):
        StructureLearner().fit(X)


def test_fewer_rows_than_candidate_parents_is_said_and_unfitted_reads_are_not_fitted_errors(er10):
    from faultgraph._budget import limits
    from faultgraph.errors import NotFittedError

    # refused by default (faultgraph._budget), fitted with a warning when forced
    with pytest.raises(InvalidInputError, match=r"has 8 rows for 10 candidate parents per metric .*at least 11 rows"):
        StructureLearner().fit(er10.data.iloc[:8])
    with limits(force=True):
        with pytest.warns(UserWarning, match=r"only 8 rows for 10 candidate parents per metric .*poorly determined"):
            StructureLearner().fit(er10.data.iloc[:8])
        with pytest.warns(UserWarning, match=r"only 18 rows for 20 candidate parents per metric \(10 metrics x 2 lags\)"):
            StructureLearner(lags=1).fit(er10.data.iloc[:19])
    for attribute in ("graph_", "adjacency_", "edges_", "n_iter_"):
        with pytest.raises(NotFittedError, match=r"StructureLearner is not fitted yet.*call fit(\(X\))? first"):
            getattr(StructureLearner(), attribute)
    assert not hasattr(StructureLearner(), "graph_") and getattr(StructureLearner(), "graph_", None) is None
    from faultgraph.sem import SEM

    with pytest.raises(NotFittedError, match=r"this SEM is not fitted yet; call fit\(data, graph\) first"):
        SEM().is_linear  # a property's own NotFittedError, not a bare AttributeError from the mixin
    with pytest.raises(AttributeError, match="has no attribute 'nope'") as caught:
        StructureLearner().nope
    assert not isinstance(caught.value, NotFittedError)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"lambda1": -0.1}, r"lambda1 must be >= 0, got -0.1"),
        ({"method": "pc"}, r"method must be one of 'dagma', 'notears'; got 'pc'"),
        ({"threshold": -1}, r"threshold must be >= 0"),
        ({"max_iter": 0}, r"max_iter must be a positive integer"),
    ],
)
def test_bad_parameters_are_rejected(er10, params, match):
    with pytest.raises(InvalidInputError, match=match):
        StructureLearner(**params).fit(er10.data)


def test_optimisers_reject_bad_moment_matrix():
    with pytest.raises(InvalidInputError, match="square"):
        dagma_linear(np.ones((3, 4)))
    with pytest.raises(InvalidInputError, match="lambda1"):
        notears_linear(np.eye(3), lambda1=-1)


def test_second_moments_standardised_is_the_correlation(er10):
    X = er10.data.to_numpy()
    np.testing.assert_allclose(second_moments(X, standardize=True), np.corrcoef(X.T), atol=1e-12)


# --- lags -----------------------------------------------------------------------------

def test_lagged_learning_recovers_both_graphs():
    from faultgraph.simulate import simulate_dag, simulate_lagged_sem, simulate_weights

    rng = np.random.default_rng(0)
    d = 8
    W = simulate_weights(simulate_dag(d, 1.5, "er", rng), random_state=rng) * 0.8
    A = np.zeros((1, d, d))
    A[0][np.arange(d), np.arange(d)] = 0.5          # each metric remembers its past
    A[0, 0, 5], A[0, 3, 1] = 0.9, -0.8               # two cross-lagged effects
    X = simulate_lagged_sem(W, A, 3000, random_state=rng)
    before = X.copy()
    learner = StructureLearner(standardize=False, lags=1).fit(X)
    np.testing.assert_array_equal(X, before)
    assert graph_accuracy(W, learner.adjacency_).shd <= 2
    found = learner.lagged_adjacency_[0] != 0
    np.testing.assert_array_equal(found, A[0] != 0)
    assert is_dag(learner.adjacency_) and learner.lagged_adjacency_.shape == (1, d, d)
    lagged = {(s, t, k) for s, t, k, _ in learner.graph_.lagged_edges}
    assert ("x0", "x5", 1) in lagged and ("x3", "x1", 1) in lagged
    assert learner.graph_.to_dict()["lagged_edges"][0]["lag"] == 1


def test_lags_respect_priors_and_validate():
    from faultgraph.simulate import simulate_lagged_sem

    A = np.zeros((1, 3, 3))
    A[0, 0, 1] = 0.9
    X = simulate_lagged_sem(np.zeros((3, 3)), A, 2000, random_state=1)
    free = StructureLearner(standardize=False, lags=1).fit(X)
    assert free.lagged_adjacency_[0, 0, 1] != 0
    blocked = StructureLearner(standardize=False, lags=1, prior=PriorKnowledge(forbidden=(("x0", "x1"),))).fit(X)
    assert blocked.lagged_adjacency_[0, 0, 1] == 0
    with pytest.raises(InvalidInputError, match="lags must be an integer >= 0"):
        StructureLearner(lags=-1).fit(X)
    with pytest.raises(InvalidInputError, match="at least 8 rows"):
        StructureLearner(lags=5).fit(X[:4])


def test_prior_patterns_expand_to_matching_metrics():
    names = ["a_cpu", "a_latency", "b_cpu", "b_latency", "b_traffic"]
    prior = PriorKnowledge(tiers=(("*_traffic",), ("*_cpu",), ("*_latency",)), forbidden=(("a_*", "b_cpu"),))
    p = prior.expand(names)
    assert p.tiers == (("b_traffic",), ("a_cpu", "b_cpu"), ("a_latency", "b_latency"))
    assert set(p.forbidden) == {("a_cpu", "b_cpu"), ("a_latency", "b_cpu")}
    allowed, _ = prior.masks(names)
    i = {n: k for k, n in enumerate(names)}
    assert not allowed[i["a_latency"], i["a_cpu"]] and allowed[i["a_cpu"], i["a_latency"]]
    assert not allowed[i["a_latency"], i["b_cpu"]]
    with pytest.raises(InvalidInputError, match="pattern '\\*_disk' matches no metric"):
        PriorKnowledge(sinks=("*_disk",)).masks(names)


def test_mirror_image_pair_still_gets_its_edge():
    # standardised, two variables are each other's mirror: from W = 0 the problem is
    # symmetric and its symmetric path ends at a saddle with no edge at all (DAGMA, the
    # default; NOTEARS's first augmented-Lagrangian step re-symmetrises the push: open)
    rng = np.random.default_rng(0)
    x = rng.normal(size=2000)
    y = 0.9 * x + 0.3 * rng.normal(size=2000)
    learner = StructureLearner("dagma", standardize=True).fit(np.column_stack([x, y]))
    assert np.count_nonzero(learner.adjacency_) == 1
    assert abs(learner.adjacency_.sum()) > 0.8


def test_refinement_rescues_the_notears_mirror_pair():
    # NOTEARS stops at the symmetric saddle (no edge) on a standardised mirror pair; the
    # greedy refinement, asked for, adds the edge
    rng = np.random.default_rng(0)
    x = rng.normal(size=2000)
    y = 0.9 * x + 0.3 * rng.normal(size=2000)
    refined = StructureLearner("notears", standardize=True, refine=True).fit(np.column_stack([x, y]))
    assert np.count_nonzero(refined.adjacency_) == 1 and abs(refined.adjacency_.sum()) > 0.8


def test_raw_data_in_tiny_units_is_said_to_lose_its_edges_to_the_penalty(er10):
    # on raw data lambda1 is in the data's units squared: at 1/100 of the scale the
    # median variance falls below it and the L1 penalty removes the planted edges (the
    # refinement, in the data's units, puts some edges back, mostly wrong ones)
    X = er10.data.to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        full = StructureLearner("dagma", standardize=False).fit(X)
        standardised = StructureLearner("dagma").fit(X / 100)  # correlations: scale-free
    with pytest.warns(UserWarning, match=r"median variance is .* below lambda1 = 0.03"):
        tiny = StructureLearner("dagma", standardize=False, refine=False).fit(X / 100)
    with pytest.warns(UserWarning, match=r"median variance is .* below lambda1 = 0.03"):
        refined = StructureLearner("dagma", standardize=False).fit(X / 100)
    assert np.count_nonzero(tiny.adjacency_) < np.count_nonzero(full.adjacency_) // 4
    assert np.count_nonzero(standardised.adjacency_) > np.count_nonzero(tiny.adjacency_)
    shd = lambda L: graph_accuracy(er10.W != 0, L.adjacency_ != 0).shd  # noqa: E731
    assert shd(full) <= 2 and shd(refined) >= 10


def test_the_detector_does_not_pass_on_the_raw_data_advice():
    # CausalDetector learns on robust z (median variance about 1), not raw data: a large
    # lambda1 there is the user's choice, and "use standardize=True" would not apply
    from faultgraph.detect import CausalDetector
    from faultgraph.simulate import simulate_incident

    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        CausalDetector(lambda1=5.0).fit(simulate_incident(services=3, random_state=0).normal)


@pytest.mark.parametrize("scale", [1e-25, 1e-8, 1.0, 1e19])
def test_the_solver_finds_least_squares_in_any_units(scale):
    # OWL-QN on a plain regression (no acyclicity term, no L1): the OLS weights, with and
    # without the (float32) preconditioner, in units from 1e-25 to 1e19. Its stopping
    # rule was an absolute tolerance below a loss of 1 (2 iterations at 1e-8, 17 % off),
    # and the float32 preconditioner under- or overflowed at the extremes.
    from faultgraph.discovery._owlqn import minimize_l1
    from faultgraph.discovery.functions import least_squares_loss

    rng = np.random.default_rng(0)
    a = rng.normal(size=2000)
    b = 0.5 * a + rng.normal(size=2000)
    c = 0.8 * b + 0.3 * a + rng.normal(size=2000)
    Xc = scale * np.column_stack([a, b, c])
    Xc -= Xc.mean(axis=0)
    S = Xc.T @ Xc / len(Xc)
    ols = np.linalg.solve(S[:2, :2], S[:2, 2])
    allowed = np.zeros((3, 3), dtype=bool)
    allowed[:2, 2] = True

    def fun(W):
        loss, grad = least_squares_loss(W, S)
        return loss, lambda: grad

    for P in (None, np.linalg.inv(S)):
        W, _, converged = minimize_l1(fun, np.zeros((3, 3)), np.zeros((3, 3)), allowed, max_iter=500, tol=1e-12,
                                      precondition=P)
        assert converged
        np.testing.assert_allclose(W[:2, 2], ols, rtol=1e-6)


def test_a_raw_fit_in_small_units_is_the_fit_in_unit_scale():
    # a chain of sd about 0.1: the loss is about 0.02, where the solver stopped early
    # (a -> b weight 0.22 against 0.47 at sd 1)
    rng = np.random.default_rng(0)
    a = rng.normal(size=2000)
    b = 0.5 * a + rng.normal(size=2000)
    c = 0.8 * b + rng.normal(size=2000)
    X = np.column_stack([a, b, c])
    unit = StructureLearner(standardize=False, lambda1=0.0, refine=False).fit(X)
    small = StructureLearner(standardize=False, lambda1=0.0, refine=False).fit(0.1 * X)
    assert unit.converged_ and small.converged_
    np.testing.assert_allclose(small.weights_, unit.weights_, atol=0.03)
    assert abs(small.weights_[0, 1] - 0.48) < 0.03


def test_a_metric_constant_once_lagged_is_named():
    # it varies only in its last row, so its lag-1 copy is constant: a clear error, not
    # "the starting point is outside the objective's domain" from NaN moments
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    X[:, 2] = 0.0
    X[-1, 2] = 1.0
    with pytest.raises(InvalidInputError, match=r"with lags=1, x2 \(lag 1\) is constant over the rows"):
        StructureLearner(lags=1).fit(X)
    # on the raw scale a constant lagged column is harmless (no scale to divide by): fitted
    assert StructureLearner(lags=1, standardize=False).fit(X).adjacency_.shape == (3, 3)


def test_numerical_trouble_is_an_error_not_a_hang_or_a_numpy_exception():
    from faultgraph.discovery import StructureLearner, dagma_linear

    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3))
    # a duplicated metric under the screen: collinear parents get a least-squares fit
    screened = StructureLearner(screen=True).fit(np.c_[X, X[:, 0]])
    assert np.isfinite(screened.weights_).all()
    assert np.isfinite(StructureLearner(screen=True).fit(rng.normal(size=(3, 4))).weights_).all()
    # NaN second moments would never halve back into DAGMA's domain: refused, not looped on
    with pytest.raises(InvalidInputError, match="S holds NaN or infinite values"):
        dagma_linear(np.full((3, 3), np.nan), lambda1=0.03)
    with pytest.raises(InvalidInputError, match="variances under- or overflow"):
        StructureLearner().fit(rng.normal(size=(50, 4)) * 1e-170)
