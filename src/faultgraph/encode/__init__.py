"""Feature causal encoding: metrics into a clean, scaled candidate space."""

from faultgraph.encode.align import align, late_samples
from faultgraph.encode.encoder import MetricEncoder, constant_moves, fill_gaps, robust_center_scale
from faultgraph.encode.lags import LagChoice, choose_lags, cross_correlation, median_lead, peak_lag

__all__ = ["LagChoice", "MetricEncoder", "align", "choose_lags", "constant_moves", "cross_correlation", "fill_gaps",
           "late_samples", "median_lead", "peak_lag", "robust_center_scale"]
