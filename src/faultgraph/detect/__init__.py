"""Fault detection: with labels (the paper's supervised setting) and, later, without."""

from faultgraph.detect.supervised import FaultIdentifier

__all__ = ["FaultIdentifier"]
