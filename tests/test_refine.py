"""Greedy refinement of a learned DAG: its statistics, its moves, its effect on accuracy."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from faultgraph import StructureLearner
from faultgraph._graph import is_dag
from faultgraph.discovery.refine import ols_weights, refine_dag, rss
from faultgraph.evaluate import graph_accuracy
from faultgraph.simulate import simulate_graph_data


def _moments(X):
    Xc = X - X.mean(axis=0)
    return Xc.T @ Xc / X.shape[0]


def test_rss_and_ols_weights_equal_least_squares_on_the_rows():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 4))
    X[:, 3] += 2.0 * X[:, 0] - X[:, 1]
    S = _moments(X)
    Xc = X - X.mean(axis=0)
    coef, *_ = np.linalg.lstsq(Xc[:, [0, 1]], Xc[:, 3], rcond=None)
    resid = Xc[:, 3] - Xc[:, [0, 1]] @ coef
    assert rss(S, 3, np.array([0, 1])) == pytest.approx(np.mean(resid**2))
    assert rss(S, 2, np.array([], dtype=int)) == pytest.approx(S[2, 2])
    A = np.zeros((4, 4), dtype=bool)
    A[0, 3] = A[1, 3] = True
    W = ols_weights(S, A)
    np.testing.assert_allclose(W[[0, 1], 3], coef)
    assert np.count_nonzero(W) == 2


def _score(S, A, lam):
    return sum(rss(S, j, np.flatnonzero(A[:, j])) for j in range(S.shape[0])) / 2 + lam * A.sum()


def test_refinement_lowers_the_score_repairs_a_bad_start_and_keeps_a_dag():
    sim = simulate_graph_data(kind="sf", nodes=12, degree=3, samples=2000, random_state=1)
    X = sim.data.to_numpy()
    S, lam = _moments(X), np.log(len(X)) / (2 * len(X))
    true = sim.W != 0
    start = true.T.copy()  # every edge reversed: a DAG, but the wrong one
    A, moves = refine_dag(S, start, lam=lam)
    assert moves > 0 and is_dag(A)
    assert _score(S, A, lam) < _score(S, start, lam)
    assert graph_accuracy(true, A).shd < graph_accuracy(true, start).shd


def test_refinement_respects_the_prior():
    sim = simulate_graph_data(kind="er", nodes=8, degree=2, samples=2000, random_state=2)
    X = sim.data.to_numpy()
    S, lam = _moments(X), np.log(len(X)) / (2 * len(X))
    true = sim.W != 0
    i, j = np.argwhere(true)[0]
    allowed = np.ones_like(true)
    allowed[i, j] = False  # a true edge the prior forbids
    required = np.zeros_like(true)
    required[j, i] = True  # ... and its reverse, required
    start = np.zeros_like(true)
    start[j, i] = True
    A, _ = refine_dag(S, start, lam=lam, allowed=allowed, required=required)
    assert A[j, i] and not A[i, j] and is_dag(A)


def test_refinement_improves_the_learner_on_scale_free_graphs():
    shd = {True: [], False: []}
    for seed in range(3):
        sim = simulate_graph_data(kind="sf", nodes=20, degree=4, samples=1000, random_state=seed)
        for refine in (True, False):
            learner = StructureLearner(standardize=False, refine=refine).fit(sim.data)
            shd[refine].append(graph_accuracy(sim.W != 0, learner.adjacency_ != 0).shd)
            if refine:
                assert is_dag(learner.adjacency_) and learner.graph_.params["refine"]
    assert np.mean(shd[True]) < 0.5 * np.mean(shd[False])  # measured: 2.7 against 18.3


def test_refinement_default_and_cli_switch(tmp_path):
    import json

    from typer.testing import CliRunner

    from faultgraph.cli import app

    sim = simulate_graph_data(kind="er", nodes=6, degree=2, samples=500, random_state=0)
    assert StructureLearner().fit(sim.data).graph_.params["refine"] is False  # standardised: off
    assert StructureLearner(standardize=False).fit(sim.data).graph_.params["refine"] is True
    assert StructureLearner(standardize=False, lags=1).fit(sim.data).graph_.params["refine"] is False
    sim.data.to_csv(tmp_path / "data.csv")
    runner = CliRunner()
    for flag, expected in (("--refine", True), ("--no-refine", False)):
        result = runner.invoke(app, ["discover", str(tmp_path / "data.csv"), flag, "-q", "--out",
                                     str(tmp_path / "g.json")])
        assert result.exit_code == 0, result.output
        assert json.loads((tmp_path / "g.json").read_text())["params"]["refine"] is expected


def test_refine_must_be_a_boolean_or_none():
    from faultgraph import InvalidInputError

    sim = simulate_graph_data(kind="er", nodes=4, degree=1, samples=200, random_state=0)
    with pytest.raises(InvalidInputError, match="refine must be True, False or None"):
        StructureLearner(refine="no").fit(sim.data)


def test_the_refinement_penalty_is_in_the_data_units():
    # a -> b with correlation 0.45 over 2000 rows is overwhelmingly supported whatever
    # the units; the BIC penalty log(n)/(2n) alone (unit noise) deleted it at sd 0.1
    from faultgraph.discovery.refine import noise_variance

    rng = np.random.default_rng(0)
    n = 2000
    a = rng.normal(size=n)
    b = 0.5 * a + rng.normal(size=n)
    A = np.array([[False, True], [False, False]])
    for scale in (1e-3, 0.1, 1.0, 1e3):
        S = _moments(scale * np.column_stack([a, b]))
        lam = noise_variance(S, A) * np.log(n) / (2 * n)
        assert noise_variance(S, A) == pytest.approx(scale**2, rel=0.1)  # both noises have sd 1
        refined, moves = refine_dag(S, A, lam=lam)
        assert moves == 0 and refined[0, 1] and refined.sum() == 1
        # and an edge the data do not support goes at every scale
        c = scale * rng.normal(size=n)
        S3 = _moments(np.column_stack([scale * a, scale * b, c]))
        A3 = np.zeros((3, 3), dtype=bool)
        A3[0, 1] = A3[0, 2] = True
        refined3, _ = refine_dag(S3, A3, lam=noise_variance(S3, A3) * np.log(n) / (2 * n))
        assert refined3[0, 1] and not refined3[:, 2].any()


def test_raw_fits_keep_the_planted_graph_from_sd_0_01_to_sd_100(er10):
    # refinement penalty and solver tolerance in the data's units: the same graph at a
    # hundredth of the scale (lambda1 scaled with the variance, as it is in units squared)
    X = er10.data.to_numpy()
    for scale in (0.01, 1.0, 100.0):
        for method, lambda1 in (("dagma", 0.03), ("notears", 0.1)):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # ConvergenceWarning at scale 100: h stalls, refine repairs
                fit = StructureLearner(method, standardize=False, lambda1=lambda1 * scale**2).fit(scale * X)
            assert graph_accuracy(er10.W != 0, fit.adjacency_ != 0).shd == 0, (method, scale)


def test_the_noise_variance_is_robust_to_a_node_whose_parents_the_start_misses():
    # a hub of ten parents with the start giving it none: its residual variance is the
    # hub's whole variance (about 41), the others' about 1; the mean would be about 4.7
    from faultgraph.discovery.refine import noise_variance

    rng = np.random.default_rng(0)
    X = rng.normal(size=(5000, 11))
    X[:, 10] = 2.0 * X[:, :10].sum(axis=1) + rng.normal(size=5000)
    S = _moments(X)
    A = np.zeros((11, 11), dtype=bool)
    assert noise_variance(S, A) == pytest.approx(1.0, abs=0.1)
    A[:10, 10] = True
    assert noise_variance(S, A) == pytest.approx(1.0, abs=0.1)


def test_the_noise_variance_ignores_near_copies():
    # four signals, each with two near-exact copies (duplicated gauges): the copies are
    # two thirds of the nodes and their residuals about 1e-10; the median over all nodes
    # removed the penalty, and the raw fit joined independent groups
    from faultgraph.discovery.refine import noise_variance

    rng = np.random.default_rng(1)
    base = rng.normal(size=(3000, 4))
    X = np.column_stack([base[:, i] * (1 + 0.1 * k) + 1e-5 * rng.normal(size=3000) for i in range(4) for k in range(3)])
    fit = StructureLearner(standardize=False).fit(X)
    groups = np.repeat(np.arange(4), 3)
    A = fit.adjacency_ != 0
    assert not any(A[i, j] for i in range(12) for j in range(12) if groups[i] != groups[j])
    assert noise_variance(_moments(X), A) == pytest.approx(1.0, abs=0.2)
