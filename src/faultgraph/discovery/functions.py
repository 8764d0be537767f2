"""The pieces of the structure-learning objective, as small pure functions.

Each returns ``(value, gradient)`` with the gradient taken with respect to ``W``, a
``(d, d)`` weighted adjacency matrix in which ``W[i, j] != 0`` means the edge
``x_i -> x_j``. Names follow the papers: ``W``, ``S``, ``h``, ``s``.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla

__all__ = ["h_expm", "h_logdet", "least_squares_loss", "logdet_factor", "logdet_gradient"]

# LAPACK's LU factorisation and inverse, called directly: for the small matrices of
# this package the Python wrappers of scipy.linalg cost more than the arithmetic.
_getrf, _getri = sla.get_lapack_funcs(("getrf", "getri"), (np.empty((1, 1)),))


def least_squares_loss(W: np.ndarray, S: np.ndarray) -> tuple[float, np.ndarray]:
    """Least-squares score of a linear SEM, from sufficient statistics.

    ``loss(W) = 1/(2n) ||X − XW||_F² = ½ tr((I − W)ᵀ S (I − W))`` with gradient
    ``−S (I − W)``, where ``S = XᵀX / n`` is the second-moment matrix of the centred data
    (Zheng et al. 2018, eq. 4; Bello et al. 2022, sec. 5). The cost is O(d³) whatever the
    number of samples ``n``.

    With lags, ``S`` is the ``(k, k)`` moment matrix of ``Z = [X_t, X_{t−1}, …]`` and
    ``W`` is ``(k, d)``: the loss is ``1/(2n) ||X_t − Z W||²`` and ``I`` becomes the
    first ``d`` columns of the ``(k, k)`` identity.

    Parameters
    ----------
    W : (k, d) ndarray of float
        Weights; ``W[i, j]`` is the weight of ``z_i → x_j`` (``k = d`` without lags).
    S : (k, k) ndarray of float
        ``ZᵀZ/n``, the second-moment matrix of the centred candidate space, present-time
        variables first.

    Returns
    -------
    tuple of (float, (k, d) ndarray)
        The loss and its gradient with respect to ``W``.
    """
    d = W.shape[1]
    R = S[:, :d] - S @ W  # S (E − W), E = the first d columns of I
    loss = 0.5 * (float(np.trace(R[:d])) - float(np.vdot(W, R)))  # ½ tr((E − W)ᵀ R)
    return loss, -R


def h_expm(W: np.ndarray) -> tuple[float, np.ndarray]:
    """NOTEARS acyclicity: ``h(W) = tr(exp(W∘W)) − d``, zero exactly on DAGs.

    Gradient ``exp(W∘W)ᵀ ∘ 2W`` (Zheng et al. 2018, "DAGs with NO TEARS", eq. 8;
    CGL-BFI eq. 2 with ``A = W∘W``).

    Parameters
    ----------
    W : (d, d) ndarray of float
        Weighted adjacency matrix; ``W[i, j] != 0`` is the edge ``x_i → x_j``.

    Returns
    -------
    tuple of (float, (d, d) ndarray)
        ``h(W) >= 0`` and its gradient.
    """
    E = sla.expm(W * W)
    return float(np.trace(E) - W.shape[0]), E.T * (2.0 * W)


def h_logdet(W: np.ndarray, s: float = 1.0) -> tuple[float, np.ndarray]:
    """DAGMA acyclicity: ``h_s(W) = −log det(sI − W∘W) + d log s``, zero exactly on DAGs.

    Gradient ``2 W ∘ (sI − W∘W)⁻ᵀ`` (Bello et al. 2022, "DAGMA", eq. 5). Defined on
    the set where ``sI − W∘W`` is an M-matrix (spectral radius of ``W∘W`` below
    ``s``).

    Parameters
    ----------
    W : (d, d) ndarray of float
        Weighted adjacency matrix; ``W[i, j] != 0`` is the edge ``x_i → x_j``.
    s : float, default 1.0
        The log-det parameter; ``> 0``.

    Returns
    -------
    tuple of (float, (d, d) ndarray)
        ``h_s(W)`` and its gradient; ``(inf, NaN array)`` outside the domain.
    """
    factor = logdet_factor(W, s)
    G = None if factor is None else logdet_gradient(W, factor)
    if factor is None or G is None:
        return float("inf"), np.full_like(W, np.nan)
    return factor[0], G


def logdet_factor(W: np.ndarray, s: float) -> tuple[float, np.ndarray, np.ndarray] | None:
    """``(h_s(W), lu, piv)`` from one LU factorisation of ``sI − W∘W``.

    The cheap half of :func:`h_logdet` (O(d³/3)): enough for a line search to reject a
    point. ``det > 0`` is necessary, not sufficient, for the domain;
    :func:`logdet_gradient` completes the check.

    Parameters
    ----------
    W : (d, d) ndarray of float
        Weighted adjacency matrix among present-time variables.
    s : float
        The log-det parameter; ``> 0``.

    Returns
    -------
    tuple of (float, ndarray, ndarray) or None
        ``h_s(W)`` and LAPACK's ``getrf`` factors (``lu``, ``piv``), or None where
        ``sI − W∘W`` is singular or ``det(sI − W∘W) <= 0``.
    """
    d = W.shape[0]
    M = W * W
    np.negative(M, out=M)
    M.flat[:: d + 1] += s  # sI − W∘W without building I
    lu, piv, info = _getrf(M)
    if info != 0:  # exactly singular: on the boundary of the domain
        return None
    diag = np.diag(lu)
    sign = np.prod(np.sign(diag)) * (-1.0) ** int(np.count_nonzero(piv != np.arange(d)))
    if sign <= 0:
        return None
    return -float(np.sum(np.log(np.abs(diag)))) + d * np.log(s), lu, piv


def logdet_gradient(W: np.ndarray, factor: tuple[float, np.ndarray, np.ndarray]) -> np.ndarray | None:
    """``2 W ∘ (sI − W∘W)⁻ᵀ`` from :func:`logdet_factor`'s LU, or None outside the domain.

    An M-matrix has an entrywise non-negative inverse; outside the domain it has not, so
    an inverse with an entry below ``−1e-10`` (relative to its mean diagonal, at least 1)
    marks the point as outside.

    Parameters
    ----------
    W : (d, d) ndarray of float
        The weights passed to :func:`logdet_factor`.
    factor : tuple of (float, ndarray, ndarray)
        :func:`logdet_factor`'s output for ``W`` (not None).

    Returns
    -------
    (d, d) ndarray or None
        The gradient of ``h_s``, or None outside the domain.
    """
    Minv, info = _getri(factor[1], factor[2])
    # LAPACK returns Fortran order, so Minv.T is C-contiguous like W: the product is fast.
    MinvT = Minv.T
    if info != 0 or MinvT.min() < -1e-10 * max(1.0, float(np.trace(MinvT)) / W.shape[0]):
        return None
    G = np.multiply(W, MinvT)
    G *= 2.0
    return G
