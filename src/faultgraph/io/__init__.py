"""Reading what users have (metrics files) and writing results safely (atomic JSON and CSV)."""

from faultgraph.io.atomic import write_csv_atomic, write_json_atomic, write_text_atomic
from faultgraph.io.graph_export import graph_to_networkx, to_dot, to_graphml
from faultgraph.io.metrics import read_metrics, to_metric_frame
from faultgraph.io.model import SCHEMA_VERSION, load_model_dir, save_model_dir

__all__ = [
    "SCHEMA_VERSION",
    "graph_to_networkx",
    "load_model_dir",
    "read_metrics",
    "save_model_dir",
    "to_dot",
    "to_graphml",
    "to_metric_frame",
    "write_csv_atomic",
    "write_json_atomic",
    "write_text_atomic",
]
