"""Metrics that say how good a result is: graph accuracy, classification and detection scores."""

from faultgraph.evaluate.classification import (
    ClassificationScores,
    best_f1_threshold,
    classification_scores,
    pr_auc,
    roc_auc,
    table1,
)
from faultgraph.evaluate.detection import DetectionReport, detection_report, label_segments, point_adjust
from faultgraph.evaluate.graph import GraphAccuracy, graph_accuracy
from faultgraph.evaluate.ranking import ac_at_k, avg_at_k, hit_rate, ndcg

__all__ = [
    "ClassificationScores",
    "DetectionReport",
    "GraphAccuracy",
    "ac_at_k",
    "avg_at_k",
    "best_f1_threshold",
    "classification_scores",
    "detection_report",
    "graph_accuracy",
    "hit_rate",
    "label_segments",
    "ndcg",
    "point_adjust",
    "pr_auc",
    "roc_auc",
    "table1",
]
