"""Nonlinear structural equations (the torch extra)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from faultgraph.effects import average_treatment_effect, interventional_samples
from faultgraph.sem import SEM

torch = pytest.importorskip("torch", reason="the torch extra is not installed (pip install 'faultgraph[torch]')")


@pytest.fixture(scope="module")
def nonlinear():
    rng = np.random.default_rng(0)
    a = rng.uniform(-2, 2, size=3000)
    b = np.tanh(2 * a) + 0.1 * rng.normal(size=3000)
    return pd.DataFrame({"a": a, "b": b}), {"a": [], "b": ["a"]}


def test_mlp_equation_fits_a_nonlinear_mechanism(nonlinear):
    data, graph = nonlinear
    lin = SEM().fit(data, graph)
    mlp = SEM(kind="mlp", random_state=0).fit(data, graph)
    assert mlp.node_kind_["b"] == "mlp" and mlp.node_kind_["a"] == "linear"  # a has no parents
    assert mlp.noise_scale_["b"] < 0.15 < lin.noise_scale_["b"]


def test_mlp_effects_by_monte_carlo(nonlinear):
    data, graph = nonlinear
    mlp = SEM(kind="mlp", random_state=0).fit(data, graph)
    res = average_treatment_effect(mlp, "a", "b", high=1.0, low=0.0, n=2000, n_bootstrap=0, random_state=0)
    assert res.method == "monte-carlo"
    assert res.ate == pytest.approx(np.tanh(2.0), abs=0.05)
    sample = interventional_samples(mlp, {"a": 0.5}, 5000, random_state=1)
    assert sample["b"].mean() == pytest.approx(np.tanh(1.0), abs=0.02)


def test_mlp_model_round_trips(nonlinear):
    data, graph = nonlinear
    mlp = SEM(kind="mlp", random_state=0).fit(data, graph)
    meta, arrays = mlp.to_arrays()
    again = SEM.from_arrays(meta, arrays)
    x = data[["a"]].to_numpy()[:50]
    np.testing.assert_array_equal(mlp.mean("b", x), again.mean("b", x))


def test_the_bootstrap_interval_of_an_mlp_follows_random_state(nonlinear):
    # the refits' initialisations come from random_state, not from fresh entropy: the
    # same seed gives the same interval for a model built without a seed of its own
    # (as every loaded model is)
    data, graph = nonlinear
    mlp = SEM(kind="mlp", epochs=30).fit(data.iloc[:600], graph)
    runs = [average_treatment_effect(mlp, "a", "b", n=300, n_bootstrap=10, random_state=1) for _ in range(2)]
    assert runs[0] == runs[1]
    assert runs[0].ci_low < runs[0].ci_high
