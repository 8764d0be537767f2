"""From continuous weights to a DAG: thresholding and breaking any remaining cycle."""

from __future__ import annotations

import numpy as np

from faultgraph._graph import find_cycle

__all__ = ["break_cycles", "threshold_lag_groups", "threshold_weights"]


def threshold_weights(W: np.ndarray, threshold: float, keep: np.ndarray | None = None) -> np.ndarray:
    """A copy of ``W`` with weights ``|W_ij| < threshold`` set to zero, except where ``keep``.

    Parameters
    ----------
    W : ndarray of float
        The weights, any shape (``(d, d)`` or stacked lags). Not modified.
    threshold : float
        Smallest absolute weight kept.
    keep : ndarray of bool, optional
        Same shape as ``W``; weights marked are never dropped (required edges).

    Returns
    -------
    ndarray of float
        The thresholded copy.
    """
    out = np.where(np.abs(W) >= threshold, W, 0.0)
    if keep is not None:
        out[keep] = W[keep]
    return out


def threshold_lag_groups(W: np.ndarray, n_vars: int, threshold: float, keep: np.ndarray | None = None) -> np.ndarray:
    """Threshold the stacked weights of a lagged model pair by pair.

    ``W = [W_0; W_1; …; W_p]``, each block ``(d, d)``: ``W_l[i, j]`` acts from
    ``x_i(t − l)`` on ``x_j(t)``. An effect that takes a varying time to arrive (jittered
    samples, queueing) spreads its weight over neighbouring lags, each share below
    ``threshold``. So a weight is kept when ``|W_l[i, j]| >= threshold``, or when the
    pair's weights over all lags sum (in absolute value) to at least ``threshold`` and this
    one is at least ``threshold / (p + 1)``. With ``p = 0`` this is
    :func:`threshold_weights`.

    Parameters
    ----------
    W : ((p + 1) d, d) ndarray of float
        The stacked weights. Not modified.
    n_vars : int
        ``d``, the number of present-time variables.
    threshold : float
        Smallest absolute weight (or lag-summed weight) kept.
    keep : ((p + 1) d, d) ndarray of bool, optional
        Weights never dropped.

    Returns
    -------
    ndarray of float
        The thresholded copy, shape of ``W``.
    """
    blocks = np.abs(W).reshape(-1, n_vars, n_vars)
    group = blocks.sum(axis=0)
    floor = threshold / blocks.shape[0]
    kept = (blocks >= threshold) | ((group >= threshold)[None] & (blocks >= floor))
    out = np.where(kept.reshape(W.shape), W, 0.0)
    if keep is not None:
        out[keep] = W[keep]
    return out


def break_cycles(
    W: np.ndarray, keep: np.ndarray | None = None
) -> tuple[np.ndarray, list[tuple[int, int, float]]]:
    """Drop the weakest edge of each directed cycle until ``W`` is a DAG.

    Repeatedly finds a directed cycle and sets its smallest ``|weight|`` edge (not marked
    in ``keep``) to zero.

    Parameters
    ----------
    W : (d, d) ndarray of float
        Weighted adjacency matrix, ``W[i, j] != 0`` for ``i → j``. Not modified.
    keep : (d, d) ndarray of bool, optional
        Edges required by a prior, never dropped.

    Returns
    -------
    tuple of ((d, d) ndarray, list of (int, int, float))
        The DAG (a copy) and the dropped edges as ``(i, j, weight)`` in the order they
        were dropped.

    Raises
    ------
    ValueError
        When a cycle is made only of kept edges (priors are checked to be acyclic before).
    """
    W = W.copy()
    dropped: list[tuple[int, int, float]] = []
    while (cycle := find_cycle(W)) is not None:
        candidates = [(i, j) for i, j in cycle if keep is None or not keep[i, j]]
        if not candidates:  # pragma: no cover - priors are checked to be acyclic
            raise ValueError("a cycle made only of required edges cannot be broken")
        i, j = min(candidates, key=lambda e: abs(W[e]))
        dropped.append((i, j, float(W[i, j])))
        W[i, j] = 0.0
    return W, dropped
