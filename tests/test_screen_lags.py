"""Screening with lags: the past screened as parents of the present (never as children),
and the detector's automatic rule that screens fits the full solve would refuse."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from faultgraph import StructureLearner
from faultgraph._budget import limits, screen_reason, screen_seconds
from faultgraph.detect import CausalDetector
from faultgraph.discovery.learner import lagged_design, second_moments
from faultgraph.discovery.screen import candidate_parents, screened_linear
from faultgraph.errors import InvalidInputError
from faultgraph.evaluate import graph_accuracy
from faultgraph.simulate import simulate_dag, simulate_lagged_sem, simulate_weights


def _lagged_system(d: int, seed: int, cross: int, memory: float = 0.5, degree: float = 1.5
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A structural VAR(1): a random DAG among the present (weights ±0.5–1.6), each metric
    remembering ``memory`` of its past, and ``cross`` lagged effects of ±0.8 between metrics."""
    rng = np.random.default_rng(seed)
    W = simulate_weights(simulate_dag(d, degree, "er", rng), random_state=rng) * 0.8
    A = np.zeros((1, d, d))
    A[0][np.arange(d), np.arange(d)] = memory
    pairs = [(i, j) for i in range(d) for j in range(d) if i != j]
    for t in rng.choice(len(pairs), size=cross, replace=False):
        A[0][pairs[t]] = 0.8 * rng.choice([-1.0, 1.0])
    X = simulate_lagged_sem(W, A, 3000, random_state=rng)
    return W, A, X


def test_screen_recovers_a_planted_lagged_system():
    W, A, X = _lagged_system(40, seed=2, cross=10, degree=1.0)
    learner = StructureLearner(screen=True, standardize=False, lags=1).fit(X)
    assert learner.graph_.params["screen"] is True and learner.weights_.shape == (80, 40)
    assert graph_accuracy(W != 0, learner.adjacency_).shd <= 2  # of 32 same-step edges
    found = learner.lagged_adjacency_[0] != 0
    assert int((found != (A[0] != 0)).sum()) <= 1  # of 50 lagged edges
    lagged = {(s, t) for s, t, _, _ in learner.graph_.lagged_edges}
    i, j = np.argwhere((A[0] != 0) & ~np.eye(40, dtype=bool))[0]
    assert (f"x{i}", f"x{j}") in lagged


def test_screened_equals_the_full_solve_where_the_screen_keeps_every_parent():
    W, A, X = _lagged_system(8, seed=0, cross=2)
    S = second_moments(lagged_design(X, 1), standardize=False)
    full = np.zeros((16, 16), dtype=bool)
    full[:, :8] = True
    C = candidate_parents(S, len(X) - 1, allowed=full)[:, :8]
    truth = np.vstack([W != 0, A[0] != 0])
    assert not (truth & ~C).any()  # every true parent, present or past, is a candidate
    screened = StructureLearner(screen=True, standardize=False, lags=1).fit(X)
    solved = StructureLearner(standardize=False, lags=1).fit(X)
    np.testing.assert_array_equal(screened.adjacency_ != 0, solved.adjacency_ != 0)
    np.testing.assert_array_equal(screened.lagged_adjacency_ != 0, solved.lagged_adjacency_ != 0)
    # the same weights but for the solve's L1 shrinkage (the screen's are least squares)
    np.testing.assert_allclose(screened.adjacency_, solved.adjacency_, atol=0.1)
    np.testing.assert_allclose(screened.lagged_adjacency_, solved.lagged_adjacency_, atol=0.1)


def test_the_past_is_never_a_child_and_the_prior_holds():
    _, A, X = _lagged_system(6, seed=2, cross=2)
    S = second_moments(lagged_design(X, 2), standardize=False)
    allowed = np.ones((18, 6), dtype=bool)
    allowed[6:, 0] = False  # x0's past may not act on x0
    result = screened_linear(S, n_vars=6, n_samples=len(X) - 2, allowed=allowed)
    assert result.W.shape == (18, 6) and result.h == 0.0
    assert not result.W[6:, 0].any()
    assert np.abs(result.W[6 + 0, 0]) == 0 and np.abs(result.W[6 + 1, 1]) > 0.3  # x1 remembers its past
    with pytest.raises(InvalidInputError, match="n_vars must divide the size of S"):
        screened_linear(S, n_vars=7, n_samples=100)


def test_the_rule_screens_what_the_full_solve_refuses_and_nothing_else():
    reason = screen_reason(400, 568, 1, what="the detector's graph fit")
    assert reason is not None and "399 rows for 1136 candidate parents per metric (568 metrics x 2 steps" in reason
    assert "would take" in screen_reason(20000, 1200, 1)  # determined, but over the time limit
    assert screen_reason(23702, 38, 1) is None  # an SMD machine: the full solve, unchanged
    assert screen_reason(2, 568, 1) is None  # too few rows: check_fit's refusal
    assert screen_reason(2000, 16, 500) is None  # the lags make k large: the screen saves nothing
    assert screen_seconds(2000, 16, 500) > 0.5 * screen_seconds(2000, 16 * 501, 0)
    with limits(force=True):
        assert screen_reason(400, 568, 1) is None  # forced: the full solve, as asked


def _wide(d: int = 60, n: int = 100, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, 6)).cumsum(axis=0)
    X = base[:, rng.integers(0, 6, size=d)] + 0.5 * rng.normal(size=(n, d))
    t = pd.date_range("2024-01-01", periods=n, freq="min")
    return pd.DataFrame(X, index=t, columns=[f"s{i % 6}_m{i}" for i in range(d)])


def test_the_detector_screens_a_wide_fit_and_says_so(tmp_path):
    train = _wide()
    with pytest.warns(UserWarning, match=r"the detector's graph fit is screened .*99 rows for 120 candidate parents"):
        model = CausalDetector(holdout=0).fit(train)
    params = model.graph_.params
    assert params["screen"] is True and "99 rows for 120 candidate parents" in params["screen_reason"]
    assert np.isfinite(model.score_samples(train)["score"]).all()
    model.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert "is screened" in meta["graph"]["params"]["screen_reason"]
    again = CausalDetector.load(tmp_path / "m")
    assert again.graph_.params["screen_reason"] == params["screen_reason"]


def test_small_fits_are_not_screened_and_force_keeps_the_full_solve():
    rng = np.random.default_rng(1)
    small = pd.DataFrame(rng.normal(size=(500, 5)).cumsum(axis=0), columns=list("abcde"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        model = CausalDetector().fit(small)
    assert "screen" not in model.graph_.params and "screen_reason" not in model.graph_.params
    with limits(force=True), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        forced = CausalDetector(holdout=0).fit(_wide(d=30, n=50))
    assert "screen" not in forced.graph_.params
