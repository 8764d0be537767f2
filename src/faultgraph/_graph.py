"""Small graph utilities on adjacency matrices (``A[i, j] != 0`` is the edge ``i → j``)."""

from __future__ import annotations

import numpy as np

__all__: list[str] = []


def topological_order(A: np.ndarray) -> list[int] | None:
    """A topological order of the nodes, or None if the graph has a cycle (Kahn's algorithm).

    Parameters
    ----------
    A : (d, d) array-like
        Adjacency matrix; ``A[i, j] != 0`` is the edge ``i → j`` (a self-loop is a cycle).

    Returns
    -------
    list of int or None
        Node indices, every edge's source before its target; None when ``A`` has a cycle.
    """
    E = np.asarray(A) != 0
    indeg = E.sum(axis=0)
    order: list[int] = []
    ready = list(np.flatnonzero(indeg == 0))
    while ready:
        i = ready.pop()
        order.append(int(i))
        for j in np.flatnonzero(E[i]):
            indeg[j] -= 1
            if indeg[j] == 0:
                ready.append(j)
    return order if len(order) == E.shape[0] else None


def is_dag(A: np.ndarray) -> bool:
    """Whether the directed graph with adjacency ``A`` has no cycle.

    Parameters
    ----------
    A : (d, d) array-like
        Adjacency matrix; ``A[i, j] != 0`` is the edge ``i → j``.

    Returns
    -------
    bool
        True for a DAG (no self-loop either).
    """
    return topological_order(A) is not None


def find_cycle(A: np.ndarray) -> list[tuple[int, int]] | None:
    """The edges of one directed cycle of ``A``, or None if ``A`` is acyclic (depth-first search).

    Parameters
    ----------
    A : (d, d) array-like
        Adjacency matrix; ``A[i, j] != 0`` is the edge ``i → j``.

    Returns
    -------
    list of (int, int) or None
        The cycle's edges ``(i, j)`` in path order, each ending where the next begins and
        the last ending where the first begins; None for a DAG.
    """
    E = np.asarray(A) != 0
    d = E.shape[0]
    state = np.zeros(d, dtype=np.int8)  # 0 new, 1 on stack, 2 done
    parent = np.full(d, -1)
    for root in range(d):
        if state[root]:
            continue
        stack = [(root, iter(np.flatnonzero(E[root])))]
        state[root] = 1
        while stack:
            node, children = stack[-1]
            for child in children:
                if state[child] == 0:
                    state[child], parent[child] = 1, node
                    stack.append((child, iter(np.flatnonzero(E[child]))))
                    break
                if state[child] == 1:  # back edge closes a cycle
                    cycle, v = [(int(node), int(child))], int(node)
                    while v != child:
                        cycle.append((int(parent[v]), v))
                        v = int(parent[v])
                    return cycle[::-1]
            else:
                state[node] = 2
                stack.pop()
    return None
