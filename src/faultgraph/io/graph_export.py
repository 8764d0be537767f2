"""Exporting a learned causal graph to GraphML and DOT, for other tools."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # networkx loads only when a graph is exported, not with every command
    import networkx as nx

__all__ = ["graph_to_networkx", "to_dot", "to_graphml"]


def graph_to_networkx(nodes: Sequence[str], adjacency: np.ndarray, lagged: np.ndarray | None = None) -> nx.DiGraph:
    """A ``DiGraph`` with ``weight`` and ``lag`` (0: same step) on every edge; a lagged edge
    is added only where no same-step edge joins the pair (the strongest lag wins)."""
    import networkx as nx

    G = nx.DiGraph()
    G.add_nodes_from(nodes)
    for i, j in zip(*np.nonzero(adjacency)):
        G.add_edge(nodes[i], nodes[j], weight=float(adjacency[i, j]), lag=0)
    if lagged is not None and lagged.size:
        for lag, i, j in sorted(zip(*np.nonzero(lagged)), key=lambda e: -abs(lagged[e])):
            if not G.has_edge(nodes[i], nodes[j]):
                G.add_edge(nodes[i], nodes[j], weight=float(lagged[lag, i, j]), lag=int(lag) + 1)
    return G


def to_graphml(G: nx.DiGraph) -> str:
    """GraphML text (networkx's writer)."""
    import networkx as nx

    return "\n".join(nx.generate_graphml(G)) + "\n"


def _quote(value: object) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(G: nx.DiGraph) -> str:
    """Graphviz DOT text; edges are labelled with their weight and, if lagged, ``(t-lag)``."""
    lines = ["digraph faultgraph {"] + [f"  {_quote(n)};" for n in G.nodes]
    for a, b, data in G.edges(data=True):
        label = f"{data['weight']:+.2f}" + (f" (t-{data['lag']})" if data.get("lag") else "")
        lines.append(f"  {_quote(a)} -> {_quote(b)} [label={_quote(label)}];")
    return "\n".join(lines + ["}"]) + "\n"
