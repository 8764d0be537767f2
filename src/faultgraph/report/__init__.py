"""Reports for people: a self-contained HTML incident report with inline SVG pictures,
and the built-in demo that produces one."""

from faultgraph.report.demo import DemoResult, detected_window, incident_demo
from faultgraph.report.incident import incident_pictures, render_incident_report, write_incident_report

__all__ = [
    "DemoResult",
    "detected_window",
    "incident_demo",
    "incident_pictures",
    "render_incident_report",
    "write_incident_report",
]
