"""Structural equation models: one fitted equation per node of a DAG (the paper's eq. 3)."""

from faultgraph.sem.model import SEM, sigmoid

__all__ = ["SEM", "sigmoid"]
