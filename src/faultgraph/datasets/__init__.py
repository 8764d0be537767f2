"""Loaders for public datasets in their published layouts (read in place, never copied),
a downloader that fetches them from their authors, and generic incident case folders."""

from faultgraph.datasets import nezha, petshop, smd
from faultgraph.datasets.case import Case, check_same_metrics, load_case
from faultgraph.datasets.download import DATASETS, Download, download

__all__ = ["DATASETS", "Case", "Download", "check_same_metrics", "download", "load_case", "nezha", "petshop", "smd"]
