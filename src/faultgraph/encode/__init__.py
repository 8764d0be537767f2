"""Feature causal encoding: metrics into a clean, scaled candidate space."""

from faultgraph.encode.encoder import MetricEncoder, fill_gaps, robust_center_scale

__all__ = ["MetricEncoder", "fill_gaps", "robust_center_scale"]
