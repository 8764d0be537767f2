"""The ``mechanism`` ranking (CIRCA-like regression-based test with descendant adjustment)
and the automatic symptom (a metric that moved, never a flat one)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from faultgraph.detect import CausalDetector
from faultgraph.errors import InvalidInputError
from faultgraph.rca import explain, step_scores
from faultgraph.rca.ranking import (MECHANISM_THRESHOLD, descendant_adjustment, mechanism_statistic,
                                    summary_graph)


def chain(n: int, seed: int, shift_from: int | None = None, shift: float = 0.0) -> pd.DataFrame:
    """``a → b → c`` through lagged edges (time gives the direction); from ``shift_from``
    on, ``b``'s own noise is shifted by ``shift``: its mechanism changed, ``a``'s did not."""
    rng = np.random.default_rng(seed)
    a, b, c = np.zeros(n), np.zeros(n), np.zeros(n)
    for t in range(n):
        moved = shift if shift_from is not None and t >= shift_from else 0.0
        a[t] = (0.5 * a[t - 1] if t else 0.0) + rng.normal()
        b[t] = (0.9 * a[t - 1] if t else 0.0) + rng.normal() + moved
        c[t] = (0.9 * b[t - 1] if t else 0.0) + rng.normal()
    return pd.DataFrame({"a": a, "b": b, "c": c})


@pytest.fixture(scope="module")
def fitted() -> CausalDetector:
    return CausalDetector().fit(chain(2000, 0))


def test_chain_is_learned_in_time_order(fitted):
    W = summary_graph(fitted)
    assert list(fitted.encoder_.columns_) == ["a", "b", "c"]
    assert W[0, 1] != 0 and W[1, 2] != 0  # a -> b -> c
    assert W[1, 0] == 0 and W[2, 1] == 0


def test_mechanism_ranks_the_changed_mechanism_first_and_its_effect_below_it(fitted):
    data = chain(300, 1, shift_from=250, shift=6.0)
    ex = explain(fitted, data, (250, 269), method="mechanism")
    order = ex.top(3)
    assert order[0] == "b"
    assert order.index("c") > order.index("b")
    score = {c.metric: c.score for c in ex.causes}
    assert score["b"] > MECHANISM_THRESHOLD  # b's test rejects its training mechanism
    # c moved (its value follows b) but its equation given b still holds: its statistic
    # is small, and b, its anomalous parent with the higher score, pushes it below zero
    assert score["c"] < 0
    # the statistic is the noise z tested over the window's 20 steps
    cause_b = next(c for c in ex.causes if c.metric == "b")
    assert score["b"] == pytest.approx(float(mechanism_statistic(np.array(cause_b.noise_z), 20)))


def test_mechanism_step_scores_rank_b_first_at_most_steps(fitted):
    data = chain(300, 1, shift_from=250, shift=6.0)
    scores = step_scores(fitted, data, (250, 269), method="mechanism")
    assert list(scores.columns) == ["a", "b", "c"]
    assert (scores.idxmax(axis=1) == "b").mean() >= 0.8


def test_mechanism_statistic_by_hand():
    # the null mean of |z| is sqrt(2/pi): statistic 0; one sd of |z| above it over 4 steps: 2
    sd = np.sqrt(1 - 2 / np.pi)
    got = mechanism_statistic(np.array([np.sqrt(2 / np.pi), np.sqrt(2 / np.pi) + sd]), 4)
    np.testing.assert_allclose(got, [0.0, 2.0], atol=1e-12)
    with pytest.raises(InvalidInputError, match="steps must be an integer >= 1, got 0"):
        mechanism_statistic(np.ones(3), 0)


def test_descendant_adjustment_by_hand_on_three_nodes():
    W = np.array([[0.0, 2.0, 0.0],   # a -> b
                  [0.0, 0.0, 3.0],   # b -> c
                  [0.0, 0.0, 0.0]])
    # a not anomalous (1 < 3): b keeps 9; b anomalous and above c: c = 5 - 9 = -4
    np.testing.assert_allclose(descendant_adjustment(np.array([1.0, 9.0, 5.0]), W), [1.0, 9.0, -4.0])
    # c above its anomalous parent: not explained by it, kept; b below a: 4 - 8 = -4
    np.testing.assert_allclose(descendant_adjustment(np.array([8.0, 4.0, 6.0]), W), [8.0, -4.0, 6.0])
    # a parent below the threshold pushes nothing, whatever the child's score
    np.testing.assert_allclose(descendant_adjustment(np.array([2.9, 1.0, 0.5]), W), [2.9, 1.0, 0.5])
    # rows are adjusted one by one (step_scores), self-loops are no parents
    W_loop = W + np.eye(3)
    rows = np.array([[1.0, 9.0, 5.0], [8.0, 4.0, 6.0]])
    np.testing.assert_allclose(descendant_adjustment(rows, W_loop), [[1.0, 9.0, -4.0], [8.0, -4.0, 6.0]])
    with pytest.raises(InvalidInputError, match=r"W must be a \(3, 3\) matrix, got shape \(2, 2\)"):
        descendant_adjustment(np.ones(3), np.zeros((2, 2)))


def test_the_automatic_symptom_is_a_metric_that_moved_never_a_flat_one():
    rng = np.random.default_rng(0)
    n, m = 1500, 200
    train = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "stuck": 100 + rng.normal(size=n)})
    train["b"] += 0.8 * train["a"]
    model = CausalDetector().fit(train)
    test = pd.DataFrame({"a": rng.normal(size=m), "b": rng.normal(size=m), "stuck": 100 + rng.normal(size=m)})
    test["b"] += 0.8 * test["a"]
    test.loc[150:, "b"] += 5.0
    test.loc[140:, "stuck"] = 0.0  # stuck at 0 from before the window: flat throughout it
    X, _ = model.residuals(test)
    deviation = np.abs(X[150:170]).max(axis=0)
    assert int(np.argmax(deviation)) == 2  # the flat metric deviates most (what was chosen before)
    for method in ("causal+innovation+nsigma", "causal", "mechanism", "nsigma"):
        ex = explain(model, test, (150, 169), method=method)
        assert ex.target == "b", method
    # a metric that moved into the window (its step before differs) may be the symptom
    test.loc[140:149, "stuck"] = 100.0
    assert explain(model, test, (150, 169)).target == "stuck"
    # with every metric flat there, the largest deviation still names one
    flat = test.copy()
    flat.loc[149:, ["a", "b"]] = 0.0
    flat.loc[149:, "stuck"] = 7.0
    assert explain(model, flat, (150, 169)).target == "stuck"  # 93 robust sd off: the largest


def test_the_documentation_example_runs():
    """docs/mechanism.md: its Python block."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "mechanism.md").read_text(encoding="utf-8")
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(code, "docs/mechanism.md", "exec"), {})  # noqa: S102 - our own documentation
