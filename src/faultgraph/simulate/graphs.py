"""Random DAGs and linear structural equation models with known ground truth."""

from __future__ import annotations

from typing import Literal

import numpy as np

from faultgraph._graph import is_dag
from faultgraph._validation import as_generator, check_choice
from faultgraph.errors import InvalidInputError, NotADAGError

__all__ = ["simulate_dag", "simulate_lagged_sem", "simulate_linear_sem", "simulate_weights"]

GraphKind = Literal["er", "sf"]
NoiseKind = Literal["gauss", "exp", "gumbel"]


def _permute(B: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    P = rng.permutation(B.shape[0])
    return B[np.ix_(P, P)]


def simulate_dag(
    d: int,
    degree: float,
    kind: GraphKind = "er",
    random_state: int | np.random.Generator | None = None,
) -> np.ndarray:
    """A random DAG as a ``(d, d)`` 0/1 matrix; ``B[i, j] = 1`` is the edge ``i → j``.

    ``degree`` is the expected number of edges per node, so ``kind="er", degree=2`` is
    the "ER2" graph of the NOTEARS (Zheng et al. 2018) and DAGMA (Bello et al. 2022)
    papers with about ``2d`` edges.

    * ``"er"``: Erdős–Rényi, each pair of a random order joined with probability
      ``2·degree/(d−1)``.
    * ``"sf"``: scale-free (Barabási–Albert preferential attachment), each new node
      sending ``round(degree)`` edges into earlier nodes, which become hubs of effects.

    The node order is shuffled, so the index carries no causal order.

    Parameters
    ----------
    d : int
        Number of nodes; ``>= 2``.
    degree : float
        Expected number of edges per node; finite and ``> 0``.
    kind : {"er", "sf"}, default "er"
        The random graph model.
    random_state : int, numpy.random.Generator or None, default None
        Seed or generator; None draws fresh entropy.

    Returns
    -------
    (d, d) ndarray of float
        The 0/1 adjacency matrix of a DAG, no self-loops.

    Raises
    ------
    InvalidInputError
        When ``kind`` is not ``"er"`` or ``"sf"``, ``d`` is not an integer ``>= 2``,
        ``degree`` is not a finite number ``> 0`` or ``random_state`` is of another type.
    """
    kind = check_choice("kind", kind, ("er", "sf"))
    if not isinstance(d, (int, np.integer)) or d < 2:
        raise InvalidInputError(f"d must be an integer >= 2, got {d!r}")
    if not np.isfinite(degree) or degree <= 0:
        raise InvalidInputError(f"degree must be > 0, got {degree!r}")
    rng = as_generator(random_state)
    B = np.zeros((d, d))
    if kind == "er":
        p = min(1.0, 2.0 * degree / (d - 1))
        B = np.triu(rng.random((d, d)) < p, k=1).astype(float)
    else:
        m = max(1, int(round(degree)))
        weight = np.zeros(d)
        for j in range(1, d):
            k = min(m, j)
            p = weight[:j] + 1.0
            targets = rng.choice(j, size=k, replace=False, p=p / p.sum())
            B[j, targets] = 1.0  # new node j -> earlier nodes: hubs collect many causes
            weight[targets] += 1.0
            weight[j] += k
    return _permute(B, rng)


def simulate_weights(
    B: np.ndarray,
    w_ranges: tuple[tuple[float, float], ...] = ((-2.0, -0.5), (0.5, 2.0)),
    random_state: int | np.random.Generator | None = None,
) -> np.ndarray:
    """Weights for the edges of ``B``, drawn uniformly from the union of ``w_ranges``.

    Each edge picks one of the ranges with equal probability, then a weight uniformly
    inside it; non-edges stay 0.

    Parameters
    ----------
    B : (d, d) array-like
        The 0/1 adjacency matrix (``B[i, j] = 1`` is ``i → j``). Not modified.
    w_ranges : tuple of (float, float) pairs, default ((-2.0, -0.5), (0.5, 2.0))
        The ``(low, high)`` intervals to draw from; the default is ``±[0.5, 2]`` as in NOTEARS.
    random_state : int, numpy.random.Generator or None, default None
        Seed or generator.

    Returns
    -------
    (d, d) ndarray of float
        The weighted adjacency matrix ``W``.
    """
    rng = as_generator(random_state)
    B = np.asarray(B, dtype=float)
    which = rng.integers(len(w_ranges), size=B.shape)
    W = np.zeros(B.shape)
    for i, (lo, hi) in enumerate(w_ranges):
        W += B * (which == i) * rng.uniform(lo, hi, size=B.shape)
    return W


def simulate_linear_sem(
    W: np.ndarray,
    n: int,
    noise: NoiseKind = "gauss",
    noise_scale: float | np.ndarray = 1.0,
    random_state: int | np.random.Generator | None = None,
) -> np.ndarray:
    """Draw ``n`` samples of the linear SEM ``X = XW + E`` for a DAG ``W`` (rows are samples).

    The structural equations ``x_j = Σ_i W[i, j] x_i + e_j`` (eq. 3 of CGL-BFI with linear
    ``f_j``) are solved at once, ``X = E (I − W)⁻¹``.

    Parameters
    ----------
    W : (d, d) array-like of float
        Weighted adjacency matrix of a DAG; ``W[i, j]`` is the weight of ``i → j``.
    n : int
        Number of samples; a positive integer.
    noise : {"gauss", "exp", "gumbel"}, default "gauss"
        The noise distribution (standard normal, exponential with scale 1, or Gumbel).
    noise_scale : float or (d,) array-like, default 1.0
        Multiplier of each node's noise: one value (equal variances) or one per node.
    random_state : int, numpy.random.Generator or None, default None
        Seed or generator.

    Returns
    -------
    (n, d) ndarray of float
        The samples.

    Raises
    ------
    InvalidInputError
        When ``noise`` is not one of the choices, ``W`` is not square, ``n`` is not a
        positive integer or ``noise_scale`` has neither one nor ``d`` values.
    NotADAGError
        When ``W`` has a directed cycle.
    """
    noise = check_choice("noise", noise, ("gauss", "exp", "gumbel"))
    W = np.asarray(W, dtype=float)
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise InvalidInputError(f"W must be a square (d, d) weight matrix, got shape {W.shape}")
    if not is_dag(W):
        raise NotADAGError("W must be the weight matrix of a DAG, but it has a directed cycle")
    d = W.shape[0]
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise InvalidInputError(f"n must be a positive integer, got {n!r}")
    try:
        scale = np.broadcast_to(np.asarray(noise_scale, dtype=float), (d,))
    except ValueError:
        raise InvalidInputError(f"noise_scale must be one value or {d} values, got {noise_scale!r}") from None
    rng = as_generator(random_state)
    if noise == "gauss":
        E = rng.normal(size=(n, d))
    elif noise == "exp":
        E = rng.exponential(size=(n, d))
    else:
        E = rng.gumbel(size=(n, d))
    E = E * scale
    # X (I - W) = E  =>  X = E (I - W)^-1: one solve instead of a loop in topological order.
    I_W = np.eye(d) - W
    return np.linalg.solve(I_W.T, E.T).T


def simulate_lagged_sem(
    W: np.ndarray,
    A: np.ndarray,
    n: int,
    noise_scale: float | np.ndarray = 1.0,
    random_state: int | np.random.Generator | None = None,
    burn_in: int = 100,
) -> np.ndarray:
    """Draw a time series ``x_t = x_t W + Σ_l x_{t−l} A[l−1] + ε_t`` (a structural VAR).

    Each step solves the contemporaneous equations, ``x_t = (Σ_l x_{t−l} A[l−1] + ε_t)(I − W)⁻¹``,
    from zeros; the first ``burn_in`` steps are discarded. Gaussian noise.

    Parameters
    ----------
    W : (d, d) array-like of float
        Weights among variables at the same step; must be a DAG.
    A : (p, d, d) array-like of float
        Lagged weights; ``A[l−1][i, j]`` is the weight of ``x_i(t−l) → x_j(t)``. The process
        must be stable.
    n : int
        Number of steps returned.
    noise_scale : float or (d,) array-like, default 1.0
        Standard deviation of each variable's noise: one value or one per variable.
    random_state : int, numpy.random.Generator or None, default None
        Seed or generator.
    burn_in : int, default 100
        Steps simulated and dropped before the record starts.

    Returns
    -------
    (n, d) ndarray of float
        The series, one row per step.

    Raises
    ------
    InvalidInputError
        When ``A`` does not have shape ``(p, d, d)``, or when the process is unstable (values
        not finite or above 1e8 in magnitude).
    NotADAGError
        When ``W`` has a directed cycle.
    """
    W = np.asarray(W, dtype=float)
    A = np.asarray(A, dtype=float)
    if A.ndim != 3 or A.shape[1:] != W.shape:
        raise InvalidInputError(f"A must have shape (p, {W.shape[0]}, {W.shape[0]}), got {A.shape}")
    if not is_dag(W):
        raise NotADAGError("W must be the weight matrix of a DAG, but it has a directed cycle")
    rng = as_generator(random_state)
    d, p = W.shape[0], A.shape[0]
    inv = np.linalg.inv(np.eye(d) - W)
    total = n + burn_in
    E = rng.normal(size=(total, d)) * np.broadcast_to(np.asarray(noise_scale, dtype=float), (d,))
    X = np.zeros((total + p, d))
    for t in range(total):
        past = sum(X[p + t - l] @ A[l - 1] for l in range(1, p + 1))
        X[p + t] = (past + E[t]) @ inv
    if not np.isfinite(X).all() or np.abs(X).max() > 1e8:
        raise InvalidInputError("the lagged SEM is unstable (values explode); use smaller lagged weights")
    return X[p + burn_in :]
