"""Feature causal encoding: metrics into a clean, scaled candidate space."""

from faultgraph.encode.align import align, late_samples
from faultgraph.encode.encoder import MetricEncoder, constant_moves, fill_gaps, robust_center_scale
from faultgraph.encode.lags import cross_correlation, peak_lag

__all__ = ["MetricEncoder", "align", "constant_moves", "cross_correlation", "fill_gaps", "late_samples", "peak_lag",
           "robust_center_scale"]
