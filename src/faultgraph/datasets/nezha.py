"""Loader for the Nezha root-cause dataset on Online Boutique (IntelligentDDS/Nezha, FSE 2023).

Layout under ``root`` (the folder that holds ``rca_data/`` and ``construct_data/``):

* ``rca_data/<day>/metric/<pod>_metric.csv``: one file per pod, one row a minute.
  Columns ``Time`` (Go's time text, ``2022-08-22 03:51:19.799087274 +0000 UTC m=+0.305``),
  ``TimeStamp`` (Unix seconds, but 2×10⁸ s off and garbled for adservice on 2022-08-22:
  never used), ``PodName`` and 19 metrics (``CpuUsageRate(%)``, ``MemoryUsageRate(%)``,
  ``PodServerLatencyP90(s)``, ``PodWorkload(Ops)``, ...). In the published days the pod
  latencies are missing in the minutes without requests (10 to 26 rows a day for
  checkoutservice, emailservice and paymentservice) and ``PodSuccessRate(%)`` is 0 throughout.
* ``rca_data/<day>/metric/front_service.csv``: the front end's success rate and latency
  percentiles (the service-level objective), same ``Time`` column.
* ``rca_data/<day>/metric/source_50.csv`` (and ``destination_50.csv``, not read): columns
  ``time``, ``timestamp`` and one per call ``<caller>_<callee>``, the median latency in
  seconds of that call as the caller (source) saw it.
* ``rca_data/<day>/metric/dependency.csv``: ``Source,Target,Weight``, the service call
  graph, plus rows from services to IP addresses.
* ``rca_data/<day>/<day>-fault_list.json``: ``{hour: [{inject_time, inject_timestamp,
  inject_pod, inject_type}, ...]}``; types ``cpu_contention``, ``cpu_consumed``,
  ``network_delay``, ``return`` and ``exception`` (the last two are code faults seen in logs).
* ``construct_data/root_cause_hipster.json``: ``{service: {fault type: indicator}}``, the
  metric that carries the fault (``CpuUsageRate(%)``, ``NetworkP90(ms)``) or, for code
  faults, a log region (``"Start charge card_Charge successfully"``).

What the loader does with it:

* **Time.** Rows are indexed by their ``Time``, in UTC, floored to the minute: every file
  of a day samples at the same second of each minute (:19–:21 on 2022-08-22, :28–:29 on
  2022-08-23), so the files join on the minute. Repeated minutes keep the first row.
* **Faults.** The fault list is in UTC like ``Time`` (no time-zone offset); the injection
  time is taken from ``inject_timestamp`` (``inject_time`` as a fallback). The two disagree
  once, for recommendationservice cpu_consumed on 2022-08-22 (text 07:10:43, timestamp
  07:09:43); its CPU is already half up in the row sampled at 07:10:19, so the timestamp
  is the right one. The first row of a fault, :attr:`NezhaFault.start`, is the injection
  time rounded up to the minute: the first row sampled after it. On the real data that row
  is the first to show the rise for 25 of the 26 CPU faults (the other one,
  productcatalogservice at 06:35:39 on 2022-08-22, is up one row earlier).
* **Services.** A pod ``frontend-579b9bff58-t2dbm`` belongs to the service ``frontend``
  (a Deployment's pod name less its two hashes). Metric columns are named
  ``<service>|<metric>``; a service with several pods gets, at each minute, the mean over
  its pods (the published days have one pod per service).
* **Network delay.** Nezha locates network faults with ``NetworkP90(ms)``, which it computes
  from traces that are not in this data. The nearest measure here is the latency of calls
  into the service as its callers see it: the column ``<service>|NetworkP50(s)`` is the mean
  over callers of ``source_50.csv``'s ``<caller>_<service>`` (NaN-skipping), and the truth
  of a network fault names it (see :data:`METRIC_STAND_INS`). In the default windows of
  :func:`cases` it rises 2- to 150-fold for 14 of the 16 network delays (1.2- and 1.3-fold
  for adservice and checkoutservice on 2022-08-23).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from faultgraph._validation import check_choice
from faultgraph.datasets.case import Case
from faultgraph.errors import InvalidInputError

__all__ = [
    "FAULT_TYPES",
    "LOG_FAULT_TYPES",
    "METRIC_STAND_INS",
    "SYSTEMS",
    "NezhaDay",
    "NezhaFault",
    "cases",
    "day_system",
    "list_days",
    "pod_service",
    "read_day",
    "truth_metric",
]

#: The fault types the published fault lists use.
FAULT_TYPES: tuple[str, ...] = ("cpu_contention", "cpu_consumed", "network_delay", "return", "exception")
#: Code faults: root_cause_hipster.json names a log region for them, not a metric.
LOG_FAULT_TYPES: frozenset[str] = frozenset({"return", "exception"})
#: Metrics named in root_cause_hipster.json that this data lacks → the column that stands in.
METRIC_STAND_INS: dict[str, str] = {"NetworkP90(ms)": "NetworkP50(s)"}

NormalWindow = Literal["before", "fault_free"]
System = Literal["online_boutique", "train_ticket"]
#: The benchmark systems of the published days: Online Boutique (2022-08-22, 2022-08-23)
#: and Train Ticket (2023-01-29, pods named ``ts-...``).
SYSTEMS: tuple[str, ...] = ("online_boutique", "train_ticket")

_TIME = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2}(?:\.\d+)?)\s*(Z|[+-]\d{2}:?\d{2})?")
_DEPLOYMENT_POD = re.compile(r"^(?P<service>.+)-[0-9a-z]{5,10}-[0-9a-z]{5}$")
_NOT_METRICS = ("time", "timestamp", "podname", "servicename")


@dataclass(frozen=True)
class NezhaFault:
    """One injected fault: when (UTC), where, and the first metrics row after it."""

    day: str
    inject_time: pd.Timestamp
    start: pd.Timestamp
    pod: str
    service: str
    fault_type: str


@dataclass(frozen=True)
class NezhaDay:
    """One day: the joined metrics, their services, the faults, the call graph and the
    root-cause indicators of ``root_cause_hipster.json``.

    ``metrics``: float64, DatetimeIndex ``timestamp`` (UTC minutes, sorted, unique),
    columns ``<service>|<metric>``. ``slo``: the front end's service-level metrics
    (``front_service.csv``) on the same kind of index. ``dependency``: the call edges
    ``caller, callee`` between services that have metric files. ``root_cause_metrics``:
    ``(service, fault type)`` → the metric named in the JSON, None for code faults;
    ``root_cause_indicators`` the same with the log regions kept.
    """

    day: str
    metrics: pd.DataFrame = field(repr=False)
    services: dict[str, str] = field(repr=False)
    pods: dict[str, tuple[str, ...]]
    faults: tuple[NezhaFault, ...]
    dependency: pd.DataFrame = field(repr=False)
    slo: pd.DataFrame = field(repr=False)
    root_cause_indicators: dict[tuple[str, str], str] = field(repr=False)

    @property
    def root_cause_metrics(self) -> dict[tuple[str, str], str | None]:
        """``root_cause_indicators`` with the code faults' log regions set to None."""
        return {key: None if key[1] in LOG_FAULT_TYPES else value
                for key, value in self.root_cause_indicators.items()}


def pod_service(pod: str) -> str:
    """The service of a Kubernetes Deployment pod: ``frontend-579b9bff58-t2dbm`` →
    ``frontend``; any other name is its own service."""
    match = _DEPLOYMENT_POD.match(pod)
    return match.group("service") if match else pod


def list_days(root: str | Path, system: System | None = None) -> list[str]:
    """The day folders under ``root/rca_data`` that hold a ``metric/`` folder, sorted; with
    ``system``, only the days of that system (see :func:`day_system`)."""
    rca = _rca_folder(root)
    days = sorted(p.name for p in rca.iterdir() if (p / "metric").is_dir())
    if system is None:
        return days
    system = check_choice("system", system, SYSTEMS)
    return [d for d in days if day_system(root, d) == system]


def day_system(root: str | Path, day: str) -> str:
    """``"train_ticket"`` when a pod file of the day is a Train Ticket pod (``ts-...``),
    else ``"online_boutique"``."""
    metric = _rca_folder(root) / day / "metric"
    return ("train_ticket" if any(p.name.startswith("ts-") for p in metric.glob("*_metric.csv"))
            else "online_boutique")


def _rca_folder(root: str | Path) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise InvalidInputError(f"Nezha folder {str(root)!r} does not exist")
    if not (root / "rca_data").is_dir():
        raise InvalidInputError(f"{str(root)!r} is not a Nezha folder: it has no rca_data/ folder")
    return root / "rca_data"


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise InvalidInputError(f"{str(path)!r} is empty") from None
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{str(path)!r} cannot be read as CSV: {exc}") from None
    if frame.empty:
        raise InvalidInputError(f"{str(path)!r} has a header but no rows")
    return frame


def _minutes(values: pd.Series, path: Path) -> pd.DatetimeIndex:
    """Parse Go (``... +0000 UTC m=+0.3``) or ISO time text to UTC, floored to the minute."""
    parts = values.astype(str).str.extract(_TIME)
    bad = parts[0].isna()
    if bad.any():
        raise InvalidInputError(f"{str(path)!r}: Time {values[bad].iloc[0]!r} (row {int(bad.idxmax()) + 1}) is not "
                                "a time like '2022-08-22 03:51:19.79 +0000 UTC'")
    text = parts[0] + "T" + parts[1] + parts[2].fillna("+00:00").str.replace("Z", "+00:00")
    try:
        stamps = pd.to_datetime(text, format="ISO8601", utc=True)
    except (ValueError, OverflowError) as exc:
        raise InvalidInputError(f"{str(path)!r}: unreadable Time values: {exc}") from None
    return pd.DatetimeIndex(stamps).floor("min")


def _timed_frame(path: Path, time_column: str) -> pd.DataFrame:
    """A file's metric columns as float64, indexed by its time column floored to the minute."""
    raw = _read_csv(path)
    if time_column not in raw.columns:
        raise InvalidInputError(f"{str(path)!r} has no {time_column!r} column (columns: "
                                f"{', '.join(map(str, raw.columns[:8]))})")
    index = _minutes(raw[time_column], path)
    body = raw[[c for c in raw.columns if str(c).lower() not in _NOT_METRICS]]
    if body.shape[1] == 0:
        raise InvalidInputError(f"{str(path)!r} has no metric columns besides its time and name columns")
    try:
        frame = pd.DataFrame(body.to_numpy(dtype="float64"), columns=[str(c) for c in body.columns], index=index)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{str(path)!r}: metric values must be numbers: {exc}") from None
    frame.index.name = "timestamp"
    return frame[~frame.index.duplicated(keep="first")].sort_index()


def _read_faults(path: Path, day: str) -> tuple[NezhaFault, ...]:
    if not path.is_file():
        raise InvalidInputError(f"Nezha day {day!r} has no fault list {str(path)!r}")
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{str(path)!r} is not valid JSON: {exc}") from None
    if not isinstance(spec, dict):
        raise InvalidInputError(f"{str(path)!r} must hold an object {{hour: [faults]}}, got {type(spec).__name__}")
    faults = []
    for hour, entries in spec.items():
        for entry in entries if isinstance(entries, list) else [entries]:
            if not isinstance(entry, dict) or not {"inject_pod", "inject_type"} <= set(entry) or not (
                    "inject_timestamp" in entry or "inject_time" in entry):
                raise InvalidInputError(f"{str(path)!r}, hour {hour!r}: a fault needs inject_pod, inject_type and "
                                        f"inject_timestamp or inject_time; got {entry!r}")
            try:
                if "inject_timestamp" in entry:
                    when = pd.Timestamp(int(float(entry["inject_timestamp"])), unit="s", tz="UTC")
                else:
                    when = pd.Timestamp(entry["inject_time"], tz="UTC")
            except (TypeError, ValueError) as exc:
                raise InvalidInputError(f"{str(path)!r}, hour {hour!r}: unreadable injection time in {entry!r}: "
                                        f"{exc}") from None
            pod = str(entry["inject_pod"])
            faults.append(NezhaFault(day, when, when.ceil("min"), pod, pod_service(pod), str(entry["inject_type"])))
    return tuple(sorted(faults, key=lambda f: f.inject_time))


def _read_indicators(root: Path) -> dict[tuple[str, str], str]:
    path = root / "construct_data" / "root_cause_hipster.json"
    if not path.is_file():
        return {}
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{str(path)!r} is not valid JSON: {exc}") from None
    if not isinstance(spec, dict) or not all(isinstance(v, dict) for v in spec.values()):
        raise InvalidInputError(f"{str(path)!r} must hold {{service: {{fault type: metric or log region}}}}")
    return {(str(service), str(kind)): str(value) for service, kinds in spec.items() for kind, value in kinds.items()}


def _network_latency(path: Path, services: set[str]) -> pd.DataFrame:
    """``<callee>|NetworkP50(s)``: the mean over callers of the caller-side median latency."""
    edges = _timed_frame(path, "time")
    by_callee: dict[str, list[str]] = {}
    for column in edges.columns:
        splits = [(column[:k], column[k + 1:]) for k, ch in enumerate(column) if ch == "_"]
        for caller, callee in splits:
            if caller in services and callee in services:
                by_callee.setdefault(callee, []).append(column)
                break
    stand_in = METRIC_STAND_INS["NetworkP90(ms)"]
    return pd.DataFrame({f"{callee}|{stand_in}": edges[cols].mean(axis=1) for callee, cols in sorted(by_callee.items())},
                        index=edges.index)


def read_day(root: str | Path, day: str) -> NezhaDay:
    """Read one day (``"2022-08-22"``) of a Nezha folder: see the module docstring."""
    root = Path(root)
    folder = _rca_folder(root) / day
    if not folder.is_dir():
        known = list_days(root)
        raise InvalidInputError(f"Nezha day folder {str(folder)!r} does not exist; days present: "
                                f"{', '.join(known) if known else 'none'}")
    metric_dir = folder / "metric"
    files = sorted(metric_dir.glob("*_metric.csv")) if metric_dir.is_dir() else []
    if not files:
        raise InvalidInputError(f"{str(metric_dir)!r} holds no <pod>_metric.csv files")

    by_service: dict[str, list[pd.DataFrame]] = {}
    pods: dict[str, list[str]] = {}
    for path in files:
        pod = path.name[: -len("_metric.csv")]
        service = pod_service(pod)
        by_service.setdefault(service, []).append(_timed_frame(path, "Time"))
        pods.setdefault(service, []).append(pod)
    blocks = []
    for service, frames in sorted(by_service.items()):
        block = frames[0] if len(frames) == 1 else pd.concat(frames).groupby(level=0).mean()
        blocks.append(block.add_prefix(f"{service}|"))
    if (metric_dir / "source_50.csv").is_file():
        blocks.append(_network_latency(metric_dir / "source_50.csv", set(by_service)))
    metrics = pd.concat(blocks, axis=1).sort_index().astype("float64")
    metrics.index.name = "timestamp"

    slo = (_timed_frame(metric_dir / "front_service.csv", "Time") if (metric_dir / "front_service.csv").is_file()
           else pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC", name="timestamp")))
    dependency = pd.DataFrame(columns=["caller", "callee"])
    if (metric_dir / "dependency.csv").is_file():
        graph = _read_csv(metric_dir / "dependency.csv")
        if not {"Source", "Target"} <= set(graph.columns):
            raise InvalidInputError(f"{str(metric_dir / 'dependency.csv')!r} needs Source and Target columns, "
                                    f"got {', '.join(map(str, graph.columns))}")
        keep = graph["Source"].isin(by_service) & graph["Target"].isin(by_service)
        dependency = (graph.loc[keep, ["Source", "Target"]].astype(str).drop_duplicates()
                      .set_axis(["caller", "callee"], axis=1).reset_index(drop=True))

    return NezhaDay(day, metrics, {c: c.split("|", 1)[0] for c in metrics.columns},
                    {s: tuple(p) for s, p in sorted(pods.items())}, _read_faults(folder / f"{day}-fault_list.json", day),
                    dependency, slo, _read_indicators(root))


def truth_metric(day: NezhaDay, fault: NezhaFault, columns: pd.Index) -> str | None:
    """The ``<service>|<metric>`` column a fault acted on (network delays: the stand-in of
    :data:`METRIC_STAND_INS`), or None for code faults and names not among ``columns``."""
    metric = day.root_cause_metrics.get((fault.service, fault.fault_type))
    if metric is None:
        return None
    name = f"{fault.service}|{METRIC_STAND_INS.get(metric, metric)}"
    return name if name in columns else None


def cases(
    root: str | Path,
    day: str | None = None,
    *,
    normal_minutes: int | None = None,
    anomalous_minutes: int = 5,
    normal: NormalWindow = "before",
    settle_minutes: int = 30,
    system: System | None = "online_boutique",
) -> list[Case]:
    """One :class:`~faultgraph.datasets.case.Case` per injected fault of ``day`` (when None:
    every day of ``system``, by default the Online Boutique days, as before Train Ticket
    joined the data; ``system=None`` takes every day), in time order.

    ``anomalous``: the rows from the fault's first row (:attr:`NezhaFault.start`) for
    ``anomalous_minutes``. On the real data a CPU fault shows for 3 to 7 rows (4 in the
    median), and consecutive faults start 8 rows apart or more.

    ``normal``:

    * ``"before"`` (default): the ``normal_minutes`` rows (default 3) before the minute of
      the injection. That minute's row was sampled at :19-:29 s, possibly after the
      injection, so when it is not the fault's first row it is in neither window. 3 + 5 =
      8 rows, so with the defaults the windows of consecutive faults never overlap; but a
      fault whose effect lasts 6-7 rows still leaves its tail in the next fault's normal
      window, and longer windows reach into the previous fault (with 4 rows, 19 of the 54
      non-first windows hold the previous fault's 5th row). The first fault of each day
      has only 3 rows before it.
    * ``"fault_free"``: the ``normal_minutes`` rows (default 60) from ``settle_minutes``
      after the day's last fault starts, the same for every case of the day. The faults
      are injected in one session of a few hours and the metrics go on after it with the
      same load (936 rows on 2022-08-22 and 409 on 2022-08-23 from 30 minutes after the
      last fault), a long fault-free span to fit a model on.

    A column that is all NaN in either period is dropped from both. ``truth``:
    ``root_cause_service``, ``root_cause_metric`` (``<service>|<metric>`` from
    root_cause_hipster.json, through :data:`METRIC_STAND_INS`; None for code faults or
    when the case lacks the column), ``fault_type``, ``inject_time`` (ISO, UTC),
    ``anomalous_start``, ``root_cause_pod``, ``root_cause_indicator`` (the JSON's metric
    or log region) and ``day``. A case is named ``<day>_<NN>_<service>_<fault type>``.
    """
    normal = check_choice("normal", normal, ("before", "fault_free"))
    if normal_minutes is None:
        normal_minutes = 3 if normal == "before" else 60
    for name, value, low in (("normal_minutes", normal_minutes, 1), ("anomalous_minutes", anomalous_minutes, 1),
                             ("settle_minutes", settle_minutes, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise InvalidInputError(f"{name} must be an int >= {low}, got {value!r}")
    days = list_days(root, system) if day is None else [day]
    out: list[Case] = []
    for name in days:
        data = read_day(root, name)
        index = data.metrics.index
        quiet = None
        if normal == "fault_free" and data.faults:
            begin = max(f.start for f in data.faults) + pd.Timedelta(minutes=settle_minutes)
            quiet = data.metrics[(index >= begin) & (index < begin + pd.Timedelta(minutes=normal_minutes))]
            if len(quiet) < 2:
                raise InvalidInputError(f"day {name!r}: normal='fault_free' needs rows from {begin.isoformat()} "
                                        f"(settle_minutes={settle_minutes} after the last fault starts); "
                                        f"found {len(quiet)}")
        for k, fault in enumerate(data.faults):
            start = fault.start
            anomalous = data.metrics[(index >= start) & (index < start + pd.Timedelta(minutes=anomalous_minutes))]
            # the row of the injection's own minute was sampled at :19-:29 s, perhaps after it: in neither window
            end = fault.inject_time.floor("min")
            before = data.metrics[(index >= end - pd.Timedelta(minutes=normal_minutes)) & (index < end)]
            reference = before if quiet is None else quiet
            if reference.empty or anomalous.empty:
                raise InvalidInputError(
                    f"day {name!r}: the {fault.fault_type} fault at {fault.inject_time.isoformat()} has "
                    f"{len(reference)} normal and {len(anomalous)} anomalous rows; the metrics cover "
                    f"{index.min().isoformat()} to {index.max().isoformat()}")
            keep = reference.notna().any() & anomalous.notna().any()
            columns = reference.columns[keep.to_numpy()]
            truth: dict[str, Any] = {
                "root_cause_service": fault.service,
                "root_cause_metric": truth_metric(data, fault, columns),
                "fault_type": fault.fault_type,
                "inject_time": fault.inject_time.isoformat(),
                "anomalous_start": start.isoformat(),
                "root_cause_pod": fault.pod,
                "root_cause_indicator": data.root_cause_indicators.get((fault.service, fault.fault_type)),
                "day": name,
            }
            out.append(Case(f"{name}_{k:02d}_{fault.service}_{fault.fault_type}", reference[columns].copy(),
                            anomalous[columns].copy(), truth))
    return out
