"""Nonlinear structural equations as small neural networks (the ``torch`` extra)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["MLPEquation", "fit_mlp"]


def _torch() -> Any:
    try:
        import torch
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "nonlinear equations (SEM(kind='mlp')) need PyTorch: pip install 'faultgraph[torch]'"
        ) from None
    return torch


@dataclass(frozen=True)
class MLPEquation:
    """``f(x) = W2 · tanh(W1 x + b1) + b2`` on standardised inputs, held as numpy arrays."""

    W1: np.ndarray = field(repr=False)
    b1: np.ndarray = field(repr=False)
    W2: np.ndarray = field(repr=False)
    b2: float
    x_mean: np.ndarray = field(repr=False)
    x_scale: np.ndarray = field(repr=False)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The network's output for each row of ``X``.

        Parameters
        ----------
        X : (m, k) array-like of float
            Parent values, one column per input the equation was fitted on, in raw units
            (standardised here with the stored ``x_mean`` and ``x_scale``).

        Returns
        -------
        (m,) ndarray of float
            ``W2 · tanh(W1 z + b1) + b2`` for each standardised row ``z``.
        """
        Z = (np.asarray(X, dtype=float) - self.x_mean) / self.x_scale
        return np.tanh(Z @ self.W1.T + self.b1) @ self.W2 + self.b2


def fit_mlp(X: np.ndarray, y: np.ndarray, *, hidden: int, epochs: int, rng: np.random.Generator) -> MLPEquation:
    """Fit a one-hidden-layer tanh network by full-batch L-BFGS in float64.

    The inputs are standardised by their mean and standard deviation (a constant column
    keeps scale 1). The loss is the mean squared error plus ``1e-4`` times the squared
    norms of the two weight matrices; the output bias starts at the mean of ``y``.

    Parameters
    ----------
    X : (n, k) ndarray of float
        Parent values, one column per parent. Not modified.
    y : (n,) ndarray of float
        The node's values.
    hidden : int
        Number of hidden tanh units.
    epochs : int
        Maximum number of L-BFGS iterations (``max_iter`` of the single optimiser step).
    rng : numpy.random.Generator
        Source of the seed of the weights' random initialisation.

    Returns
    -------
    MLPEquation
        The fitted equation, as numpy arrays.

    Raises
    ------
    ImportError
        When PyTorch (the ``torch`` extra) is not installed.
    """
    torch = _torch()
    x_mean, x_scale = X.mean(axis=0), X.std(axis=0)
    x_scale[x_scale == 0] = 1.0
    Z = torch.as_tensor((X - x_mean) / x_scale, dtype=torch.float64)
    t = torch.tensor(np.array(y, dtype=float), dtype=torch.float64)
    gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
    k = X.shape[1]
    W1 = (torch.randn(hidden, k, generator=gen, dtype=torch.float64) / np.sqrt(k)).requires_grad_()
    b1 = torch.zeros(hidden, dtype=torch.float64, requires_grad=True)
    W2 = (torch.randn(hidden, generator=gen, dtype=torch.float64) / np.sqrt(hidden)).requires_grad_()
    b2 = torch.tensor(float(y.mean()), dtype=torch.float64, requires_grad=True)
    params = [W1, b1, W2, b2]
    opt = torch.optim.LBFGS(params, max_iter=epochs, line_search_fn="strong_wolfe")

    def closure() -> Any:
        opt.zero_grad()
        pred = torch.tanh(Z @ W1.T + b1) @ W2 + b2
        loss = torch.mean((pred - t) ** 2) + 1e-4 * (W1.pow(2).sum() + W2.pow(2).sum())
        loss.backward()
        return loss

    opt.step(closure)
    return MLPEquation(W1.detach().numpy().copy(), b1.detach().numpy().copy(), W2.detach().numpy().copy(),
                       float(b2.detach()), x_mean, x_scale)
