"""Parents of a 0/1 sink (a fault label) by L1-penalised logistic regression.

A sink has no children, so its Markov blanket is exactly its parent set: the parents
are the smallest set of metrics that makes the label independent of all the others,
which a sparse regression of the label on every metric estimates. This is sounder and
far more sensitive than letting a linear least-squares learner see a 0/1 column, whose
linear coefficients are small and fall under the usual weight threshold.
"""

from __future__ import annotations

import numpy as np

from faultgraph.discovery._owlqn import LazyGradient, minimize_l1
from faultgraph.errors import InvalidInputError

__all__ = ["logistic_loss", "sink_parents"]


def logistic_loss(theta: np.ndarray, X: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean negative log-likelihood of ``P(y=1) = σ(θ₀ + X θ₁:)`` and its gradient.

    Parameters
    ----------
    theta : (k + 1,) ndarray of float
        Intercept ``θ₀`` then one coefficient per column of ``X``.
    X : (n, k) ndarray of float
        The regressors.
    y : (n,) ndarray of float
        The 0/1 outcome.

    Returns
    -------
    tuple of (float, (k + 1,) ndarray)
        The mean NLL and its gradient with respect to ``theta``.
    """
    z = theta[0] + X @ theta[1:]
    p = np.exp(-np.logaddexp(0.0, -z))
    r = (p - y) / len(y)
    return float(np.mean(np.logaddexp(0.0, z) - y * z)), np.concatenate([[r.sum()], X.T @ r])


def sink_parents(
    X: np.ndarray,
    y: np.ndarray,
    *,
    allowed: np.ndarray | None = None,
    lambdas: np.ndarray | None = None,
) -> tuple[np.ndarray, float]:
    """Select the parents of the 0/1 sink ``y`` among the columns of ``X`` (standardised).

    Fits the L1 path ``min NLL(θ) + λ|θ₁:|₁`` over ``lambdas`` (default: 12 values from
    ``λ_max``, where no metric enters, down to ``λ_max/100``) with warm starts, refits each
    new support without penalty and keeps the support with the lowest BIC
    ``2n·NLL + |support|·log n``.

    Parameters
    ----------
    X : (n, k) ndarray of float
        The candidate parents, standardised.
    y : (n,) array-like
        The 0/1 label, one value per row of ``X``.
    allowed : (k,) array-like of bool, optional
        Candidates that may be selected (default all).
    lambdas : ndarray of float, optional
        The penalty path, largest first.

    Returns
    -------
    tuple of ((k,) ndarray of bool, float)
        The mask of parents and the ``λ`` chosen.

    Raises
    ------
    InvalidInputError
        When ``y`` is not a 0/1 vector with one value per row of ``X``.
    """
    n, k = X.shape
    y = np.asarray(y, dtype=float)
    if y.shape != (n,) or not np.isin(y, (0.0, 1.0)).all():
        raise InvalidInputError("y must be a 0/1 vector with one value per row of X")
    ok = np.ones(k, dtype=bool) if allowed is None else np.asarray(allowed, dtype=bool)
    p0 = np.clip(y.mean(), 1e-6, 1 - 1e-6)
    if lambdas is None:
        lam_max = float(np.abs(X[:, ok].T @ (y - p0)).max(initial=0.0)) / n
        lambdas = lam_max * np.logspace(0, -2, 12)
    theta = np.concatenate([[np.log(p0 / (1 - p0))], np.zeros(k)])
    free = np.concatenate([[True], ok])

    def fun(t: np.ndarray) -> tuple[float, LazyGradient]:
        f, g = logistic_loss(t, X, y)
        return f, lambda: g

    best_bic, best_mask, best_lam = np.inf, np.zeros(k, dtype=bool), float(lambdas[0])
    seen: set[bytes] = set()
    for lam in lambdas:
        penalty = np.concatenate([[0.0], np.full(k, lam)])
        theta, _, _ = minimize_l1(fun, theta, penalty, free, max_iter=500, tol=1e-8)
        mask = theta[1:] != 0
        if mask.tobytes() in seen:
            continue
        seen.add(mask.tobytes())
        # BIC of the unpenalised refit on this support (the L1 fit is shrunk)
        refit, _, _ = minimize_l1(fun, theta, np.zeros(k + 1), np.concatenate([[True], mask]), max_iter=500,
                                  tol=1e-10)
        bic = 2 * n * logistic_loss(refit, X, y)[0] + mask.sum() * np.log(n)
        if bic < best_bic:
            best_bic, best_mask, best_lam = bic, mask, float(lam)
    return best_mask, best_lam
