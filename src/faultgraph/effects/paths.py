"""Dominant propagation paths: the strongest directed chains from a cause to a symptom."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from faultgraph.errors import InvalidInputError
from faultgraph.sem import SEM

__all__ = ["PropagationPath", "propagation_paths", "strongest_path"]


@dataclass(frozen=True)
class PropagationPath:
    """A directed path and its path-specific effect (product of the edge coefficients).

    For a 0/1 target the last coefficient is on the logit scale; it is multiplied by the
    mean of ``p(1 − p)`` over the training rows, which turns it into an average effect
    on the probability.
    """

    nodes: tuple[str, ...]
    effect: float

    def to_dict(self) -> dict[str, object]:
        return {"nodes": list(self.nodes), "effect": self.effect}

    def __str__(self) -> str:
        return " -> ".join(self.nodes) + f"  ({self.effect:+.4f})"


def _edge_effect(sem: SEM, parent: str, child: str) -> float:
    coef = float(sem.coef_[child][sem.parents_[child].index(parent)])
    if sem.node_kind_[child] == "logistic":
        P = sem.data_[sem.parents_[child]].to_numpy()
        p = sem.mean(child, P)
        coef *= float(np.mean(p * (1 - p)))
    return coef


def propagation_paths(sem: SEM, source: str, target: str, k: int = 3) -> tuple[PropagationPath, ...]:
    """The ``k`` directed paths from ``source`` to ``target`` with the largest |effect|.

    Exact top-k by dynamic programming in topological order: each node keeps its ``k``
    strongest partial paths from ``source`` (|product| is multiplicative, so the best
    extensions of a node come from its best partial paths). O(k · edges).

    Parameters
    ----------
    sem : SEM
        A fitted SEM; an edge's effect is its coefficient (scaled to the probability
        scale for a 0/1 child, see :class:`PropagationPath`).
    source : str
        The cause node.
    target : str
        The symptom node; must differ from ``source``.
    k : int, default 3
        How many paths at most; positive.

    Returns
    -------
    tuple of PropagationPath
        Strongest |effect| first; empty when ``target`` is not reachable from ``source``.

    Raises
    ------
    InvalidInputError
        When ``source`` or ``target`` is not a node of the SEM, they are the same node, or
        ``k`` is not a positive integer.
    """
    sem.check_node(source, "source")
    sem.check_node(target, "target")
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise InvalidInputError(f"k must be a positive integer, got {k!r}")
    if source == target:
        raise InvalidInputError(f"source and target must differ, both are {target!r}")
    best: dict[str, list[tuple[float, tuple[str, ...]]]] = {source: [(1.0, (source,))]}
    for node in sem.order_:
        if node == source:
            continue
        candidates = [
            (effect * _edge_effect(sem, parent, node), path + (node,))
            for parent in sem.parents_[node] if parent in best
            for effect, path in best[parent]
        ]
        if candidates:
            best[node] = sorted(candidates, key=lambda c: -abs(c[0]))[:k]
    return tuple(PropagationPath(path, float(effect)) for effect, path in best.get(target, []))


def strongest_path(W: np.ndarray, source: int, target: int) -> list[int]:
    """The simple path ``source → target`` with the largest product of |weights|, each
    counted at most 1.

    Dijkstra on −log min(|w|, 1): a stronger edge costs nothing, so among paths of such
    edges the one found is not necessarily the largest product. Self-loops are ignored.

    Parameters
    ----------
    W : numpy.ndarray
        ``(d, d)`` weights, ``W[i, j]`` the edge ``i → j`` (0: no edge); may hold cycles.
    source : int
        Index of the first node.
    target : int
        Index of the last node.

    Returns
    -------
    list of int
        Node indices from ``source`` to ``target``; empty when ``target`` is unreachable.
    """
    import heapq

    A = np.abs(W)
    np.fill_diagonal(A, 0.0)
    cost = np.full(A.shape[0], np.inf)
    prev = np.full(A.shape[0], -1)
    cost[source] = 0.0
    heap = [(0.0, source)]
    while heap:
        c, u = heapq.heappop(heap)
        if c > cost[u]:
            continue
        if u == target:
            break
        for v in np.flatnonzero(A[u]):
            step = -np.log(min(A[u, v], 1.0 - 1e-12)) if A[u, v] < 1 else 0.0
            if c + step < cost[v]:
                cost[v], prev[v] = c + step, u
                heapq.heappush(heap, (c + step, int(v)))
    if not np.isfinite(cost[target]):
        return []
    path, v = [target], target
    while v != source:
        v = int(prev[v])
        path.append(v)
    return path[::-1]
