"""A microservice system with known root causes: call graph, five metrics per service,
time-lagged propagation and injected faults. It serves the root-cause tests and the demo.

Each service ``s`` has five metrics, named ``<s>_traffic``, ``<s>_cpu``, ``<s>_memory``,
``<s>_latency`` and ``<s>_errors``. The frontend receives external load; requests flow
down the call graph (caller → callee, one step later); CPU and memory follow the
service's own traffic; latency and errors flow back up (callee → caller, one step
later), plus each service's own processing time. Every metric has its own Gaussian
noise and memory. A fault adds to one metric of one service from ``start`` on:

* ``cpu_hog``: CPU (which then slows the service and its callers);
* ``memory_leak``: memory, growing linearly;
* ``network_delay``: latency;
* ``error_burst``: errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from faultgraph._validation import as_generator, check_choice
from faultgraph.errors import InvalidInputError
from faultgraph.io.atomic import write_json_atomic, write_text_atomic

__all__ = ["FAULT_METRIC", "Incident", "simulate_incident"]

FaultType = Literal["cpu_hog", "memory_leak", "network_delay", "error_burst"]
#: The metric each fault type acts on first.
FAULT_METRIC = {"cpu_hog": "cpu", "memory_leak": "memory", "network_delay": "latency", "error_burst": "errors"}
METRICS = ("traffic", "cpu", "memory", "latency", "errors")


@dataclass(frozen=True)
class Incident:
    """A simulated incident: a normal period, an anomalous period and the ground truth."""

    normal: pd.DataFrame = field(repr=False)
    anomalous: pd.DataFrame = field(repr=False)
    calls: tuple[tuple[str, str], ...]
    root_cause_service: str
    root_cause_metric: str
    fault_type: str
    fault_start: int
    fault_end: int

    @property
    def services(self) -> list[str]:
        return sorted({c for pair in self.calls for c in pair})

    def truth_dict(self) -> dict[str, Any]:
        return {"root_cause_service": self.root_cause_service, "root_cause_metric": self.root_cause_metric,
                "fault_type": self.fault_type, "fault_start": self.fault_start, "fault_end": self.fault_end,
                "calls": [list(c) for c in self.calls]}

    def write(self, out_dir: str | Path) -> Path:
        """Write a case folder: ``normal.csv``, ``anomalous.csv``, ``truth.json``."""
        out = Path(out_dir)
        write_text_atomic(out / "normal.csv", self.normal.to_csv(float_format="%.6g"))
        write_text_atomic(out / "anomalous.csv", self.anomalous.to_csv(float_format="%.6g"))
        write_json_atomic(out / "truth.json", self.truth_dict())
        return out


def _call_graph(n: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """Caller → callee edges among ``n`` services; service 0 is the frontend, calls go to
    higher indices, every service but the frontend has at least one caller."""
    edges = set()
    for j in range(1, n):
        edges.add((int(rng.integers(0, j)), j))
    for i in range(n):
        for j in range(i + 1, n):
            if rng.random() < 1.0 / n:
                edges.add((i, j))
    return sorted(edges)


def simulate_incident(
    *,
    services: int = 10,
    fault_type: FaultType | None = None,
    fault_service: int | None = None,
    normal_steps: int = 1500,
    anomalous_steps: int = 120,
    fault_at: int = 30,
    magnitude: float = 5.0,
    random_state: int | np.random.Generator | None = None,
) -> Incident:
    """Simulate normal operation, then an incident of ``fault_type`` at one service.

    ``fault_type`` and ``fault_service`` are drawn when not given (never the frontend
    for the service, so the fault must be traced). ``magnitude`` is in units of the
    metric's own noise. The fault starts ``fault_at`` steps into the anomalous period and
    lasts to its end. Metric names are ``s<k>_<metric>`` (service ``s<k>``).
    """
    if not isinstance(services, (int, np.integer)) or not 3 <= services <= 200:
        raise InvalidInputError(f"services must be an integer in [3, 200], got {services!r}")
    rng = as_generator(random_state)
    if fault_type is None:
        fault_type = str(rng.choice(list(FAULT_METRIC)))  # type: ignore[assignment]
    check_choice("fault_type", fault_type, tuple(FAULT_METRIC))
    if fault_service is None:
        fault_service = int(rng.integers(1, services))
    if not 0 <= fault_service < services:
        raise InvalidInputError(f"fault_service must lie in [0, {services}), got {fault_service}")
    if not 0 <= fault_at < anomalous_steps:
        raise InvalidInputError(f"fault_at must lie in [0, {anomalous_steps}), got {fault_at}")
    calls = _call_graph(services, rng)
    callers = {j: [i for i, k in calls if k == j] for j in range(services)}
    callees = {i: [k for j, k in calls if j == i] for i in range(services)}
    share = {(i, k): rng.uniform(0.5, 1.0) for i, k in calls}
    cpu_w, lat_w, err_w = rng.uniform(0.6, 1.2, services), rng.uniform(0.4, 0.8, services), rng.uniform(0.5, 0.9, services)
    total = normal_steps + anomalous_steps
    start = normal_steps + fault_at
    V = {m: np.zeros((total + 1, services)) for m in METRICS}
    load = 1.0 + 0.5 * np.sin(np.arange(total + 1) * 2 * np.pi / 288)
    order = list(range(services))  # callers have lower indices
    for t in range(1, total + 1):
        f = t - 1 >= start
        e = {m: rng.normal(size=services) for m in METRICS}
        for s in order:
            upstream = load[t] if s == 0 else sum(share[(c, s)] * V["traffic"][t - 1, c] for c in callers[s])
            V["traffic"][t, s] = 0.3 * V["traffic"][t - 1, s] + 0.7 * upstream + 0.1 * e["traffic"][s]
            V["cpu"][t, s] = 0.5 * V["cpu"][t - 1, s] + cpu_w[s] * V["traffic"][t, s] + 0.1 * e["cpu"][s]
            V["memory"][t, s] = 0.7 * V["memory"][t - 1, s] + 0.3 * V["traffic"][t, s] + 0.1 * e["memory"][s]
        for s in reversed(order):  # latency and errors flow back up from callees
            down_lat = sum(V["latency"][t - 1, k] for k in callees[s])
            down_err = sum(V["errors"][t - 1, k] for k in callees[s])
            V["latency"][t, s] = (0.3 * V["latency"][t - 1, s] + 0.5 * V["cpu"][t, s] + lat_w[s] * down_lat
                                  + 0.1 * e["latency"][s])
            V["errors"][t, s] = 0.3 * V["errors"][t - 1, s] + err_w[s] * down_err + 0.1 * e["errors"][s]
        if f:
            s, k = fault_service, t - 1 - start
            bump = 0.1 * magnitude
            if fault_type == "cpu_hog":
                V["cpu"][t, s] += bump
            elif fault_type == "memory_leak":
                V["memory"][t, s] += bump * min(1.0, (k + 1) / 10)
            elif fault_type == "network_delay":
                V["latency"][t, s] += bump
            else:
                V["errors"][t, s] += bump
    names = [f"s{i}" for i in range(services)]
    columns = {f"{names[s]}_{m}": V[m][1:, s] for s in range(services) for m in METRICS}
    frame = pd.DataFrame(columns, index=pd.RangeIndex(total, name="timestamp"))
    return Incident(
        normal=frame.iloc[:normal_steps], anomalous=frame.iloc[normal_steps:],
        calls=tuple((names[i], names[k]) for i, k in calls), root_cause_service=names[fault_service],
        root_cause_metric=f"{names[fault_service]}_{FAULT_METRIC[fault_type]}", fault_type=fault_type,
        fault_start=start, fault_end=total - 1,
    )
