"""OWL-QN: L-BFGS for ``f(W) + Σ lambda1_ij |W_ij|``, shared by the learners.

Orthant-wise limited-memory quasi-Newton (Andrew and Gao 2007, "Scalable training of
L1-regularized log-linear models"). It works on ``W`` itself (``d²`` variables, where
the ``W = W⁺ − W⁻`` split of the NOTEARS reference needs ``2d²`` and a bound-constrained
solver), and its backtracking line search rejects points where ``f`` is infinite,
which is how barrier objectives such as DAGMA's log-det stay inside their domain.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.linalg.blas import daxpy as _axpy

__all__: list[str] = []

#: Returns the gradient, or None if the point turns out to lie outside the domain.
LazyGradient = Callable[[], "np.ndarray | None"]
#: ``fun(W) -> (f, gradient)``: the value now, the gradient only if the point is accepted.
Objective = Callable[[np.ndarray], tuple[float, LazyGradient]]


def _pseudo_gradient(w: np.ndarray, g: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """The minimum-norm subgradient of ``f + Σ lam |w|`` (zero where no descent exists)."""
    # Away from zero: g + lam·sign(w). At zero: the soft-threshold sign(g)·max(|g| − lam, 0).
    at_zero = np.sign(g) * np.maximum(np.abs(g) - lam, 0.0)
    return np.where(w == 0, at_zero, g + lam * np.sign(w))


def minimize_l1(
    fun: Objective,
    W0: np.ndarray,
    lambda1: np.ndarray,
    allowed: np.ndarray,
    *,
    max_iter: int,
    tol: float,
    max_step: float = 1.0,
    memory: int = 10,
    precondition: np.ndarray | None = None,
) -> tuple[np.ndarray, int, bool]:
    """Minimise ``fun(W) + Σ lambda1 ∘ |W|`` with ``W_ij = 0`` wherever not ``allowed``.

    OWL-QN (Andrew and Gao 2007): L-BFGS directions restricted to the orthant of the
    pseudo-gradient, with a backtracking line search that projects onto that orthant and
    rejects points where ``f`` is infinite. Stops when the relative decrease of the
    objective over one iteration (relative to the objective's own size, in any units)
    falls below ``tol`` twice in a row, when no descent direction remains, or after
    ``max_iter`` iterations.

    Parameters
    ----------
    fun : callable
        ``fun(W) -> (f, gradient)`` where ``gradient()`` computes ``∇f`` (or returns None
        for a point outside the domain); it is called only for accepted steps, so rejected
        trial points cost a value, not a gradient. ``f`` may be infinite outside the domain.
    W0 : ndarray
        The starting point, any shape; must lie inside the domain. Not modified.
    lambda1 : ndarray
        L1 weight of each entry, shape of ``W0``; ``>= 0``.
    allowed : ndarray of bool
        Free entries, shape of ``W0``; the others are held at 0.
    max_iter : int
        Iterations at most.
    tol : float
        Relative decrease of the objective below which (twice in a row) it stops.
    max_step : float, default 1.0
        The largest change of one weight in the first iteration.
    memory : int, default 10
        Number of L-BFGS correction pairs kept.
    precondition : (r, r) ndarray, optional
        A symmetric positive definite ``P`` (``r = W0.shape[0]``) that sets the initial
        inverse-Hessian guess to ``γ P`` acting on each column of ``W`` (for the
        least-squares loss, whose Hessian acts as ``V ↦ S V``, ``P = S⁻¹`` is exact);
        without it the guess is the usual ``γ I``. Applied in single precision.

    Returns
    -------
    tuple of (ndarray, int, bool)
        ``(W, n_iterations, converged)``.

    Raises
    ------
    ValueError
        When ``W0`` lies outside the objective's domain.
    """
    shape = W0.shape
    free = allowed.ravel().astype(bool)
    lam = lambda1.ravel()[free]

    def F(w: np.ndarray) -> tuple[float, Callable[[], np.ndarray | None]]:
        W = np.zeros(shape)
        W.ravel()[free] = w
        f, gradient = fun(W)
        if not np.isfinite(f):
            return float("inf"), lambda: None

        def grad_free() -> np.ndarray | None:
            G = gradient()
            return None if G is None else G.ravel()[free]

        return f + float(lam @ np.abs(w)), grad_free

    w = W0.ravel()[free].copy()
    f, grad0 = F(w)
    g = grad0()
    if not np.isfinite(f) or g is None:
        raise ValueError("the starting point is outside the objective's domain")
    # The preconditioner only shapes the search direction, so single precision is
    # enough for it and halves the cost of its two matrix products per iteration. P and
    # each vector are scaled to a largest entry of 1 first: data in units of 1e19 or
    # 1e-25 (S⁻¹ near 1e-38 or 1e50) would underflow or overflow float32.
    P32, P_scale = None, 1.0
    if precondition is not None:
        P = np.asarray(precondition, dtype=float)
        P_scale = float(np.abs(P).max()) or 1.0
        P32 = (P / P_scale).astype(np.float32)

    def apply_P(v: np.ndarray) -> np.ndarray:
        if P32 is None:
            return v
        v_scale = float(np.abs(v).max())
        if v_scale == 0.0:
            return np.zeros_like(v)
        V = np.zeros(shape, dtype=np.float32)
        V.ravel()[free] = v / v_scale
        return (P32 @ V).ravel()[free].astype(np.float64) * (v_scale * P_scale)

    S_hist: list[np.ndarray] = []
    Y_hist: list[np.ndarray] = []
    rho_hist: list[float] = []
    converged, small, it, gamma = False, 0, 0, 1.0
    for it in range(1, max_iter + 1):
        pg = _pseudo_gradient(w, g, lam)
        if not np.any(pg):
            converged = True
            break
        # Two-loop recursion: direction = -H pg.
        q = pg.copy()
        alphas = []
        for s_k, y_k, r_k in zip(reversed(S_hist), reversed(Y_hist), reversed(rho_hist)):
            a = r_k * float(s_k @ q)
            alphas.append(a)
            q = _axpy(y_k, q, a=-a)  # in place: q -= a y_k
        q = apply_P(q)
        if S_hist:
            q *= gamma
        else:
            q *= max_step / float(np.abs(q).max())
        for (s_k, y_k, r_k), a in zip(zip(S_hist, Y_hist, rho_hist), reversed(alphas)):
            q = _axpy(s_k, q, a=a - r_k * float(y_k @ q))
        direction = -q
        direction[direction * pg >= 0] = 0.0  # keep to the descent orthant of pg
        if not np.any(direction):
            converged = True
            break
        orthant = np.where(w != 0, np.sign(w), -np.sign(pg))
        # Backtracking line search along the projected path.
        t, descent = 1.0, float(pg @ direction)
        while True:
            w_new = w + t * direction
            w_new[np.sign(w_new) != orthant] = 0.0
            f_new, grad_new = F(w_new)
            accept = f_new <= f + 1e-4 * float(pg @ (w_new - w))
            g_new = grad_new() if accept else None  # the gradient only where the step is taken
            if accept and g_new is None:
                f_new = float("inf")  # outside the domain after all
            if (accept and g_new is not None) or t < 1e-12:
                break
            if np.isfinite(f_new):  # minimiser of the quadratic through f, its slope and f_new
                t_q = -descent * t * t / (2.0 * (f_new - f - descent * t))
                t = min(0.5 * t, max(0.1 * t, t_q))
            else:
                t *= 0.5
        if g_new is None or not np.isfinite(f_new) or f_new > f:
            converged = True  # no further progress possible at this precision
            break
        s_k, y_k = w_new - w, g_new - g
        sy = float(s_k @ y_k)
        if sy > 1e-12 * float(y_k @ y_k):
            S_hist.append(s_k)
            Y_hist.append(y_k)
            rho_hist.append(1.0 / sy)
            yPy = float(y_k @ apply_P(y_k))
            if yPy > 0 and np.isfinite(yPy):  # else keep the last scale
                gamma = sy / yPy
            if len(S_hist) > memory:
                S_hist.pop(0), Y_hist.pop(0), rho_hist.pop(0)
        # relative to the objective itself, whatever its units: a floor of 1 would make
        # it an absolute tolerance for data of small scale (a loss of 0.01 stopped early)
        scale = max(abs(f), abs(f_new))
        rel = (f - f_new) / scale if scale > 0 else 0.0
        w, f, g = w_new, f_new, g_new
        small = small + 1 if rel <= tol else 0
        if small >= 2 or descent == 0:
            converged = True
            break
    W = np.zeros(shape)
    W.ravel()[free] = w
    return W, it, converged
