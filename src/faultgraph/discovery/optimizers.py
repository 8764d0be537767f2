"""NOTEARS and DAGMA for linear SEMs, working from the second-moment matrix ``S = XᵀX/n``.

Both return the unthresholded weight matrix; thresholding, priors and the guarantee
of a DAG live in :mod:`faultgraph.discovery.learner`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from faultgraph.discovery._owlqn import LazyGradient, minimize_l1
from faultgraph.discovery.functions import h_expm, h_logdet, least_squares_loss, logdet_factor, logdet_gradient
from faultgraph.errors import InvalidInputError

__all__ = ["OptimizerResult", "dagma_linear", "notears_linear"]

Callback = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class OptimizerResult:
    """What a continuous optimiser returns.

    Attributes:
        W: ``(d, d)`` learned weights, unthresholded.
        h: the acyclicity value ``h(W)`` of the returned ``W`` (the optimiser's own form).
        loss: the least-squares loss of ``W``.
        n_iter: quasi-Newton iterations summed over all sub-problems.
        n_outer: outer iterations (central-path steps or dual ascent steps).
        converged: whether ``h`` reached ``h_tol``.
    """

    W: np.ndarray
    h: float
    loss: float
    n_iter: int
    n_outer: int
    converged: bool


def _masks(S: np.ndarray, allowed: np.ndarray | None, unpenalized: np.ndarray | None, lambda1: float):
    d = S.shape[0]
    if S.ndim != 2 or S.shape != (d, d):
        raise InvalidInputError(f"S must be a square (d, d) matrix, got shape {S.shape}")
    if lambda1 < 0 or not np.isfinite(lambda1):
        raise InvalidInputError(f"lambda1 must be >= 0, got {lambda1}")
    ok = np.ones((d, d), dtype=bool) if allowed is None else np.asarray(allowed, dtype=bool).copy()
    np.fill_diagonal(ok, False)
    lam = np.full((d, d), float(lambda1))
    if unpenalized is not None:
        lam[np.asarray(unpenalized, dtype=bool)] = 0.0
    return ok, lam


def _inverse_moments(S: np.ndarray) -> np.ndarray:
    """``S⁻¹`` (with a tiny ridge if ``S`` is near singular): the loss's exact inverse Hessian."""
    d = S.shape[0]
    ridge = 1e-8 * max(float(np.trace(S)) / d, 1e-12)
    return np.linalg.inv(S + ridge * np.eye(d))


def dagma_linear(
    S: np.ndarray,
    *,
    lambda1: float = 0.03,
    allowed: np.ndarray | None = None,
    unpenalized: np.ndarray | None = None,
    T: int = 5,
    mu_init: float = 1.0,
    mu_factor: float = 0.1,
    s: float | Sequence[float] = (1.0, 0.9, 0.8, 0.7, 0.6),
    max_iter: int = 2000,
    tol: float = 1e-5,
    warm_tol: float = 1e-4,
    h_tol: float = 1e-4,
    callback: Callback | None = None,
) -> OptimizerResult:
    """DAGMA: minimise ``mu (loss(W) + lambda1 |W|₁) + h_s(W)`` along a central path ``mu → 0``.

    ``h_s(W) = −log det(sI − W∘W) + d log s`` (Bello, Aragam and Ravikumar 2022,
    "DAGMA: Learning DAGs via M-matrices and a Log-Determinant Acyclicity
    Characterization", Algorithm 1). Each sub-problem, divided by ``mu``, is solved to
    optimality with L-BFGS-B on ``W = W⁺ − W⁻`` with OWL-QN (the reference uses Adam), warm-started
    from the previous one, which is what makes this implementation fast.

    Args:
        S: ``(d, d)`` second-moment matrix ``XᵀX/n`` of centred data.
        lambda1: L1 penalty weight, >= 0.
        allowed: ``(d, d)`` boolean; ``False`` fixes an edge at zero (priors).
        unpenalized: ``(d, d)`` boolean; ``True`` exempts an edge from the L1 penalty
            (required edges).
        T: number of central-path steps; ``mu_init`` and ``mu_factor`` set ``mu``.
        s: the log-det parameter for each step (a sequence of length ``T`` or one value).
        max_iter: quasi-Newton iterations allowed per step.
        tol: the last step ends when the objective falls by less than this fraction
            twice in a row; ``warm_tol`` does the same for the earlier steps, whose
            solutions only warm-start the next one.
        h_tol: the final ``h`` below which the result counts as converged.
        callback: called after each step with ``{"step", "steps", "mu", "h", "loss"}``.
    """
    S = np.asarray(S, dtype=np.float64)
    ok, lam = _masks(S, allowed, unpenalized, lambda1)
    if T < 1:
        raise InvalidInputError(f"T must be >= 1, got {T}")
    s_seq = [float(s)] * T if np.isscalar(s) else [float(v) for v in s]  # type: ignore[arg-type]
    if len(s_seq) != T or min(s_seq) <= 0:
        raise InvalidInputError(f"s must be one positive value or {T} positive values, got {s!r}")
    d = S.shape[0]
    P = _inverse_moments(S)
    W = np.zeros((d, d))
    mu, n_iter = float(mu_init), 0
    for step, s_t in enumerate(s_seq):
        inv_mu = 1.0 / mu

        def fun(V: np.ndarray, s_t: float = s_t, inv_mu: float = inv_mu) -> tuple[float, LazyGradient]:
            factor = logdet_factor(V, s_t)
            if factor is None:
                return float("inf"), lambda: None
            f, Gf = least_squares_loss(V, S)

            def gradient() -> np.ndarray | None:
                Gh = logdet_gradient(V, factor)
                return None if Gh is None else Gf + inv_mu * Gh

            return f + inv_mu * factor[0], gradient

        # A warm start from a larger s can lie outside the domain of a smaller s.
        while not np.isfinite(h_logdet(W, s_t)[0]):
            W = 0.5 * W
        last = step == T - 1
        W, nit, _ = minimize_l1(fun, W, lam, ok, max_iter=max_iter, tol=tol if last else warm_tol,
                                max_step=1e-2, precondition=P)
        n_iter += nit
        if callback is not None:
            callback({"step": step + 1, "steps": T, "mu": mu, "h": h_logdet(W, s_t)[0],
                      "loss": least_squares_loss(W, S)[0]})
        mu *= mu_factor
    h_final = h_logdet(W, s_seq[-1])[0]
    return OptimizerResult(W, h_final, least_squares_loss(W, S)[0], n_iter, T, bool(h_final <= h_tol))


def notears_linear(
    S: np.ndarray,
    *,
    lambda1: float = 0.1,
    allowed: np.ndarray | None = None,
    unpenalized: np.ndarray | None = None,
    max_outer: int = 100,
    h_tol: float = 1e-8,
    rho_max: float = 1e16,
    max_iter: int = 2000,
    tol: float = 1e-6,
    callback: Callback | None = None,
) -> OptimizerResult:
    """NOTEARS: ``min loss(W) + lambda1 |W|₁`` subject to ``h(W) = tr(exp(W∘W)) − d = 0``.

    Augmented Lagrangian ``loss + lambda1|W|₁ + rho/2 h² + alpha h`` with dual ascent
    ``alpha ← alpha + rho h`` and ``rho ← 10 rho`` until ``h`` falls by a factor 4
    (Zheng, Aragam, Ravikumar and Xing 2018, "DAGs with NO TEARS", Algorithm 1);
    sub-problems by OWL-QN, a quasi-Newton method for L1 penalties.

    Args:
        S: ``(d, d)`` second-moment matrix ``XᵀX/n`` of centred data.
        lambda1: L1 penalty weight, >= 0.
        allowed, unpenalized: as in :func:`dagma_linear`.
        max_outer: dual-ascent steps at most.
        h_tol: stop once ``h(W) <= h_tol``; ``rho_max`` stops the penalty growing.
        max_iter, tol: per sub-problem, as in :func:`dagma_linear`.
        callback: called after each dual step with ``{"step", "steps", "rho", "h", "loss"}``.
    """
    S = np.asarray(S, dtype=np.float64)
    ok, lam = _masks(S, allowed, unpenalized, lambda1)
    d = S.shape[0]
    P = _inverse_moments(S)
    W = np.zeros((d, d))
    rho, alpha, h, n_iter, outer = 1.0, 0.0, np.inf, 0, 0
    for outer in range(1, max_outer + 1):
        while rho < rho_max:

            def fun(V: np.ndarray, rho: float = rho, alpha: float = alpha) -> tuple[float, LazyGradient]:
                f, Gf = least_squares_loss(V, S)
                hv, Gh = h_expm(V)
                G = Gf + (rho * hv + alpha) * Gh
                return f + 0.5 * rho * hv * hv + alpha * hv, lambda: G

            W_new, nit, _ = minimize_l1(fun, W, lam, ok, max_iter=max_iter, tol=tol, precondition=P)
            n_iter += nit
            h_new = h_expm(W_new)[0]
            if h_new > 0.25 * h:
                rho *= 10.0
            else:
                break
        W, h = W_new, h_new
        alpha += rho * h
        if callback is not None:
            callback({"step": outer, "steps": max_outer, "rho": rho, "h": h,
                      "loss": least_squares_loss(W, S)[0]})
        if h <= h_tol or rho >= rho_max:
            break
    return OptimizerResult(W, h, least_squares_loss(W, S)[0], n_iter, outer, bool(h <= h_tol))
