"""Metrics that say how good a result is: graph accuracy and detection scores."""

from faultgraph.evaluate.classification import (
    ClassificationScores,
    best_f1_threshold,
    classification_scores,
    pr_auc,
    roc_auc,
    table1,
)
from faultgraph.evaluate.graph import GraphAccuracy, graph_accuracy

__all__ = [
    "ClassificationScores",
    "GraphAccuracy",
    "best_f1_threshold",
    "classification_scores",
    "graph_accuracy",
    "pr_auc",
    "roc_auc",
    "table1",
]
