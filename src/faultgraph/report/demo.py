"""The built-in demo: a simulated microservice incident, detected, explained and reported."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from faultgraph.detect.unsupervised import CausalDetector
from faultgraph.discovery import PriorKnowledge
from faultgraph.evaluate.detection import label_segments
from faultgraph.rca.ranking import Explanation, explain
from faultgraph.report.incident import write_incident_report
from faultgraph.simulate.microservices import simulate_incident

__all__ = ["DemoResult", "detected_window", "incident_demo"]

#: What an operator knows of any service: load drives resources, resources drive latency and errors.
SERVICE_TIERS = PriorKnowledge(tiers=(("*_traffic",), ("*_cpu", "*_memory"), ("*_latency", "*_errors")))


@dataclass(frozen=True)
class DemoResult:
    """What the demo found, against what was injected."""

    explanation: Explanation
    injected_metric: str
    injected_service: str
    fault_type: str
    window: tuple[Any, Any]
    report_html: Path
    report_json: Path
    seconds: float

    def __str__(self) -> str:
        top = self.explanation.causes[0]
        verdict = "found" if top.service == self.injected_service else "missed"
        return "\n".join([
            f"Injected: {self.fault_type} at {self.injected_service} ({self.injected_metric}).",
            f"Detected an anomaly in steps {self.window[0]} .. {self.window[1]}.",
            f"Most likely root cause: {top.metric} (service {top.service}), score {top.score:.2f}.",
            f"How it spread, and when: {self.explanation.timed_path(top)}",
            f"The injected service was {verdict} first. Report: {self.report_html} ({self.seconds:.1f} s in all)."])


def detected_window(scores: pd.DataFrame) -> tuple[Any, Any] | None:
    """The longest run of consecutive alarms, as ``(first, last)`` index values.

    Parameters
    ----------
    scores : pandas.DataFrame
        :meth:`CausalDetector.score_samples` output, with its boolean ``anomaly`` column.

    Returns
    -------
    tuple or None
        ``(first, last)``; the first of equally long runs; ``None`` without an alarm.
    """
    runs = label_segments(scores["anomaly"].to_numpy())
    if not runs:
        return None
    first, last = max(runs, key=lambda run: run[1] - run[0])  # the first of equally long runs
    return scores.index[first], scores.index[last]


def incident_demo(
    out_dir: str | Path = "faultgraph-demo",
    *,
    services: int = 10,
    seed: int = 7,
    progress: Callable[[str], None] | None = None,
) -> DemoResult:
    """Simulate an incident, learn normal behaviour, detect the incident, explain it and
    write ``report.html`` and ``report.json`` into ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path, default "faultgraph-demo"
        Where the report is written.
    services : int, default 10
        Services of the simulated system (5 metrics each).
    seed : int, default 7
        Seed of the simulation.
    progress : callable or None, default None
        ``progress(message)`` before each stage.

    Returns
    -------
    DemoResult
        The explanation, the injected fault, the detected window (the whole anomalous
        period when nothing alarmed), the report's paths and the seconds taken.
    """
    say = progress or (lambda message: None)
    start = time.perf_counter()
    say(f"simulating {services} services ({services * 5} metrics) with an injected fault")
    inc = simulate_incident(services=services, random_state=seed)
    say("learning the lagged causal graph of the normal period")
    model = CausalDetector(prior=SERVICE_TIERS).fit(inc.normal)
    say("scoring the incident period")
    scores = model.score_samples(inc.anomalous)
    window = detected_window(scores) or (inc.anomalous.index[0], inc.anomalous.index[-1])
    say(f"explaining the anomaly detected in steps {window[0]} .. {window[1]}")
    result = explain(model, inc.anomalous, window)
    extra = {"injected_fault": inc.fault_type, "injected_metric": inc.root_cause_metric,
             "injected_service": inc.root_cause_service, "fault_start": inc.fault_start,
             "detected_window": result.to_dict()["window"],
             "alarm_threshold": float(model.threshold_)}
    html, js = write_incident_report(out_dir, model, inc.anomalous, result, scores=scores, normal=inc.normal,
                                     extra=extra)
    return DemoResult(result, inc.root_cause_metric, inc.root_cause_service, inc.fault_type, window, html, js,
                      time.perf_counter() - start)
