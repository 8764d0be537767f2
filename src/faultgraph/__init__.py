"""faultgraph: find the faults in a backend system and explain them with a learned causal graph.

An implementation of CGL-BFI (causal graph learning for interpretable fault
identification): encode monitoring metrics, learn a weighted DAG under a
differentiable acyclicity constraint (NOTEARS or DAGMA), and, in later stages,
quantify effects by intervention and rank root causes.
"""

from faultgraph.discovery import LearnedGraph, PriorKnowledge, StructureLearner
from faultgraph.encode import MetricEncoder
from faultgraph.errors import (
    ConvergenceWarning,
    DataScaleWarning,
    DownloadError,
    FaultgraphError,
    InvalidInputError,
    NotADAGError,
    NotFittedError,
    SamplingWarning,
)
from faultgraph.evaluate import graph_accuracy
from faultgraph.io import read_metrics

__version__ = "0.1.0"

__all__ = [
    "ConvergenceWarning",
    "DataScaleWarning",
    "DownloadError",
    "FaultgraphError",
    "InvalidInputError",
    "LearnedGraph",
    "MetricEncoder",
    "NotADAGError",
    "NotFittedError",
    "PriorKnowledge",
    "SamplingWarning",
    "StructureLearner",
    "__version__",
    "graph_accuracy",
    "read_metrics",
]
