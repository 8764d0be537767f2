"""Feature causal encoding: metrics into a clean, scaled candidate space."""

from faultgraph.encode.align import align
from faultgraph.encode.encoder import MetricEncoder, fill_gaps, robust_center_scale

__all__ = ["MetricEncoder", "align", "fill_gaps", "robust_center_scale"]
