"""Root-cause analysis: rank the causes of an incident and trace how it spread."""

from faultgraph.rca.ranking import METHODS, Cause, Explanation, default_service, explain

__all__ = ["METHODS", "Cause", "Explanation", "default_service", "explain"]
