"""Greedy refinement of a learned DAG on its least-squares score, from sufficient statistics.

Continuous learners (NOTEARS, DAGMA) solve a non-convex problem and can stop in a poor
local optimum: on scale-free graphs a hub placed before its parents is "explained" by
many spurious edges. A few discrete moves from the learned DAG fix much of it, as in
the hybrid methods that follow a continuous search with a local one (e.g. the greedy
phase of GES, Chickering 2002). The score is the one the learners minimise with an L0
instead of an L1 penalty,

``F(G) = Σ_j RSS_j(Pa_j) / (2n) + λ · |E|``,   ``RSS_j(P)/n = S_jj − S_jP S_PP⁻¹ S_Pj``,

with ``S = XᵀX/n`` (centred), so a move costs a small solve whatever the number of rows.
Moves: delete an edge, add one, reverse one; the best move that keeps the graph acyclic
and respects the prior (allowed and required edges) is applied until none improves
``F``. With ``λ = σ² log(n) / (2n)`` this is the BIC of a linear SEM whose nodes share
the noise variance ``σ²`` (the model the learners' least-squares loss assumes). The
learner takes ``σ²`` from its starting DAG (:func:`noise_variance`), so the penalty is in
the data's units (see ``CHANGELOG.md`` for why).
"""

from __future__ import annotations

import numpy as np

__all__ = ["NEAR_DETERMINISTIC", "noise_variance", "ols_weights", "penalised_score", "refine_dag", "regress", "rss"]

#: A node whose residual variance is below this share of the upper quartile of all
#: nodes' is a near-copy of its parents (a duplicated gauge): :func:`noise_variance`
#: leaves it out.
NEAR_DETERMINISTIC = 1e-4


def regress(S: np.ndarray, j: int, parents: np.ndarray) -> np.ndarray:
    """``S_PP⁻¹ S_Pj``: the least-squares weights of ``x_j`` on ``x_P``, from the second
    moments; collinear regressors (a duplicated metric, fewer rows than parents) get the
    minimum-norm least-squares solution instead of numpy's LinAlgError.

    Parameters
    ----------
    S : (d, d) ndarray of float
        ``XᵀX/n``, the second-moment matrix of the centred data.
    j : int
        The regressed node.
    parents : (m,) ndarray of int
        Indices of the regressors (not empty).

    Returns
    -------
    (m,) ndarray of float
    """
    A = S[np.ix_(parents, parents)]
    try:
        return np.linalg.solve(A, S[parents, j])
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(A, S[parents, j], rcond=None)[0]


def rss(S: np.ndarray, j: int, parents: np.ndarray) -> float:
    """``RSS_j(P)/n = S_jj − S_jP S_PP⁻¹ S_Pj``: the residual variance of ``x_j`` regressed on ``x_P``.

    Parameters
    ----------
    S : (d, d) ndarray of float
        ``XᵀX/n``, the second-moment matrix of the centred data.
    j : int
        The regressed node.
    parents : (m,) ndarray of int
        Indices of the regressors (may be empty: then ``S_jj``).

    Returns
    -------
    float
        The residual variance.
    """
    if parents.size == 0:
        return float(S[j, j])
    return float(S[j, j] - S[parents, j] @ regress(S, j, parents))


def noise_variance(S: np.ndarray, A: np.ndarray) -> float:
    """``σ̂² = median_j RSS_j(Pa_j) / n``: the noise variance the nodes of a linear SEM on ``A`` share.

    Robust both ways: the median, not the mean (the maximum-likelihood estimate), since a
    node whose parents ``A`` misses has a residual variance far above the noise's; and over
    the nodes whose residual variance is above :data:`NEAR_DETERMINISTIC` times the upper
    quartile of all nodes', since near-copies of another metric (duplicated gauges) say
    nothing of the noise and, as the majority, would pull the median to about 0, removing
    the penalty. Copies that are more than three quarters of the nodes still do (then all
    nodes are used).

    Parameters
    ----------
    S : (d, d) ndarray of float
        ``XᵀX/n`` of the centred data.
    A : (d, d) array-like of bool
        The DAG; ``A[i, j]`` true for ``i → j``.

    Returns
    -------
    float
        ``σ̂²``.
    """
    rss_j = np.array([rss(S, j, np.flatnonzero(A[:, j])) for j in range(S.shape[0])])
    informative = rss_j > NEAR_DETERMINISTIC * np.quantile(rss_j, 0.75)
    return float(np.median(rss_j[informative] if informative.any() else rss_j))


def penalised_score(S: np.ndarray, A: np.ndarray, lam: float) -> float:
    """``F(G) = Σ_j RSS_j(Pa_j) / (2n) + λ · |E|`` of the DAG ``A``.

    Parameters
    ----------
    S : (d, d) ndarray of float
        ``XᵀX/n`` of the centred data.
    A : (d, d) array-like of bool
        The DAG; ``A[i, j]`` true for ``i → j``.
    lam : float
        The L0 penalty per edge, in the units of ``RSS/(2n)``.

    Returns
    -------
    float
        The score (lower is better).
    """
    return sum(rss(S, j, np.flatnonzero(A[:, j])) for j in range(S.shape[0])) / 2 + lam * float(np.sum(A))


def ols_weights(S: np.ndarray, A: np.ndarray) -> np.ndarray:
    """Least-squares weights of each node on its parents in ``A`` (``A[i, j]``: ``i → j``).

    Parameters
    ----------
    S : (d, d) ndarray of float
        ``XᵀX/n`` of the centred data.
    A : (d, d) array-like of bool
        The DAG.

    Returns
    -------
    (d, d) ndarray of float
        ``W`` with ``W[P, j] = S_PP⁻¹ S_Pj`` for the parents ``P`` of each ``j``, 0 elsewhere.
    """
    W = np.zeros(S.shape)
    for j in range(S.shape[0]):
        parents = np.flatnonzero(A[:, j])
        if parents.size:
            W[parents, j] = regress(S, j, parents)
    return W


def _node_moves(S: np.ndarray, A: np.ndarray, j: int) -> tuple[np.ndarray, np.ndarray]:
    """For node ``j`` with parents ``P``: the increase of its ``RSS/n`` from deleting each
    node's edge into ``j`` (``inf`` where it is no parent) and the decrease from adding
    each node as a parent (0 where it already is one or is ``j``)."""
    d = S.shape[0]
    P = np.flatnonzero(A[:, j])
    delete = np.full(d, np.inf)
    if P.size:
        inv = np.linalg.inv(S[np.ix_(P, P)])
        beta = inv @ S[P, j]
        delete[P] = beta * beta / np.diag(inv)  # RSS increase when dropping one regressor
        B = inv @ S[P, :]
        r = S[:, j] - S[:, P] @ beta
        v = np.diag(S) - np.einsum("ik,ki->i", S[:, P], B)
    else:
        r, v = S[:, j].copy(), np.diag(S).copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        add = np.where(v > 1e-12 * max(float(S[j, j]), 1e-300), r * r / v, 0.0)
    add[P] = 0.0
    add[j] = 0.0
    return delete, add


def _reaches(A: np.ndarray, source: int, target: int, skip: tuple[int, int] | None = None) -> bool:
    """Whether a directed path ``source ⇝ target`` exists in ``A`` (ignoring edge ``skip``)."""
    seen = np.zeros(A.shape[0], dtype=bool)
    stack = [source]
    seen[source] = True
    while stack:
        u = stack.pop()
        for v in np.flatnonzero(A[u]):
            if skip is not None and (u, v) == skip:
                continue
            if v == target:
                return True
            if not seen[v]:
                seen[v] = True
                stack.append(int(v))
    return False


def refine_dag(
    S: np.ndarray,
    A: np.ndarray,
    *,
    lam: float,
    allowed: np.ndarray | None = None,
    required: np.ndarray | None = None,
    max_moves: int = 10_000,
) -> tuple[np.ndarray, int]:
    """Greedy hill climbing on ``F(G)`` (see the module docstring) from the DAG ``A``.

    Each round applies the move (delete, add or reverse one edge) with the largest
    decrease of ``F`` that keeps the graph acyclic, never adds an edge outside
    ``allowed`` nor deletes or reverses a ``required`` one, and stops when no move
    improves ``F`` or after ``max_moves`` moves.

    Parameters
    ----------
    S : (d, d) ndarray of float
        Centred second moments ``XᵀX/n``.
    A : (d, d) array-like of bool
        The starting DAG (``A[i, j]`` true for ``i → j``). Not modified.
    lam : float
        The L0 penalty per edge, in the units of ``RSS/(2n)``.
    allowed : (d, d) array-like of bool, optional
        Edges that may be added or reversed into (default: all but self-loops).
    required : (d, d) array-like of bool, optional
        Edges never deleted or reversed.
    max_moves : int, default 10000
        A cap on the number of moves.

    Returns
    -------
    tuple of ((d, d) ndarray of bool, int)
        The refined DAG and the number of moves made.
    """
    d = S.shape[0]
    A = np.asarray(A, dtype=bool).copy()
    allowed = np.ones((d, d), dtype=bool) if allowed is None else np.asarray(allowed, dtype=bool)
    required = np.zeros((d, d), dtype=bool) if required is None else np.asarray(required, dtype=bool)
    allowed = allowed & ~np.eye(d, dtype=bool)
    delete, add = np.zeros((d, d)), np.zeros((d, d))  # column j: node j's moves
    for j in range(d):
        delete[:, j], add[:, j] = _node_moves(S, A, j)
    tol = 1e-9 * float(np.mean(np.abs(np.diag(S)))) + 1e-15
    moves = 0
    while moves < max_moves:
        # every candidate's gain (decrease of F), best first; acyclicity checked lazily
        gain_delete = np.where(A & ~required, -delete / 2 + lam, -np.inf)
        gain_add = np.where(~A & ~A.T & allowed, add / 2 - lam, -np.inf)
        gain_reverse = np.where(A & ~required & allowed.T, (add.T - delete) / 2, -np.inf)  # i→j becomes j→i
        gains = np.concatenate([gain_delete.ravel(), gain_add.ravel(), gain_reverse.ravel()])
        top = min(4 * d, gains.size - 1)
        candidates = np.argpartition(-gains, top)[: top + 1]
        order = candidates[np.argsort(-gains[candidates])]
        chosen = None
        for k in order:
            if gains[k] <= tol:
                break
            kind, flat = divmod(int(k), d * d)
            i, j = divmod(flat, d)
            if kind == 0:
                chosen = (kind, i, j)
            elif kind == 1 and not _reaches(A, j, i):
                chosen = (kind, i, j)
            elif kind == 2 and not _reaches(A, i, j, skip=(i, j)):
                chosen = (kind, i, j)
            if chosen is not None:
                break
        if chosen is None:
            break
        kind, i, j = chosen
        if kind == 0:
            A[i, j] = False
        elif kind == 1:
            A[i, j] = True
        else:
            A[i, j], A[j, i] = False, True
        for node in {j, i} if kind == 2 else {j}:
            delete[:, node], add[:, node] = _node_moves(S, A, node)
        moves += 1
    return A, moves
