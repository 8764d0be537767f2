"""Exporting a learned causal graph to GraphML and DOT, for other tools."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # networkx loads only when a graph is exported, not with every command
    import networkx as nx

__all__ = ["graph_to_networkx", "to_dot", "to_graphml"]


def graph_to_networkx(nodes: Sequence[str], adjacency: np.ndarray,
                      lagged: np.ndarray | None = None) -> nx.MultiDiGraph:
    """A networkx ``MultiDiGraph`` of a learned graph: every edge, with ``weight`` and ``lag``.

    Same-step edges get ``lag=0``, lagged ones their lag (``>= 1``; a metric's edge from its
    own past is a self-loop); a pair joined at several lags has an edge for each, keyed by
    its lag. Needs networkx.

    Parameters
    ----------
    nodes : sequence of str
        The node names, in the order of the matrices.
    adjacency : (d, d) ndarray of float
        Same-step weights; ``adjacency[i, j] != 0`` is the edge ``i → j``.
    lagged : (p, d, d) ndarray of float, optional
        Lagged weights; ``lagged[l − 1, i, j]`` acts from ``x_i(t − l)`` on ``x_j(t)``.

    Returns
    -------
    networkx.MultiDiGraph
        Every node, and one edge per nonzero weight (``key`` = ``lag``).
    """
    import networkx as nx

    G = nx.MultiDiGraph()
    G.add_nodes_from(nodes)
    for i, j in zip(*np.nonzero(adjacency)):
        G.add_edge(nodes[i], nodes[j], key=0, weight=float(adjacency[i, j]), lag=0)
    if lagged is not None and lagged.size:
        for lag, i, j in zip(*np.nonzero(lagged)):
            G.add_edge(nodes[i], nodes[j], key=int(lag) + 1, weight=float(lagged[lag, i, j]), lag=int(lag) + 1)
    return G


def to_graphml(G: nx.MultiDiGraph) -> str:
    """GraphML text of ``G`` (networkx's writer), ending with a newline.

    Parameters
    ----------
    G : networkx.MultiDiGraph
        The graph, as :func:`graph_to_networkx` builds it.

    Returns
    -------
    str
        The GraphML document.
    """
    import networkx as nx

    return "\n".join(nx.generate_graphml(G)) + "\n"


def _quote(value: object) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(G: nx.MultiDiGraph) -> str:
    """Graphviz DOT text; edges are labelled with their weight and, if lagged, ``(t-lag)``.

    Names and labels are quoted (backslashes and quotes escaped); weights are written with
    a sign and two decimals.

    Parameters
    ----------
    G : networkx.DiGraph or networkx.MultiDiGraph
        The graph, with ``weight`` (and optionally ``lag``) on every edge, as
        :func:`graph_to_networkx` builds it.

    Returns
    -------
    str
        The ``digraph faultgraph { … }`` document, ending with a newline.
    """
    lines = ["digraph faultgraph {"] + [f"  {_quote(n)};" for n in G.nodes]
    for a, b, data in G.edges(data=True):
        label = f"{data['weight']:+.2f}" + (f" (t-{data['lag']})" if data.get("lag") else "")
        lines.append(f"  {_quote(a)} -> {_quote(b)} [label={_quote(label)}];")
    return "\n".join(lines + ["}"]) + "\n"
