"""Root-cause analysis: rank the causes of an incident and trace how it spread."""

from faultgraph.rca.ranking import (
    BURST_STEPS,
    DEFAULT_METHOD,
    METHODS,
    MIN_REFERENCE,
    ONSET_LOOKBACK,
    ONSET_TRACE_Z,
    ONSET_Z,
    Cause,
    Explanation,
    burst,
    default_service,
    explain,
    recent_normal,
    step_scores,
    window_reference,
)

__all__ = ["BURST_STEPS", "DEFAULT_METHOD", "METHODS", "MIN_REFERENCE", "ONSET_LOOKBACK", "ONSET_TRACE_Z", "ONSET_Z",
           "Cause", "Explanation", "burst", "default_service", "explain", "recent_normal", "step_scores", "window_reference"]
