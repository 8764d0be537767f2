"""Reading what users have (metrics files) and writing results safely (atomic JSON)."""

from faultgraph.io.atomic import write_json_atomic, write_text_atomic
from faultgraph.io.metrics import read_metrics, to_metric_frame

__all__ = ["read_metrics", "to_metric_frame", "write_json_atomic", "write_text_atomic"]
