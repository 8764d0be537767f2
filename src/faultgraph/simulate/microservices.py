"""A microservice system with known root causes: call graph, five metrics per service,
time-lagged propagation and injected faults. It serves the root-cause tests and the demo.

Each service ``s`` has five metrics, named ``<s>_traffic``, ``<s>_cpu``, ``<s>_memory``,
``<s>_latency`` and ``<s>_errors``. The frontend receives external load; requests flow
down the call graph (caller → callee, one step later); CPU and memory follow the
service's own traffic; latency and errors flow back up (callee → caller, one step
later), plus each service's own processing time. Every metric has its own Gaussian
noise and memory; the record starts after a burn-in, in the steady state. A fault adds to one metric of one service from ``start`` on:

* ``cpu_hog``: CPU (which then slows the service and its callers);
* ``memory_leak``: memory, growing linearly;
* ``network_delay``: latency;
* ``error_burst``: errors.

**Delay and jitter** (for the robustness study of issue 6; both off by default). One
step stands for **20 ms** of system time, the sampling interval of the metrics, so a
link delay of 50 ms is 2.5 steps:

* ``link_delay``: extra steps before an effect crosses a service link: a callee's
  traffic follows its caller's after ``1 + delay`` steps, and a caller's latency and errors
  follow its callee's after ``1 + delay`` steps. An integer sets every link; a pair
  ``(lo, hi)`` draws each link's delay uniformly from ``lo..hi``.
* ``jitter`` (a share ``j`` in ``[0, 0.5]``): what a scraper records instead of the clean
  grid, see :func:`scrape`: each metric is sampled at its own phase (an offset within a
  step), a share ``j`` of samples arrives late (1 to ``max_late`` steps, stamped on arrival,
  so it carries a stale value) and a share ``j`` is lost. The frames then have float
  timestamps and NaN where a metric has no sample; :func:`faultgraph.encode.align` puts
  them back on a grid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from faultgraph._validation import as_generator, check_choice
from faultgraph.errors import InvalidInputError
from faultgraph.io.atomic import write_csv_atomic, write_json_atomic

__all__ = ["FAULT_METRIC", "Incident", "parse_link_delay", "scrape", "simulate_incident"]

FaultType = Literal["cpu_hog", "memory_leak", "network_delay", "error_burst"]
#: The metric each fault type acts on first.
FAULT_METRIC = {"cpu_hog": "cpu", "memory_leak": "memory", "network_delay": "latency", "error_burst": "errors"}
METRICS = ("traffic", "cpu", "memory", "latency", "errors")
#: Timestamp resolution of scraped samples: 20 ticks of 1 ms to a 20 ms step.
TICKS = 20
#: Steps simulated and dropped before the record starts (plus 10 per step of the longest
#: link delay), so the system is in its steady state from the first recorded step.
BURN_IN = 200


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
    link_delays: tuple[tuple[str, str, int], ...] = ()
    jitter: float = 0.0

    @property
    def services(self) -> list[str]:
        return sorted({c for pair in self.calls for c in pair})

    def truth_dict(self) -> dict[str, Any]:
        return {"root_cause_service": self.root_cause_service, "root_cause_metric": self.root_cause_metric,
                "fault_type": self.fault_type, "fault_start": self.fault_start, "fault_end": self.fault_end,
                "calls": [list(c) for c in self.calls],
                "link_delays": [{"caller": a, "callee": b, "delay_steps": k} for a, b, k in self.link_delays],
                "jitter": self.jitter}

    def write(self, out_dir: str | Path) -> Path:
        """Write a case folder: ``normal.csv``, ``anomalous.csv``, ``truth.json``.

        Float (scraped) timestamps are written with three decimals, keeping every 1 ms tick.

        Parameters
        ----------
        out_dir : str or Path
            The folder to write into (created if needed); files are replaced atomically.

        Returns
        -------
        Path
            ``out_dir`` as a Path.
        """
        out = Path(out_dir)
        for name, frame in (("normal", self.normal), ("anomalous", self.anomalous)):
            frame = frame.copy()
            if frame.index.dtype.kind == "f":  # raw scrape times: keep every digit of the 1 ms ticks
                frame.index = pd.Index([f"{v:.3f}" for v in frame.index], name=frame.index.name)
            write_csv_atomic(out / f"{name}.csv", frame)
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
    link_delay: int | tuple[int, int] = 0,
    jitter: float = 0.0,
    max_late: int = 5,
    random_state: int | np.random.Generator | None = None,
) -> Incident:
    """Simulate normal operation, then an incident of ``fault_type`` at one service.

    The system is described in the module docstring: a random call graph, five metrics per
    service, lagged propagation (requests down the calls, latency and errors back up). The
    fault adds ``0.1 · magnitude`` to its metric (:data:`FAULT_METRIC`) from
    ``normal_steps + fault_at`` to the end; a memory leak ramps up over its first 10 steps.
    Metric names are ``s<k>_<metric>`` (service ``s<k>``, ``s0`` the frontend).

    Parameters
    ----------
    services : int, default 10
        Number of services; an integer in ``[3, 200]``.
    fault_type : {"cpu_hog", "memory_leak", "network_delay", "error_burst"}, optional
        The fault; drawn at random when None.
    fault_service : int, optional
        Index of the faulty service in ``[0, services)``; drawn from ``1 … services−1`` when
        None (never the frontend, so the fault must be traced).
    normal_steps : int, default 1500
        Steps of the normal period.
    anomalous_steps : int, default 120
        Steps of the anomalous period.
    fault_at : int, default 30
        Step of the anomalous period at which the fault starts; in ``[0, anomalous_steps)``.
    magnitude : float, default 5.0
        Size of the fault in units of the metric's own noise (standard deviation 0.1).
    link_delay : int or (int, int), default 0
        Extra steps before an effect crosses a service link: one value for every link, or
        ``(lo, hi)`` drawn per link; within ``0..100``.
    jitter : float, default 0.0
        Scrape jitter, a share in ``[0, 0.5]``; non-zero passes both periods through
        :func:`scrape` (float timestamps, NaN where a metric has no sample).
    max_late : int, default 5
        Most steps a late sample is delayed under jitter; a positive integer.
    random_state : int, numpy.random.Generator or None, default None
        Seed or generator.

    Returns
    -------
    Incident
        The two periods, the call graph, the true root cause, the fault's span and each
        link's total lag (``1 + delay`` steps).

    Raises
    ------
    InvalidInputError
        When ``services``, ``fault_type``, ``fault_service``, ``fault_at``, ``link_delay``,
        ``jitter`` or ``max_late`` is out of its range.
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
    if jitter:  # before the simulation, not after it
        _check_scrape_args(jitter, max_late)
    calls = _call_graph(services, rng)
    delay = _link_delays(calls, link_delay, rng)
    callers = {j: [i for i, k in calls if k == j] for j in range(services)}
    callees = {i: [k for j, k in calls if j == i] for i in range(services)}
    share = {(i, k): rng.uniform(0.5, 1.0) for i, k in calls}
    cpu_w, lat_w, err_w = rng.uniform(0.6, 1.2, services), rng.uniform(0.4, 0.8, services), rng.uniform(0.5, 0.9, services)
    total = normal_steps + anomalous_steps
    start = normal_steps + fault_at
    burn = BURN_IN + 10 * max(delay.values(), default=0)  # start from the steady state, not from zeros
    V = {m: np.zeros((burn + total + 1, services)) for m in METRICS}
    load = 1.0 + 0.5 * np.sin((np.arange(burn + total + 1) - burn) * 2 * np.pi / 288)
    order = list(range(services))  # callers have lower indices
    for t in range(1, burn + total + 1):
        f = t - 1 - burn >= start
        e = {m: rng.normal(size=services) for m in METRICS}
        for s in order:
            upstream = load[t] if s == 0 else sum(share[(c, s)] * V["traffic"][max(t - 1 - delay[(c, s)], 0), c]
                                                  for c in callers[s])
            V["traffic"][t, s] = 0.3 * V["traffic"][t - 1, s] + 0.7 * upstream + 0.1 * e["traffic"][s]
            V["cpu"][t, s] = 0.5 * V["cpu"][t - 1, s] + cpu_w[s] * V["traffic"][t, s] + 0.1 * e["cpu"][s]
            V["memory"][t, s] = 0.7 * V["memory"][t - 1, s] + 0.3 * V["traffic"][t, s] + 0.1 * e["memory"][s]
        for s in reversed(order):  # latency and errors flow back up from callees
            down_lat = sum(V["latency"][max(t - 1 - delay[(s, k)], 0), k] for k in callees[s])
            down_err = sum(V["errors"][max(t - 1 - delay[(s, k)], 0), k] for k in callees[s])
            V["latency"][t, s] = (0.3 * V["latency"][t - 1, s] + 0.5 * V["cpu"][t, s] + lat_w[s] * down_lat
                                  + 0.1 * e["latency"][s])
            V["errors"][t, s] = 0.3 * V["errors"][t - 1, s] + err_w[s] * down_err + 0.1 * e["errors"][s]
        if f:
            s, k = fault_service, t - 1 - burn - start
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
    columns = {f"{names[s]}_{m}": V[m][burn + 1:, s] for s in range(services) for m in METRICS}
    frame = pd.DataFrame(columns, index=pd.RangeIndex(total, name="timestamp"))
    normal, anomalous = frame.iloc[:normal_steps], frame.iloc[normal_steps:]
    if jitter:
        observed = scrape(frame, jitter, max_late=max_late, random_state=rng)
        before = np.asarray(observed.index) < normal_steps
        normal, anomalous = observed.loc[before], observed.loc[~before]
    return Incident(
        normal=normal, anomalous=anomalous,
        calls=tuple((names[i], names[k]) for i, k in calls), root_cause_service=names[fault_service],
        root_cause_metric=f"{names[fault_service]}_{FAULT_METRIC[fault_type]}", fault_type=fault_type,
        fault_start=start, fault_end=total - 1,
        link_delays=tuple((names[i], names[k], 1 + delay[(i, k)]) for i, k in calls), jitter=float(jitter),
    )


def _link_delays(calls: list[tuple[int, int]], link_delay: int | tuple[int, int],
                 rng: np.random.Generator) -> dict[tuple[int, int], int]:
    """Extra steps per link: one integer for all, or drawn from ``lo..hi`` per link."""
    if isinstance(link_delay, (int, np.integer)) and not isinstance(link_delay, bool):
        lo = hi = int(link_delay)
        draw = False
    elif (isinstance(link_delay, (tuple, list)) and len(link_delay) == 2
          and all(isinstance(v, (int, np.integer)) for v in link_delay)):
        lo, hi = int(link_delay[0]), int(link_delay[1])
        draw = True
    else:
        raise InvalidInputError(f"link_delay must be an integer or a pair (lo, hi) of integers, got {link_delay!r}")
    if not 0 <= lo <= hi <= 100:
        raise InvalidInputError(f"link_delay must lie in 0..100 steps with lo <= hi, got {link_delay!r}")
    if not draw:
        return {c: lo for c in calls}
    return {c: int(rng.integers(lo, hi + 1)) for c in calls}


def _check_scrape_args(jitter: Any, max_late: Any) -> None:
    if not isinstance(jitter, (int, float, np.floating)) or not 0.0 <= float(jitter) <= 0.5:
        raise InvalidInputError(f"jitter must be a share in [0, 0.5], got {jitter!r}")
    if not isinstance(max_late, (int, np.integer)) or max_late < 1:
        raise InvalidInputError(f"max_late must be a positive integer, got {max_late!r}")


def scrape(
    frame: pd.DataFrame,
    jitter: float,
    *,
    max_late: int = 5,
    random_state: int | np.random.Generator | None = None,
) -> pd.DataFrame:
    """What an asynchronous scraper records of ``frame``.

    Each metric ``m`` is sampled at ``t + φ_m`` with its own phase ``φ_m ~ U(−0.5, 0.5)``,
    holding the value of the last step at or before that time (a sample never sees the
    future); a share ``jitter`` of samples arrives 1 to ``max_late`` steps late and is
    stamped on arrival (a stale value), and a share ``jitter`` is lost. Timestamps are in
    steps with a resolution of 1 ms (``1 / TICKS`` of a 20 ms step).

    Parameters
    ----------
    frame : DataFrame
        One row per step, index ``0, 1, …``; one column per metric.
    jitter : float
        Share of late and of lost samples, in ``[0, 0.5]``; 0 applies the phases alone.
    max_late : int, default 5
        Most steps a late sample is delayed; a positive integer.
    random_state : int, numpy.random.Generator or None, default None
        Seed or generator.

    Returns
    -------
    DataFrame
        The samples on the union of all timestamps (float, sorted), NaN where a metric has
        no sample; samples stamped at or after ``len(frame)`` are dropped.

    Raises
    ------
    InvalidInputError
        When ``jitter`` is not a share in ``[0, 0.5]`` or ``max_late`` is not a positive integer.
    """
    _check_scrape_args(jitter, max_late)
    rng = as_generator(random_state)
    n = frame.shape[0]
    steps = np.arange(n, dtype=float)
    series = []
    for col in frame.columns:
        values = frame[col].to_numpy(dtype=float)
        phase = np.round(rng.uniform(-0.5, 0.5) * TICKS) / TICKS
        stamp = steps + phase
        held = values[np.clip(np.floor(stamp).astype(int), 0, n - 1)]  # value at the last step <= stamp
        taken = stamp >= 0
        late = rng.random(n) < jitter
        stamp = np.round((stamp + np.where(late, rng.uniform(1.0, float(max_late), n), 0.0)) * TICKS) / TICKS
        keep = taken & (rng.random(n) >= jitter) & (stamp < n)
        s = pd.Series(held[keep], index=stamp[keep], name=col)
        series.append(s[~s.index.duplicated(keep="last")].sort_index())
    out = pd.concat(series, axis=1).sort_index()
    out.index.name = frame.index.name
    return out


def parse_link_delay(text: str, name: str = "link_delay") -> int | tuple[int, int]:
    """A link delay as written on the command line: ``N`` steps, or ``LO:HI`` drawn per link.

    Parameters
    ----------
    text : str
        ``"N"`` or ``"LO:HI"``, integers.
    name : str, default "link_delay"
        The option's name, for the error message.

    Returns
    -------
    int or tuple of (int, int)
        ``N``, or ``(LO, HI)``; ranges are checked later by :func:`simulate_incident`.

    Raises
    ------
    InvalidInputError
        When ``text`` is not one integer or two separated by ``:``.
    """
    try:
        parts = [int(v) for v in str(text).split(":")]
    except ValueError:
        raise InvalidInputError(f"{name} must be N or LO:HI in steps, got {text!r}") from None
    if len(parts) not in (1, 2):
        raise InvalidInputError(f"{name} must be N or LO:HI in steps, got {text!r}")
    return parts[0] if len(parts) == 1 else (parts[0], parts[1])
