"""faultgraph: find the faults in a backend system and explain them with a learned causal graph.

An implementation of CGL-BFI (causal graph learning for interpretable fault
identification): encode monitoring metrics, learn a weighted DAG under a
differentiable acyclicity constraint (NOTEARS or DAGMA), quantify effects by
intervention and rank root causes.

The names below are imported on first use (PEP 562), so ``import faultgraph`` and the
command line start without loading NumPy, pandas or SciPy.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> the module that defines it
_LAZY = {
    "LearnedGraph": "faultgraph.discovery",
    "PriorKnowledge": "faultgraph.discovery",
    "StructureLearner": "faultgraph.discovery",
    "MetricEncoder": "faultgraph.encode",
    "ConvergenceWarning": "faultgraph.errors",
    "DataScaleWarning": "faultgraph.errors",
    "DownloadError": "faultgraph.errors",
    "FaultgraphError": "faultgraph.errors",
    "InvalidInputError": "faultgraph.errors",
    "NotADAGError": "faultgraph.errors",
    "NotFittedError": "faultgraph.errors",
    "SamplingWarning": "faultgraph.errors",
    "graph_accuracy": "faultgraph.evaluate",
    "read_metrics": "faultgraph.io",
}

__all__ = sorted([*_LAZY, "__version__"])

if TYPE_CHECKING:  # pragma: no cover
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


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value  # once
        return value
    raise AttributeError(f"module 'faultgraph' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
