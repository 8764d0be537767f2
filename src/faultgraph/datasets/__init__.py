"""Loaders for public datasets in their published layouts (read in place, never copied)."""

from faultgraph.datasets import smd

__all__ = ["smd"]
