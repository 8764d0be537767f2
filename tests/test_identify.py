"""Identifiability said out loud: orientation marks, IDA bounds, honest effects (issue 18)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from faultgraph import StructureLearner
from faultgraph.discovery.ensemble import block_bootstrap_rows
from faultgraph.effects.identify import (
    Resample,
    admissible_parent_sets,
    graph_effects,
    identified_scores,
    ida_effects,
    orient_graph,
    weighted_covariance,
)
from faultgraph.errors import InvalidInputError


def _standardised(X: np.ndarray, names: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(X, columns=names)
    return (frame - frame.mean()) / frame.std(ddof=0)


def _bootstrap(n: int, A: np.ndarray, lagged: np.ndarray | None = None, B: int = 60, block: int = 1) -> list:
    rng = np.random.default_rng(7)
    return [Resample(block_bootstrap_rows(n, block, rng), A, lagged) for _ in range(B)]


def test_standardised_pair_is_not_identified_and_its_bounds_hold_zero_and_the_truth():
    rng = np.random.default_rng(0)
    x = rng.normal(size=3000)
    y = 0.8 * x + rng.normal(size=3000)
    data = _standardised(np.column_stack([x, y]), ["x", "y"])
    truth = 0.8 / np.sqrt(1 + 0.8**2)  # in standard deviations: the correlation
    A = StructureLearner().fit(data).adjacency_
    assert np.count_nonzero(A) == 1
    marks = orient_graph(A, ["x", "y"]).marks()
    assert len(marks) == 1 and not marks[0].oriented and marks[0].by == "not identified"
    scores = identified_scores(data, A, "y", resamples=_bootstrap(3000, A))
    (s,) = scores.scores
    assert s.node == "x" and s.identified is False
    assert s.ate_bounds[0] <= 0 <= s.ate_bounds[1]
    assert s.ate_bounds[0] <= truth <= s.ate_bounds[1]
    assert "Certain causes of y (direction identified, interval excludes 0): none" in scores.summary
    doc = scores.to_dict()["scores"][0]
    assert list(doc)[:5] == ["node", "ate", "ci_low", "ci_high", "score"]
    assert doc["identified"] is False and isinstance(doc["ate_bounds"], list)


def test_lagged_pair_is_oriented_by_time_and_its_interval_holds_the_true_effect():
    rng = np.random.default_rng(1)
    T = 4000
    e = rng.normal(size=(T, 2))
    X = np.zeros((T, 2))
    for t in range(1, T):
        X[t, 0] = 0.6 * X[t - 1, 0] + e[t, 0]
        X[t, 1] = 0.7 * X[t, 0] + 0.5 * X[t - 1, 0] + e[t, 1]
    data = _standardised(X, ["x", "y"])
    learner = StructureLearner(lags=1).fit(data)
    A, L = learner.adjacency_, learner.lagged_adjacency_
    marks = orient_graph(A, ["x", "y"], lagged=L).marks()
    assert [(m.source, m.target, m.oriented, m.by) for m in marks] == [("x", "y", True, "time")]
    scores = identified_scores(data, A, "y", lagged=L, resamples=_bootstrap(T - 1, A, L, block=16))
    (s,) = scores.scores
    truth = 0.7 * X[:, 0].std() / X[:, 1].std()  # same-step effect in standard deviations
    assert s.identified is True
    assert s.ci_low <= truth <= s.ci_high and s.ci_low > 0
    assert "Certain causes of y" in scores.summary and "x (+" in scores.summary


def test_chain_by_hand_v_structure_and_meek():
    # a -> c <- b (a v-structure), c -> d: R1 orients c -> d
    A = np.zeros((4, 4))
    A[0, 2] = A[1, 2] = A[2, 3] = 1
    o = orient_graph(A, list("abcd"))
    by = {(m.source, m.target): m.by for m in o.marks()}
    assert by == {("a", "c"): "v-structure", ("b", "c"): "v-structure", ("c", "d"): "implied"}
    # a chain a - b - c has no v-structure: nothing oriented, b has parent sets {}, {a}, {c}
    chain = np.zeros((3, 3))
    chain[0, 1] = chain[1, 2] = 1
    o = orient_graph(chain, list("abc"))
    assert not o.directed.any()
    assert sorted(admissible_parent_sets(o, 1)) == [(), (0,), (2,)]  # {a, c} is no clique


def test_v_structure_refuted_by_a_prior_arm_orients_nothing():
    # learned a - c - y with y a sink (c -> y by the prior) and a, y uncorrelated in the data:
    # a collider a -> c <- y would need y -> c, which the prior forbids, so a - c stays open
    A = np.zeros((3, 3))
    A[0, 1] = A[1, 2] = 1
    C = np.array([[1.0, 0.5, 0.0], [0.5, 1.0, 0.5], [0.0, 0.5, 1.0]])
    allowed = np.ones((3, 3), dtype=bool)
    allowed[2, :] = False
    by = {(m.source, m.target): (m.oriented, m.by) for m in
          orient_graph(A, list("acy"), allowed=allowed, covariance=C, n_samples=1000).marks()}
    assert by == {("a", "c"): (False, "not identified"), ("c", "y"): (True, "prior")}
    # without the prior, the same data make c a collider
    by = {(m.source, m.target): m.by for m in orient_graph(A, list("acy"), covariance=C, n_samples=1000).marks()}
    assert by == {("a", "c"): "v-structure", ("y", "c"): "v-structure"}


def test_ida_effects_by_hand_on_a_known_covariance():
    # a -> b -> c with weights 2 and 3, unit noises: total effect of a on c is 6
    W = np.array([[0, 2, 0], [0, 0, 3], [0, 0, 0]], dtype=float)
    inv = np.linalg.inv(np.eye(3) - W)
    C = inv.T @ inv  # Cov(X) for X = E (I - W)^-1
    o = orient_graph(W, list("abc"))
    values, sets = ida_effects(C, o, 0, 2)
    np.testing.assert_allclose(sorted(values), [0.0, 6.0], atol=1e-7)  # parent set {}: 6; {b}: 0
    # with the prior's order (a before b before c) the effect is identified
    allowed = np.triu(np.ones((3, 3), dtype=bool), k=1)
    values, _ = ida_effects(C, orient_graph(W, list("abc"), allowed=allowed), 0, 2)
    np.testing.assert_allclose(values, [6.0], atol=1e-7)
    # oriented a -> b -> c: c has no path to a; its regression on its parent b is 0 too (a and c
    # independent given b), so both values are 0
    values, reach = graph_effects(C, orient_graph(W, list("abc"), allowed=allowed), 2, 0)
    assert not reach and len(values) == 2
    np.testing.assert_allclose(values, [0.0, 0.0], atol=1e-7)
    # unoriented: c possibly reaches a; parent sets {} and {b}: C[c, a] / C[c, c] and 0; the
    # orientation a -> b -> c has no path, so 0 joins them (zero_unless="possible": it does not)
    values, reach = graph_effects(C, o, 2, 0, zero_unless="possible")
    assert reach
    np.testing.assert_allclose(sorted(values), sorted([C[2, 0] / C[2, 2], 0.0]), atol=1e-7)
    values, reach = graph_effects(C, o, 2, 0)
    assert reach
    np.testing.assert_allclose(sorted(values), sorted([C[2, 0] / C[2, 2], 0.0, 0.0]), atol=1e-7)
    # oriented a -> b -> c: a surely reaches c, no extra 0
    values, _ = graph_effects(C, orient_graph(W, list("abc"), allowed=allowed), 0, 2)
    np.testing.assert_allclose(values, [6.0], atol=1e-7)


def test_node_without_a_possible_path_has_zero_in_its_bounds_and_is_no_certain_cause():
    rng = np.random.default_rng(3)
    a = rng.normal(size=2000)
    b = a + rng.normal(size=2000)
    c = rng.normal(size=2000)
    y = 0.5 * a + rng.normal(size=2000)
    data = pd.DataFrame({"a": a, "b": b, "c": c, "y": y})
    A = np.zeros((4, 4))
    A[0, 1] = A[0, 3] = 1  # a -> b, a -> y; c isolated
    allowed = np.ones((4, 4), dtype=bool)
    allowed[3, :] = False  # y is a sink
    scores = identified_scores(data, A, "y", allowed=allowed, resamples=_bootstrap(2000, A))
    c_score = next(s for s in scores.scores if s.node == "c")
    # the graph says 0, the data's regression (c has no parents) says about 0: both are in the bounds
    # ate: the regression of y on c and its learned parents (none)
    reg = np.cov(c, y)[0, 1] / np.var(c, ddof=1)
    assert c_score.ate == pytest.approx(reg, abs=1e-9) and abs(reg) < 0.05 and not c_score.identified
    assert c_score.ate_bounds[0] <= 0 <= c_score.ate_bounds[1]
    assert c_score.ate_bounds[0] <= min(reg, 0) and max(reg, 0) <= c_score.ate_bounds[1]
    assert "c (" not in scores.summary.split("Candidates")[0]
    # with the skeleton alone deciding (local=False), exactly 0 and identified
    old = identified_scores(data, A, "y", allowed=allowed, resamples=_bootstrap(2000, A), local=False)
    c_old = next(s for s in old.scores if s.node == "c")
    assert c_old.ate == 0 and c_old.ate_bounds == (0.0, 0.0) and c_old.identified
    b_score = next(s for s in scores.scores if s.node == "b")
    assert b_score.ate_bounds[0] <= 0 <= b_score.ate_bounds[1]  # b's effect hangs on a - b's direction


def test_weighted_covariance_equals_the_covariance_of_repeated_rows():
    rng = np.random.default_rng(4)
    D = rng.normal(size=(50, 3))
    rows = rng.integers(50, size=50)
    np.testing.assert_allclose(weighted_covariance(D, np.bincount(rows, minlength=50)),
                               np.cov(D[rows].T, bias=True), atol=1e-12)


def test_bad_arguments_are_named():
    data = pd.DataFrame({"x": [0.0, 1, 2, 3], "y": [1.0, 0, 1, 2]})
    with pytest.raises(InvalidInputError, match="target 'z' is not a node"):
        identified_scores(data, np.zeros((2, 2)), "z")
    with pytest.raises(InvalidInputError, match=r"confidence must lie in \(0, 1\), got 2"):
        identified_scores(data, np.zeros((2, 2)), "y", confidence=2)
    with pytest.raises(InvalidInputError, match=r"adjacency must be \(2, 2\)"):
        identified_scores(data, np.zeros((3, 3)), "y")


def test_the_examples_of_docs_effects_md_run():
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "effects.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 3
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "docs/effects.md", "exec"), namespace)  # noqa: S102 - our own documentation


def test_evidence_rank_orders_by_what_the_data_establish():
    from faultgraph.effects.identify import evidence_rank

    rows = {  # (ate, ci, identified, bounds)
        "certain small": (0.05, (0.02, 0.08), True, (0.02, 0.08)),
        "certain large": (-0.30, (-0.40, -0.20), True, (-0.40, -0.20)),
        "signed, bound 0.10": (0.50, (0.0, 0.9), False, (0.10, 0.90)),
        "signed, bound 0.03": (-2.0, (-3.0, 0.0), False, (-3.0, -0.03)),
        "identified, interval holds 0": (0.20, (-0.05, 0.45), True, (-0.05, 0.45)),
        "unidentified, wild value": (-13.6, (-26.0, 1.7), False, (-26.4, 2.7)),
        "unidentified, small": (0.01, (-0.1, 0.1), False, (-0.1, 0.1)),
        "no effect": (0.0, (0.0, 0.0), False, (0.0, 0.0)),
    }
    order = sorted(rows, key=lambda n: evidence_rank(*rows[n]))
    assert order == ["certain large", "certain small", "signed, bound 0.10", "signed, bound 0.03",
                     "identified, interval holds 0", "unidentified, wild value", "unidentified, small", "no effect"]
    # without resamples there is no interval, so nothing is certain: an identified effect is a
    # candidate, and bounds that exclude 0 (one estimate's orientations) establish no sign
    assert evidence_rank(*rows["certain large"], interval=False) == (1, 1, -0.3)
    assert evidence_rank(*rows["signed, bound 0.10"], interval=False) == (1, 2, -0.5)
    no_interval = sorted(rows, key=lambda n: evidence_rank(*rows[n], interval=False))
    assert no_interval == ["certain large", "identified, interval holds 0", "certain small", "unidentified, wild value",
                           "signed, bound 0.03", "signed, bound 0.10", "unidentified, small", "no effect"]
    assert evidence_rank(0.3, (0.1, 0.5), True, (-0.1, 0.5), interval=False)[:2] == (1, 1)
