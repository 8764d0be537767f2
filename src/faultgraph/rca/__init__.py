"""Root-cause analysis: rank the causes of an incident and trace how it spread."""

from faultgraph.rca.ranking import DEFAULT_METHOD, METHODS, Cause, Explanation, default_service, explain

__all__ = ["DEFAULT_METHOD", "METHODS", "Cause", "Explanation", "default_service", "explain"]
