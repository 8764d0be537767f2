"""Metrics that say how good a result is: graph accuracy (and, later, detection and ranking)."""

from faultgraph.evaluate.graph import GraphAccuracy, graph_accuracy

__all__ = ["GraphAccuracy", "graph_accuracy"]
