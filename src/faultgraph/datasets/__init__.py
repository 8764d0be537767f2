"""Loaders for public datasets in their published layouts (read in place, never copied),
and for generic incident case folders."""

from faultgraph.datasets import nezha, petshop, smd
from faultgraph.datasets.case import Case, check_same_metrics, load_case

__all__ = ["Case", "check_same_metrics", "load_case", "nezha", "petshop", "smd"]
