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

    Attributes
    ----------
    W : (k, d) ndarray
        Learned weights, unthresholded (``W[:d]`` among present variables).
    h : float
        The acyclicity value ``h(W)`` of the returned ``W`` (the optimiser's own form).
    loss : float
        The least-squares loss of ``W``.
    n_iter : int
        Quasi-Newton iterations summed over all sub-problems.
    n_outer : int
        Outer iterations (central-path steps or dual ascent steps).
    converged : bool
        Whether ``h`` reached ``h_tol``.
    """

    W: np.ndarray
    h: float
    loss: float
    n_iter: int
    n_outer: int
    converged: bool


def _masks(
    S: np.ndarray, n_vars: int | None, allowed: np.ndarray | None, unpenalized: np.ndarray | None, lambda1: float
) -> tuple[int, np.ndarray, np.ndarray]:
    """Check ``S`` and build the ``(k, d)`` masks; ``d = n_vars`` present-time variables."""
    if S.ndim != 2 or S.shape[0] != S.shape[1]:
        raise InvalidInputError(f"S must be a square (k, k) matrix, got shape {S.shape}")
    if not np.isfinite(S).all():  # a NaN weight never halves back into DAGMA's domain: the solve would not end
        raise InvalidInputError("S holds NaN or infinite values (a variance that under- or overflowed: rescale the "
                                "data)")
    k = S.shape[0]
    d = k if n_vars is None else int(n_vars)
    if not 1 <= d <= k:
        raise InvalidInputError(f"n_vars must lie in [1, {k}], got {n_vars!r}")
    if lambda1 < 0 or not np.isfinite(lambda1):
        raise InvalidInputError(f"lambda1 must be >= 0, got {lambda1}")
    ok = np.ones((k, d), dtype=bool) if allowed is None else np.asarray(allowed, dtype=bool).copy()
    if ok.shape != (k, d):
        raise InvalidInputError(f"allowed must have shape {(k, d)}, got {ok.shape}")
    ok[np.arange(d), np.arange(d)] = False  # no self-loops among present-time variables
    lam = np.full((k, d), float(lambda1))
    if unpenalized is not None:
        lam[np.asarray(unpenalized, dtype=bool)] = 0.0
    return d, ok, lam


def _start(S: np.ndarray, d: int, allowed: np.ndarray) -> np.ndarray:
    """The starting point: zero, but for a tiny push along the upper triangle of the
    present-time block. From exactly zero, two variables that are each other's mirror
    (equal variances, as after standardising) give a symmetric problem whose symmetric
    path ends at a saddle with both directions near zero; the push breaks the tie."""
    W = np.zeros((S.shape[0], d))
    W[:d] = 1e-3 * np.triu(np.sign(S[:d, :d]), k=1)
    return W * allowed


def _inverse_moments(S: np.ndarray) -> np.ndarray:
    """``S⁻¹`` (with a tiny ridge if ``S`` is near singular): the loss's exact inverse Hessian."""
    d = S.shape[0]
    ridge = 1e-8 * max(float(np.trace(S)) / d, 1e-12)
    return np.linalg.inv(S + ridge * np.eye(d))


def dagma_linear(
    S: np.ndarray,
    *,
    lambda1: float = 0.03,
    n_vars: int | None = None,
    allowed: np.ndarray | None = None,
    unpenalized: np.ndarray | None = None,
    T: int = 5,
    mu_init: float = 1.0,
    mu_factor: float = 0.1,
    s: float | Sequence[float] = (1.0, 0.9, 0.8, 0.7, 0.6),
    max_iter: int = 2000,
    tol: float | None = None,
    warm_tol: float = 1e-4,
    h_tol: float = 1e-4,
    callback: Callback | None = None,
) -> OptimizerResult:
    """DAGMA: minimise ``mu (loss(W) + lambda1 |W|₁) + h_s(W)`` along a central path ``mu → 0``.

    ``h_s(W) = −log det(sI − W∘W) + d log s`` (Bello, Aragam and Ravikumar 2022,
    "DAGMA: Learning DAGs via M-matrices and a Log-Determinant Acyclicity
    Characterization", Algorithm 1). Each sub-problem, divided by ``mu``, is solved with
    OWL-QN, a quasi-Newton method for L1 penalties working on ``W`` directly (the
    reference uses Adam), preconditioned by ``S⁻¹`` and warm-started from the previous
    one, which is what makes this implementation fast. A warm start outside the domain of
    the next ``s`` is halved until it lies inside.

    Parameters
    ----------
    S : (k, k) array-like of float
        Second-moment matrix ``ZᵀZ/n`` of the centred candidate space
        ``Z = [X_t, X_{t−1}, …]``: the ``d = n_vars`` present-time variables first, then
        any lagged copies (``k = d`` without lags).
    lambda1 : float, default 0.03
        L1 penalty weight; finite and ``>= 0``.
    n_vars : int, optional
        Number of present-time variables ``d`` in ``[1, k]`` (default ``k``). The weights
        are ``(k, d)``: rows ``:d`` the DAG among present variables, under the acyclicity
        constraint; the lagged rows are unconstrained, since the past can only cause the
        present (as in DYNOTEARS, Pamfil et al. 2020).
    allowed : (k, d) array-like of bool, optional
        ``False`` fixes an edge at zero (priors); self-loops are always excluded.
    unpenalized : (k, d) array-like of bool, optional
        ``True`` exempts an edge from the L1 penalty (required edges).
    T : int, default 5
        Number of central-path steps; ``>= 1``.
    mu_init : float, default 1.0
        ``mu`` of the first step.
    mu_factor : float, default 0.1
        ``mu`` is multiplied by this after each step.
    s : float or sequence of float, default (1.0, 0.9, 0.8, 0.7, 0.6)
        The log-det parameter for each step: one positive value, or ``T`` of them.
    max_iter : int, default 2000
        Quasi-Newton iterations allowed per step.
    tol : float, optional
        The last step ends when the objective falls by less than this fraction twice in a
        row. Default: 1e-6, or 1e-5 above 200 candidate variables, where each iteration
        costs O(d³) (see ``benchmarks/results/discovery.md``).
    warm_tol : float, default 1e-4
        The same for the earlier steps, whose solutions only warm-start the next one.
    h_tol : float, default 1e-4
        The final ``h`` below which the result counts as converged.
    callback : callable, optional
        Called after each step with ``{"step", "steps", "mu", "h", "loss"}``.

    Returns
    -------
    OptimizerResult
        The ``(k, d)`` weights, final ``h_s``, loss, iterations, ``T`` and whether
        ``h <= h_tol``.

    Raises
    ------
    InvalidInputError
        When ``S`` is not square, ``n_vars`` is outside ``[1, k]``, ``lambda1`` is negative
        or not finite, ``allowed`` has the wrong shape, ``T < 1``, or ``s`` is not one
        positive value or ``T`` positive values.
    """
    S = np.asarray(S, dtype=np.float64)
    d, ok, lam = _masks(S, n_vars, allowed, unpenalized, lambda1)
    if tol is None:
        tol = 1e-6 if S.shape[0] <= 200 else 1e-5
    if T < 1:
        raise InvalidInputError(f"T must be >= 1, got {T}")
    s_seq = [float(s)] * T if np.isscalar(s) else [float(v) for v in s]  # type: ignore[arg-type]
    if len(s_seq) != T or min(s_seq) <= 0:
        raise InvalidInputError(f"s must be one positive value or {T} positive values, got {s!r}")
    P = _inverse_moments(S)
    W = _start(S, d, ok)
    mu, n_iter = float(mu_init), 0
    for step, s_t in enumerate(s_seq):
        inv_mu = 1.0 / mu

        def fun(V: np.ndarray, s_t: float = s_t, inv_mu: float = inv_mu) -> tuple[float, LazyGradient]:
            factor = logdet_factor(V[:d], s_t)
            if factor is None:
                return float("inf"), lambda: None
            f, Gf = least_squares_loss(V, S)

            def gradient() -> np.ndarray | None:
                Gh = logdet_gradient(V[:d], factor)
                if Gh is None:
                    return None
                Gf[:d] += inv_mu * Gh
                return Gf

            return f + inv_mu * factor[0], gradient

        # A warm start from a larger s can lie outside the domain of a smaller s.
        while not np.isfinite(h_logdet(W[:d], s_t)[0]):
            W = 0.5 * W
        last = step == T - 1
        W, nit, _ = minimize_l1(fun, W, lam, ok, max_iter=max_iter, tol=tol if last else warm_tol,
                                max_step=1e-2, precondition=P)
        n_iter += nit
        if callback is not None:
            callback({"step": step + 1, "steps": T, "mu": mu, "h": h_logdet(W[:d], s_t)[0],
                      "loss": least_squares_loss(W, S)[0]})
        mu *= mu_factor
    h_final = h_logdet(W[:d], s_seq[-1])[0]
    return OptimizerResult(W, h_final, least_squares_loss(W, S)[0], n_iter, T, bool(h_final <= h_tol))


def notears_linear(
    S: np.ndarray,
    *,
    lambda1: float = 0.1,
    n_vars: int | None = None,
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

    Parameters
    ----------
    S : (k, k) array-like of float
        The candidate space's second moments, as in :func:`dagma_linear`.
    lambda1 : float, default 0.1
        L1 penalty weight; finite and ``>= 0``.
    n_vars : int, optional
        Present-time variables ``d`` in ``[1, k]``, as in :func:`dagma_linear`.
    allowed : (k, d) array-like of bool, optional
        ``False`` fixes an edge at zero.
    unpenalized : (k, d) array-like of bool, optional
        ``True`` exempts an edge from the L1 penalty.
    max_outer : int, default 100
        Dual-ascent steps at most.
    h_tol : float, default 1e-8
        Stop once ``h(W) <= h_tol`` (and count as converged).
    rho_max : float, default 1e16
        Stop once the penalty ``rho`` reaches this.
    max_iter : int, default 2000
        Quasi-Newton iterations per sub-problem.
    tol : float, default 1e-6
        Relative decrease of the objective below which a sub-problem ends (twice in a row).
    callback : callable, optional
        Called after each dual step with ``{"step", "steps", "rho", "h", "loss"}``.

    Returns
    -------
    OptimizerResult
        The weights, final ``h``, loss, iterations, outer steps and whether ``h <= h_tol``.

    Raises
    ------
    InvalidInputError
        When ``S`` is not square, ``n_vars`` is outside ``[1, k]``, ``lambda1`` is negative
        or not finite, or ``allowed`` has the wrong shape.
    """
    S = np.asarray(S, dtype=np.float64)
    d, ok, lam = _masks(S, n_vars, allowed, unpenalized, lambda1)
    P = _inverse_moments(S)
    W = _start(S, d, ok)
    rho, alpha, h, n_iter, outer = 1.0, 0.0, np.inf, 0, 0
    for outer in range(1, max_outer + 1):
        while rho < rho_max:

            def fun(V: np.ndarray, rho: float = rho, alpha: float = alpha) -> tuple[float, LazyGradient]:
                f, Gf = least_squares_loss(V, S)
                hv, Gh = h_expm(V[:d])
                Gf[:d] += (rho * hv + alpha) * Gh
                return f + 0.5 * rho * hv * hv + alpha * hv, lambda: Gf

            W_new, nit, _ = minimize_l1(fun, W, lam, ok, max_iter=max_iter, tol=tol, precondition=P)
            n_iter += nit
            h_new = h_expm(W_new[:d])[0]
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
