"""The maths: values and gradients of the loss and of both acyclicity terms."""

from __future__ import annotations

import numpy as np
import pytest

from faultgraph.discovery import h_expm, h_logdet, least_squares_loss
from faultgraph.simulate import simulate_dag, simulate_weights


def numeric_gradient(f, W, eps=1e-6):
    G = np.zeros_like(W)
    for idx in np.ndindex(W.shape):
        E = np.zeros_like(W)
        E[idx] = eps
        G[idx] = (f(W + E)[0] - f(W - E)[0]) / (2 * eps)
    return G


@pytest.fixture
def W_small(rng):
    return rng.normal(scale=0.2, size=(6, 6))


def test_least_squares_gradient_matches_finite_differences(W_small, rng):
    X = rng.normal(size=(200, 6))
    S = X.T @ X / 200
    f = lambda W: least_squares_loss(W, S)  # noqa: E731
    np.testing.assert_allclose(f(W_small)[1], numeric_gradient(f, W_small), rtol=1e-6, atol=1e-8)


def test_least_squares_equals_the_sample_loss(W_small, rng):
    X = rng.normal(size=(300, 6))
    loss, _ = least_squares_loss(W_small, X.T @ X / 300)
    assert loss == pytest.approx(0.5 / 300 * np.sum((X - X @ W_small) ** 2), rel=1e-12)


def test_h_expm_gradient_matches_finite_differences(W_small):
    np.testing.assert_allclose(h_expm(W_small)[1], numeric_gradient(h_expm, W_small), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("s", [1.0, 0.7])
def test_h_logdet_gradient_matches_finite_differences(W_small, s):
    f = lambda W: h_logdet(W, s)  # noqa: E731
    value, grad = f(W_small)
    assert np.isfinite(value)
    np.testing.assert_allclose(grad, numeric_gradient(f, W_small), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("seed", range(5))
def test_h_is_zero_on_dags(seed):
    rng = np.random.default_rng(seed)
    W = simulate_weights(simulate_dag(15, 2, "er", rng), random_state=rng) * 0.3
    assert abs(h_expm(W)[0]) < 1e-10
    assert abs(h_logdet(W, 1.0)[0]) < 1e-10


def test_h_is_positive_with_a_cycle():
    W = np.zeros((3, 3))
    W[0, 1], W[1, 2], W[2, 0] = 0.5, 0.5, 0.5  # 0 -> 1 -> 2 -> 0
    assert h_expm(W)[0] > 1e-3
    assert h_logdet(W, 1.0)[0] > 1e-3


def test_h_logdet_outside_its_domain_is_infinite():
    W = np.array([[0.0, 2.0], [2.0, 0.0]])  # spectral radius of W∘W is 4 > s
    value, grad = h_logdet(W, 1.0)
    assert value == np.inf and np.isnan(grad).all()
