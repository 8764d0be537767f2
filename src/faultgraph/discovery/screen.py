"""Large graphs on one machine: screened candidate parents and an ordering by conditional
variance, from sparse pieces of the sufficient statistics.

The continuous learners cost ``O(d³)`` per iteration (a ``d × d`` inverse or matrix
exponential), which puts d = 2,000 out of reach. This learner does the same job in three
cheap steps, all from ``S = XᵀX/n``:

1. **Screen** each node's candidate parents: the nodes whose partial correlation with it
   (from ``Θ = S⁻¹``) is significant (Fisher's z, Bonferroni over the ``d(d−1)/2``
   pairs) — its estimated Markov blanket, which holds its parents (Meinshausen and
   Bühlmann 2006) — and its few most correlated nodes. One ``d × d`` inverse; with too
   few rows for it (``n < d + 30``), the marginal correlations instead.
2. **Order** the nodes top-down by conditional variance (Chen, Drton and Wang 2019): next
   comes the node whose variance given the nodes already placed is least. Under a linear
   SEM whose noises share one variance ``σ²`` – the model the least-squares loss of NOTEARS
   and DAGMA assumes – a node whose parents are all placed has exactly ``σ²`` and any other
   more, and conditioning on the placed nodes *among its candidates* gives the same
   answer, so each step only refits the few nodes that have the placed node as a
   candidate: small solves on ``S[P, P]`` blocks, never a ``d × d`` one.
3. **Regress** each node on its candidates placed before it (least squares; a placed
   non-parent in its Markov blanket gets weight zero in the population), and leave
   thresholding, the prior's required edges and the greedy refinement to
   :class:`~faultgraph.discovery.StructureLearner`.

With lags, the past variables are candidates of the present only, placed before every
present one (:func:`screened_linear`).

Like the continuous learners on raw data, it relies on the shared noise variance; on
standardised data (unequal variances) the order, and so the graph, is much worse (see
``benchmarks/results/large_graphs.md``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from faultgraph.discovery.backend import inverse
from faultgraph.discovery.optimizers import OptimizerResult
from faultgraph.discovery.refine import regress, rss
from faultgraph._validation import check_whole
from faultgraph.errors import InvalidInputError

__all__ = ["candidate_parents", "conditional_variance_order", "screened_linear"]

#: Rows beyond the number of metrics below which partial correlations are not used.
MIN_SPARE_ROWS = 30


def _normal_quantile(p: float) -> float:
    from scipy.stats import norm

    return float(norm.isf(p))


def candidate_parents(S: np.ndarray, n: int, *, alpha: float = 0.5, marginal_top: int = 3,
                      max_candidates: int | None = None, allowed: np.ndarray | None = None,
                      device: str | None = None) -> np.ndarray:
    """The screened candidate parents: ``C[i, j]`` when ``x_i`` may be a parent of ``x_j``.

    Parameters
    ----------
    S : ndarray of shape (d, d)
        The second-moment matrix ``XᵀX/n`` of centred data.
    n : int
        Rows behind ``S``.
    alpha : float, default 0.5
        Family-wise level of the screening tests (Bonferroni over the pairs), in (0, 1).
    marginal_top : int, default 3
        Also each node's this many most correlated nodes (both ways): a parent whose
        partial correlation nearly cancels (its paths through the node's children and their
        other parents) is still a candidate. Extra candidates cost little: a placed
        non-parent gets weight zero, and the order stays right (it conditions on placed
        nodes only, none of them a descendant). See CHANGELOG.md for how 3 was chosen.
    max_candidates : int or None, default None
        Keep at most this many per node (the strongest); ``None``: all.
    allowed : ndarray of bool, shape (d, d), optional
        Edges the prior allows (others are never candidates).
    device : str or None, default None
        Where to invert ``S`` (:mod:`~faultgraph.discovery.backend`: ``None`` NumPy,
        ``'cuda'`` a GPU through PyTorch).

    Returns
    -------
    ndarray of bool, shape (d, d)
        Symmetric but for ``allowed``, no diagonal.

    Raises
    ------
    InvalidInputError
        When ``alpha`` is outside (0, 1), ``marginal_top`` is not an integer >= 0,
        ``max_candidates`` is not an integer >= 1 or None, or ``device`` cannot be used.
    """
    d = S.shape[0]
    if not 0 < alpha < 1:
        raise InvalidInputError(f"alpha must lie in (0, 1), got {alpha!r}")
    check_whole("marginal_top", marginal_top, 0)
    check_whole("max_candidates", max_candidates, 1, optional=True)
    sd = np.sqrt(np.maximum(np.diag(S), 1e-300))
    pairs = max(d * (d - 1) // 2, 1)
    z_crit = _normal_quantile(alpha / (2 * pairs))
    if n - d >= MIN_SPARE_ROWS:
        ridge = 1e-10 * float(np.trace(S)) / d
        theta = inverse(S + ridge * np.eye(d), device=device)
        t = np.sqrt(np.maximum(np.diag(theta), 1e-300))
        r = -theta / np.outer(t, t)
        dof = n - d - 1  # Fisher's z of a partial correlation given d − 2 others
    else:
        r = S / np.outer(sd, sd)
        dof = n - 3
    np.fill_diagonal(r, 0.0)
    z = np.arctanh(np.clip(np.abs(r), 0.0, 1 - 1e-12)) * np.sqrt(max(dof, 1))
    C = z > z_crit
    if marginal_top:
        corr = np.abs(S / np.outer(sd, sd))
        np.fill_diagonal(corr, -1.0)
        top = np.argsort(-corr, axis=0, kind="stable")[:min(int(marginal_top), d - 1)]
        columns = np.broadcast_to(np.arange(d), top.shape)
        C[top, columns] = True
        C[columns, top] = True
        z = np.where(C & ~(z > z_crit), z_crit, z)  # ranked with the weakest tested ones under a cap
    if allowed is not None:
        C &= np.asarray(allowed, dtype=bool)
    if max_candidates is not None:
        strength = np.where(C, z, -np.inf)
        for j in np.flatnonzero(C.sum(axis=0) > max_candidates):
            weakest = np.argsort(-strength[:, j], kind="stable")[max_candidates:]
            C[weakest, j] = False
    return C


def conditional_variance_order(S: np.ndarray, C: np.ndarray, *, required: np.ndarray | None = None,
                               callback: Callable[[dict[str, Any]], None] | None = None,
                               n_vars: int | None = None) -> np.ndarray:
    """A topological order, top-down: next the node whose variance given the placed nodes
    among its candidates ``C[:, j]`` is least (ties: the lower index).

    Parameters
    ----------
    S : ndarray of shape (k, k)
        Second-moment matrix (``k = d`` without lags).
    C : ndarray of bool, shape (k, d) or (k, k)
        Candidate parents (``C[i, j]``: ``i`` may be a parent of ``j``; columns past ``d``
        are ignored).
    required : ndarray of bool, shape (k, d) or (k, k), optional
        Edges that must be kept: a node comes after its required parents.
    callback : callable or None, default None
        Called with ``{"step", "steps", "h"}`` (``h`` always 0.0) about every ``d // 20``
        placed nodes.
    n_vars : int or None, default None
        With lags, the number ``d`` of present-time variables: ``S`` and ``C`` then span
        ``k = d·(p + 1)`` variables whose first ``d`` are the present and the rest their
        past, placed before every present one (time orders them; they are never children).
        ``None``: all ``S.shape[0]`` are present-time.

    Returns
    -------
    ndarray of int, shape (d,)
        The order of the present-time variables (sources first).

    Raises
    ------
    InvalidInputError
        When the required edges form a cycle.
    """
    k = S.shape[0]
    d = k if n_vars is None else int(n_vars)
    C = np.asarray(C, dtype=bool)[:, :d]
    req = np.zeros((k, d), dtype=bool) if required is None else np.asarray(required, dtype=bool)[:, :d]
    candidates = [np.flatnonzero(C[:, j] | req[:, j]) for j in range(d)]
    dependants = [np.flatnonzero(C[i, :] | req[i, :]) for i in range(d)]
    waiting = req[:d].sum(axis=0).astype(int)
    placed = np.zeros(k, dtype=bool)
    placed[d:] = True  # the past comes first
    condvar = np.diag(S)[:d].astype(float).copy()
    for j in range(d) if d < k else ():
        P = candidates[j][placed[candidates[j]]]
        condvar[j] = rss(S, j, P)
    order = np.empty(d, dtype=int)
    for step in range(d):
        open_ = ~placed[:d] & (waiting == 0)
        if not open_.any():
            raise InvalidInputError("the required edges of the prior form a cycle; no order can respect them")
        j = int(np.argmin(np.where(open_, condvar, np.inf)))
        placed[j] = True
        order[step] = j
        waiting[req[j]] -= 1
        for i in dependants[j]:
            if not placed[i]:
                P = candidates[i][placed[candidates[i]]]
                condvar[i] = rss(S, i, P)
        if callback is not None and (step + 1) % max(d // 20, 1) == 0:
            callback({"step": step + 1, "steps": d, "h": 0.0})
    return order


def screened_linear(S: np.ndarray, *, lambda1: float = 0.0, n_vars: int | None = None,
                    allowed: np.ndarray | None = None, unpenalized: np.ndarray | None = None,
                    n_samples: int, alpha: float = 0.5, max_candidates: int | None = None,
                    callback: Callable[[dict[str, Any]], None] | None = None, device: str | None = None,
                    **_: Any) -> OptimizerResult:
    """A DAG's weights from ``S`` by screening, ordering and least squares (the module's
    three steps), with the optimisers' signature, so :class:`StructureLearner` can use it
    in their place (``screen=True``). The result is acyclic by construction (``h = 0``).

    With lags (``S`` over ``k = d·(p + 1)`` variables, the present first, as
    :func:`~faultgraph.discovery.lagged_design` stacks them), the past enters as parents
    only: each present variable's candidates are screened among the present *and* the
    lagged variables (one screen over all ``k``), the lagged ones are placed before every
    present one (time orients those edges), and each present variable is regressed on its
    lagged candidates and its present candidates placed before it. Weights are then
    ``(k, d)``, as the continuous learners' with lags. Solves with more candidates than
    the rows can carry, or collinear ones, get a ridge of ``1e-9`` times the mean variance.

    Parameters
    ----------
    S : ndarray of shape (k, k)
        Second-moment matrix; ``k = d`` without lags, else ``d·(p + 1)``.
    lambda1 : float, default 0.0
        Not used (the screen's tests and the learner's threshold do its work); accepted
        for the optimisers' signature.
    n_vars : int or None, default None
        ``d``, the number of present-time variables (``None``: ``k``); ``k`` must be a
        multiple of it.
    allowed, unpenalized : ndarray of bool, shape (k, d), optional
        The prior's allowed and required edges (rows: present, then lagged variables).
    n_samples : int
        Rows behind ``S`` (the screen's tests need it).
    alpha, max_candidates, device
        The screen's (:func:`candidate_parents`); ``max_candidates`` counts a present
        variable's candidates among all ``k``.
    callback : callable or None, default None
        Progress of the ordering (:func:`conditional_variance_order`).
    **_
        Other optimiser options, ignored.

    Returns
    -------
    OptimizerResult
        The weights ``W`` of shape ``(k, d)`` (each present node regressed on its placed
        candidates and required parents), ``h = 0``, the least-squares loss, 0 outer
        iterations, ``d`` steps, converged.

    Raises
    ------
    InvalidInputError
        When ``S`` is not square, ``n_vars`` does not divide its size, or the screen's
        options are invalid (see :func:`candidate_parents`).
    """
    if S.ndim != 2 or S.shape[0] != S.shape[1]:
        raise InvalidInputError(f"S must be a square (d, d) matrix, got shape {S.shape}")
    k = S.shape[0]
    d = k if n_vars is None else int(n_vars)
    if d < 1 or k % d:
        raise InvalidInputError(f"n_vars must divide the size of S ({k}: d present-time variables x (lags + 1)), "
                                f"got {n_vars!r}")
    ok = np.ones((k, d), dtype=bool) if allowed is None else np.asarray(allowed, dtype=bool)
    req = np.zeros((k, d), dtype=bool) if unpenalized is None else np.asarray(unpenalized, dtype=bool)
    if k > d:  # lags: the past screened as parents of the present, never as children
        S = S + 1e-9 * float(np.mean(np.diag(S))) * np.eye(k)
        full = np.zeros((k, k), dtype=bool)
        full[:, :d] = ok
        C = candidate_parents(S, n_samples, alpha=alpha, max_candidates=max_candidates, allowed=full,
                              device=device)[:, :d]
    else:
        C = candidate_parents(S, n_samples, alpha=alpha, max_candidates=max_candidates, allowed=ok, device=device)
    order = conditional_variance_order(S, C, required=req, callback=callback, n_vars=d)
    position = np.full(k, -1, dtype=int)  # the past before everything
    position[order] = np.arange(d)
    W = np.zeros((k, d))
    for j in range(d):
        P = np.flatnonzero(((C[:, j] & ok[:, j]) | req[:, j]) & (position < position[j]))
        if P.size:
            W[P, j] = regress(S, j, P)
    R = -W
    R[np.arange(d), np.arange(d)] += 1.0
    loss = 0.5 * float(np.sum(R * (S @ R)))
    return OptimizerResult(W, 0.0, loss, 0, d, True)
