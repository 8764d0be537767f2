"""The anomalous period as a context variable (``method="context"``) and its ranking
averaged over a graph ensemble (``explain(..., ensemble=...)``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from faultgraph.detect import CausalDetector
from faultgraph.detect.unsupervised import soft_cap
from faultgraph.errors import InvalidInputError
from faultgraph.rca import explain, step_scores
from faultgraph.rca.context import (ContextEnsemble, context_ensemble, context_shift, ensemble_context,
                                    equation_residuals, fit_equations)


def fork(n: int, seed: int, shift_from: int | None = None, shift: float = 0.0) -> pd.DataFrame:
    """``a → b``, ``b → c``, ``b → e`` through lagged edges, and ``u`` on its own; from
    ``shift_from`` on ``b``'s own noise shifts by ``shift``: ``b``'s mechanism changed, and
    its children ``c`` and ``e`` move only through it."""
    rng = np.random.default_rng(seed)
    a, b, c, e, u = (np.zeros(n) for _ in range(5))
    for t in range(n):
        moved = shift if shift_from is not None and t >= shift_from else 0.0
        a[t] = (0.5 * a[t - 1] if t else 0.0) + rng.normal()
        b[t] = (0.8 * a[t - 1] if t else 0.0) + rng.normal() + moved
        c[t] = (0.9 * b[t - 1] if t else 0.0) + rng.normal()
        e[t] = (-0.9 * b[t - 1] if t else 0.0) + rng.normal()
        u[t] = (0.3 * u[t - 1] if t else 0.0) + rng.normal()
    return pd.DataFrame({"a": a, "b": b, "c": c, "e": e, "u": u})


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    return fork(2000, 0)


@pytest.fixture(scope="module")
def fitted(train) -> CausalDetector:
    return CausalDetector().fit(train)


@pytest.fixture(scope="module")
def incident() -> pd.DataFrame:
    return fork(400, 1, shift_from=350, shift=6.0)


WINDOW = (350, 369)


def _lagged(model: CausalDetector) -> np.ndarray | None:
    return None if model.graph_.lagged is None else np.asarray(model.graph_.lagged)


def test_the_changed_mechanism_ranks_first_and_its_children_do_not(fitted, incident):
    names = list(fitted.encoder_.columns_)
    W = np.asarray(fitted.graph_.lagged[0]) if fitted.graph_.lagged is not None else None
    assert W is not None and W[names.index("b"), names.index("c")] != 0  # b -> c learned (lag 1)
    ex = explain(fitted, incident, WINDOW, method="context")
    score = {c.metric: c.score for c in ex.causes}
    assert ex.top(1) == ["b"]
    assert score["b"] > 4.0  # about the planted 6 sd, soft-capped
    # c and e moved by about 5 sd (N-sigma sees them) but only through b: F adds nothing
    nsigma = {c.metric: c.deviation_z for c in ex.causes}
    assert nsigma["c"] > 3.0 and nsigma["e"] > 3.0
    assert score["c"] < 1.0 and score["e"] < 1.0
    # a marginal method (N-sigma) puts a child right behind b
    assert set(explain(fitted, incident, WINDOW, method="nsigma").top(2)[1:]) <= {"c", "e"}


def test_context_part_is_F_coefficient_hand_computed(fitted, incident):
    # without a recent normal (reference_window=0) F's coefficient is the window's mean
    # residual z (soft-capped at the model's cap) on the model's scales: the reference is
    # the training period
    ex = explain(fitted, incident, WINDOW, method="context", reference_window=0, scales="model")
    X, D = fitted.residuals(incident)
    floor = float(fitted.scale_floor or 0.0)
    scale = (np.maximum(fitted.resid_std_, floor * np.minimum(1.0, fitted.train_std_)) if floor > 0
             else fitted.resid_std_)
    z = soft_cap((D - fitted.resid_mean_) / scale, float(fitted.soft_cap or 0.0))
    mask = (incident.index >= WINDOW[0]) & (incident.index <= WINDOW[1])
    expected = np.abs(z[mask].mean(axis=0))
    names = list(fitted.encoder_.columns_)
    got = {c.metric: c.score for c in ex.causes}
    assert [got[n] for n in names] == pytest.approx(expected.tolist(), rel=1e-9, abs=1e-12)


def test_context_shift_by_hand():
    z = np.array([[0.0, 1.0], [2.0, 1.0], [4.0, 3.0], [6.0, 5.0]])
    mask = np.array([False, False, True, True])
    shift, t = context_shift(z, mask, slice(0, 2))
    assert shift.tolist() == [4.0, 3.0]  # (4+6)/2 - (0+2)/2 ; (3+5)/2 - (1+1)/2
    assert t.tolist() == pytest.approx([4.0, 3.0])  # / sqrt(1/2 + 1/2)
    shift0, t0 = context_shift(z, mask, None)
    assert shift0.tolist() == [5.0, 4.0]
    assert t0.tolist() == pytest.approx([5.0 * np.sqrt(2), 4.0 * np.sqrt(2)])
    with pytest.raises(InvalidInputError, match="mask must select"):
        context_shift(z, np.zeros(4, dtype=bool))


def test_fit_equations_recovers_the_model_coefficients(fitted, train):
    X, _ = fitted.residuals(train)
    eq = fit_equations(X, np.asarray(fitted.graph_.adjacency), _lagged(fitted))
    assert eq.coef.shape == fitted.coef_.shape
    np.testing.assert_allclose(eq.coef, fitted.coef_, atol=1e-8)
    names = list(fitted.encoder_.columns_)
    b, c = names.index("b"), names.index("c")
    assert eq.coef[len(names) + b, c] == pytest.approx(0.9, abs=0.1)  # c(t) on b(t-1), encoded scale ~ sd
    z = equation_residuals(X, eq, int(fitted.lags))
    assert z.shape == X.shape and abs(z[10:].std(axis=0) - 1).max() < 0.05


def _ensemble(model, X, graphs):
    eqs = tuple(fit_equations(X, A, L) for A, L in graphs)
    return ContextEnsemble(tuple(model.encoder_.columns_), int(model.lags), eqs)


def test_ensemble_ranking_is_the_hand_averaged_one(fitted, train, incident):
    X, _ = fitted.residuals(train)
    d = X.shape[1]
    full = (np.asarray(fitted.graph_.adjacency), _lagged(fitted))
    names = list(fitted.encoder_.columns_)
    b, c = names.index("b"), names.index("c")
    broken = _lagged(fitted).copy()
    broken[0][b, c] = 0.0  # one unstable edge missing: c looks like a target in this graph
    graphs = [full, full, (np.zeros((d, d)), broken)]
    ens = _ensemble(fitted, X, graphs)
    ex = explain(fitted, incident, WINDOW, method="context", ensemble=ens)
    singles = [explain(fitted, incident, WINDOW, method="context", ensemble=_ensemble(fitted, X, [g]))
               for g in graphs]
    by_hand = {n: np.mean([next(x.score for x in s.causes if x.metric == n) for s in singles]) for n in names}
    assert {x.metric: x.score for x in ex.causes} == pytest.approx(by_hand, rel=1e-9)
    assert ex.top(len(names)) == sorted(names, key=lambda n: -by_hand[n])
    # alone, the broken graph makes c a target; averaged, b stays first and c below it
    alone = {x.metric: x.score for x in singles[2].causes}
    assert alone["c"] > 2.0
    assert ex.top(1) == ["b"]
    # ensemble_context gives the same numbers from the encoded rows
    Xi, _ = fitted.residuals(incident)
    mask = (incident.index >= WINDOW[0]) & (incident.index <= WINDOW[1])
    direct = ensemble_context(Xi, mask, None, ens, float(fitted.soft_cap or 0.0))
    ex0 = explain(fitted, incident, WINDOW, method="context", ensemble=ens, reference_window=0)
    assert [next(x.score for x in ex0.causes if x.metric == n) for n in names] == pytest.approx(direct.tolist())


def test_step_scores_average_over_the_ensemble(fitted, train, incident):
    X, _ = fitted.residuals(train)
    full = (np.asarray(fitted.graph_.adjacency), _lagged(fitted))
    ens = _ensemble(fitted, X, [full, full])
    one = step_scores(fitted, incident, WINDOW, method="context", ensemble=_ensemble(fitted, X, [full]))
    two = step_scores(fitted, incident, WINDOW, method="context", ensemble=ens)
    np.testing.assert_allclose(one.to_numpy(), two.to_numpy())
    assert (two.idxmax(axis=1) == "b").mean() > 0.8


def test_combined_method_keeps_b_first(fitted, incident):
    ex = explain(fitted, incident, WINDOW, method="context+innovation+nsigma")
    assert ex.top(1) == ["b"]


def test_context_ensemble_learns_graphs_and_checks_its_inputs(fitted, train, incident):
    ens = context_ensemble(fitted, train.iloc[:800], 3, random_state=0)
    assert ens.n_graphs == 3 and ens.metrics == tuple(fitted.encoder_.columns_)
    assert set(ens.to_dict()) == {"metrics", "lags", "equations", "model_key"}
    assert explain(fitted, incident, WINDOW, method="context", ensemble=ens).top(1) == ["b"]
    with pytest.raises(InvalidInputError, match="n_graphs"):
        context_ensemble(fitted, train, 1)
    with pytest.raises(InvalidInputError, match="model must be"):
        context_ensemble("model", train, 3)
    with pytest.raises(InvalidInputError, match="used by the methods"):
        explain(fitted, incident, WINDOW, method="nsigma", ensemble=ens)
    with pytest.raises(InvalidInputError, match="ensemble must be"):
        explain(fitted, incident, WINDOW, method="context", ensemble=[1, 2])
    other = ContextEnsemble(("x",), ens.lags, ens.equations)
    with pytest.raises(InvalidInputError, match="built for"):
        explain(fitted, incident, WINDOW, method="context", ensemble=other)
    # another model of the same metrics (fitted on other rows) cannot use it: its numbers would be wrong
    sibling = CausalDetector().fit(train.iloc[1000:])
    assert tuple(sibling.encoder_.columns_) == ens.metrics
    with pytest.raises(InvalidInputError, match="built from another model of the same metrics"):
        explain(sibling, incident, WINDOW, method="context", ensemble=ens)
    with pytest.raises(InvalidInputError, match="adjacency must be"):
        fit_equations(np.zeros((50, 2)), np.zeros((3, 3)))
