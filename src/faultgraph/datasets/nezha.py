"""Loader for the Nezha root-cause dataset (IntelligentDDS/Nezha, FSE 2023): Online Boutique
(2022-08-22, 2022-08-23) and Train Ticket (2023-01-29).

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
* **Train Ticket** days (pods named ``ts-...``; :func:`day_system`) have the same layout with
  46 services, 19 metrics a pod (``TimeStamp`` agrees with ``Time`` there), the front end's
  ``front_service.csv``, no ``source_50.csv`` and no ``dependency.csv`` (so no
  ``NetworkP50(s)`` stand-in and an empty call graph); their indicators are in
  ``construct_data/root_cause_ts.json``. :func:`list_days` and :func:`cases` take
  ``system=`` (``"online_boutique"``, ``"train_ticket"``); :func:`cases` without a day
  reads the Online Boutique days by default, as it did before Train Ticket joined the data.

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
* **Two clocks.** Where the two fields disagree by :data:`CLOCK_SLACK` (30 minutes) or
  more, one of them is on another clock: the loader takes the one that lies inside the
  metrics (first to last row), says so in :attr:`NezhaFault.corrected` and warns once per
  day (:class:`~faultgraph.errors.SamplingWarning`); if both or neither lie inside, it
  raises :class:`~faultgraph.errors.InvalidInputError`. On the Train Ticket day this
  concerns the 24 code faults (``return``, ``exception``, 08:43 to 11:36): their
  ``inject_timestamp`` lies 8 h before ``inject_time`` (the text read as China time,
  UTC+8, and converted once too often), 00:44 to 03:37, while the metrics run from 08:41
  to 23:59. ``inject_time`` is trusted: it lies inside the metrics, the fault list's hour
  keys (``"08"`` to ``"11"``) follow it, and for the 4 CPU faults (13:31 to 15:42), whose
  fields agree, the CPU rises in the first rows after it. For 8 of the other 23 the
  timestamp is also 20 s to 1.5 min off the whole 8 h; code faults leave no trace in these
  metrics to tell which minute is right, and the text is kept.
* **Repeated timestamp.** An entry whose ``inject_timestamp`` is the previous entry's while
  its ``inject_time`` differs carries a copied timestamp: it is kept, placed by its
  ``inject_time`` (also when the two agree within minutes), flagged by
  :attr:`NezhaFault.repeated_timestamp` and named in a warning. On the Train Ticket day:
  ts-basic-service's ``return`` at 09:12:56 repeats 09:03:53's timestamp (1674954273).
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
* **Gaps** (Train Ticket). A pod's latencies (``PodServerLatencyP9x(s)``, sometimes
  ``PodClientLatencyP9x(s)``) are missing in the minutes without requests: on 2023-01-29
  96 of the 874 columns have gaps, the server latencies of 20 services are missing in 53
  to 79 % of the rows (in all of the 400 fault-free rows from 16:12, where
  ``cases(normal="fault_free")`` drops them), and in those rows runs of up to 10 missing
  minutes remain in other latencies, so a fit with the encoder's default ``max_gap=5``
  refuses (``data has gaps longer than max_gap=5 steps``). The documented repair,
  :func:`repair_gaps`: drop the metrics observed in under 95 % of the fitting rows (there:
  the 60 empty columns and 18 latencies of 6 services) and fit with the ``max_gap`` that
  fills the longest run left (8 minutes)::

      repair = nezha.repair_gaps(normal)              # GapRepair: frame, max_gap, dropped
      model = CausalDetector(max_gap=repair.max_gap).fit(repair.frame)

  Data explained with that model may still have longer gaps in the kept metrics: fill them
  (``ffill``, then the normal period's median) as ``benchmarks/rca.py`` does. The
  encoder's defaults are not changed. After the repair 568 metrics vary in those rows.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from faultgraph._validation import check_choice
from faultgraph.datasets.case import Case
from faultgraph.errors import InvalidInputError, SamplingWarning

__all__ = [
    "CLOCK_SLACK",
    "FAULT_TYPES",
    "INDICATOR_FILES",
    "LOG_FAULT_TYPES",
    "METRIC_STAND_INS",
    "SYSTEMS",
    "GapRepair",
    "NezhaDay",
    "NezhaFault",
    "cases",
    "day_system",
    "list_days",
    "pod_service",
    "read_day",
    "repair_gaps",
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
    #: What was corrected in placing it (which time field was taken and why), None if nothing.
    corrected: str | None = None
    #: Its ``inject_timestamp`` repeats the previous entry's while its ``inject_time`` differs.
    repeated_timestamp: bool = False


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
    #: ``"online_boutique"`` or ``"train_ticket"`` (:func:`day_system`).
    system: str = "online_boutique"

    @property
    def root_cause_metrics(self) -> dict[tuple[str, str], str | None]:
        """``root_cause_indicators`` with the code faults' log regions set to None."""
        return {key: None if key[1] in LOG_FAULT_TYPES else value
                for key, value in self.root_cause_indicators.items()}


def pod_service(pod: str) -> str:
    """The service of a Kubernetes Deployment pod: ``frontend-579b9bff58-t2dbm`` →
    ``frontend``; any other name is its own service.

    Parameters
    ----------
    pod : str
        A pod name.

    Returns
    -------
    str
    """
    match = _DEPLOYMENT_POD.match(pod)
    return match.group("service") if match else pod


def list_days(root: str | Path, system: System | None = None) -> list[str]:
    """The day folders under ``root/rca_data`` that hold a ``metric/`` folder, sorted; with
    ``system``, only the days of that system (see :func:`day_system`).

    Parameters
    ----------
    root : str or Path
        The Nezha folder (holding ``rca_data/``).
    system : {"online_boutique", "train_ticket"} or None, default None
        Only the days of this system; ``None``: every day.

    Returns
    -------
    list of str
        Day names such as ``"2022-08-22"``.

    Raises
    ------
    InvalidInputError
        When ``root`` does not exist or has no ``rca_data/`` folder, or ``system`` is not
        one of the allowed values.
    """
    rca = _rca_folder(root)
    days = sorted(p.name for p in rca.iterdir() if (p / "metric").is_dir())
    if system is None:
        return days
    system = check_choice("system", system, SYSTEMS)
    return [d for d in days if day_system(root, d) == system]


def day_system(root: str | Path, day: str) -> str:
    """``"train_ticket"`` when a pod file of the day is a Train Ticket pod (``ts-...``),
    else ``"online_boutique"``.

    Parameters
    ----------
    root : str or Path
        The Nezha folder.
    day : str
        A day folder's name.

    Returns
    -------
    {"online_boutique", "train_ticket"}

    Raises
    ------
    InvalidInputError
        When ``root`` does not exist or has no ``rca_data/`` folder.
    """
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
    from faultgraph.io.metrics import _first_short_line

    # pandas fills a row short of fields with NaN: only a file whose last column has a gap can hold one
    short = _first_short_line(path, open, ",", frame.shape[1]) if frame.iloc[:, -1].isna().any() else None
    if short is not None:
        raise InvalidInputError(f"{str(path)!r}: {'its last row' if short[2] else f'row {short[0]}'} has "
                                f"{len(short[1])} of the header's {frame.shape[1]} fields (a file cut short or "
                                "damaged: download it again)")
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


#: Disagreements between ``inject_time`` and ``inject_timestamp`` below this are minutes of
#: slack (the timestamp is taken); above it, one of the two is on another clock.
CLOCK_SLACK = pd.Timedelta(minutes=30)


def _entry_times(entry: dict, where: str) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """``(inject_time as UTC, inject_timestamp)``, None for a field that is absent."""
    try:
        text = pd.Timestamp(entry["inject_time"], tz="UTC") if "inject_time" in entry else None
        stamp = (pd.Timestamp(int(float(entry["inject_timestamp"])), unit="s", tz="UTC")
                 if "inject_timestamp" in entry else None)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidInputError(f"{where}: unreadable injection time in {entry!r}: {exc}") from None
    if text is not None and pd.isna(text) or stamp is not None and pd.isna(stamp):  # null, "NaT"
        raise InvalidInputError(f"{where}: unreadable injection time in {entry!r}: no time given")
    return text, stamp


def _hours(delta: pd.Timedelta) -> str:
    """``8 h`` for a whole number of hours, else ``about 8 h (7:59:20)``."""
    hours = delta / pd.Timedelta(hours=1)
    if hours == round(hours):
        return f"{hours:.0f} h"
    seconds = int(delta.total_seconds())
    return f"about {round(hours)} h ({seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d})"


def _read_faults(path: Path, day: str, span: tuple[pd.Timestamp, pd.Timestamp]) -> tuple[NezhaFault, ...]:
    """The fault list, each fault placed on the metrics' clock (``span``: their first and
    last rows): see "Faults" in the module docstring."""
    if not path.is_file():
        raise InvalidInputError(f"Nezha day {day!r} has no fault list {str(path)!r}")
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{str(path)!r} is not valid JSON: {exc}") from None
    if not isinstance(spec, dict):
        raise InvalidInputError(f"{str(path)!r} must hold an object {{hour: [faults]}}, got {type(spec).__name__}")
    first, last = span[0], span[-1] + pd.Timedelta(minutes=1)
    inside = lambda t: t is not None and first <= t < last  # noqa: E731
    faults = []
    corrected: list[str] = []
    repeated: list[str] = []
    previous_stamp = previous_text = None
    for hour, entries in spec.items():
        for entry in entries if isinstance(entries, list) else [entries]:
            where = f"{str(path)!r}, hour {hour!r}"
            if not isinstance(entry, dict) or not {"inject_pod", "inject_type"} <= set(entry) or not (
                    "inject_timestamp" in entry or "inject_time" in entry):
                raise InvalidInputError(f"{where}: a fault needs inject_pod, inject_type and "
                                        f"inject_timestamp or inject_time; got {entry!r}")
            text, stamp = _entry_times(entry, where)
            note = None
            repeats = stamp is not None and stamp == previous_stamp and text is not None and text != previous_text
            if stamp is None:
                when = text
            elif text is None or abs(text - stamp) < CLOCK_SLACK:
                when = text if repeats else stamp  # a copied timestamp says nothing of this entry
            elif inside(text) != inside(stamp):
                use_text = inside(text)
                when, other = (text, stamp) if use_text else (stamp, text)
                trusted, distrusted = ("inject_time", "inject_timestamp")[::1 if use_text else -1]
                note = (f"{distrusted} {other.isoformat()} lies {_hours(abs(text - stamp))} "
                        f"{'before' if other < when else 'after'} {trusted} {when.isoformat()}, outside the "
                        f"metrics ({first.isoformat()} to {span[-1].isoformat()}): {trusted} taken")
                corrected.append(f"{entry['inject_pod']} {entry['inject_type']} at {when.isoformat()}")
            else:
                raise InvalidInputError(
                    f"{where}: inject_time {text.isoformat()} and inject_timestamp {stamp.isoformat()} disagree by "
                    f"{_hours(abs(text - stamp))} and both lie {'inside' if inside(text) else 'outside'} the metrics "
                    f"({first.isoformat()} to {span[-1].isoformat()}): cannot tell which is on the metrics' clock")
            if repeats:
                said = (f"inject_timestamp {stamp.isoformat()} repeats the previous entry's while inject_time differs "
                        f"({previous_text.isoformat()} then {text.isoformat()}): a copied timestamp")
                note = said if note is None else f"{note}; {said}"
                repeated.append(f"{entry['inject_pod']} {entry['inject_type']} (inject_time {text.isoformat()})")
            previous_stamp, previous_text = stamp, text
            pod = str(entry["inject_pod"])
            faults.append(NezhaFault(day, when, when.ceil("min"), pod, pod_service(pod), str(entry["inject_type"]),
                                     corrected=note, repeated_timestamp=repeats))
    if corrected:
        warnings.warn(f"Nezha day {day!r}: {len(corrected)} faults' time fields disagree by hours; each is placed by "
                      f"the field that lies inside the metrics (NezhaFault.corrected says which): "
                      f"{'; '.join(corrected[:3])}{'; ...' if len(corrected) > 3 else ''}", SamplingWarning,
                      stacklevel=3)
    if repeated:
        warnings.warn(f"Nezha day {day!r}: {len(repeated)} fault list entr{'y repeats' if len(repeated) == 1 else 'ies repeat'}"
                      f" the previous entry's inject_timestamp with another inject_time (kept; NezhaFault.repeated_timestamp "
                      f"is set and NezhaFault.corrected says which time was taken): {'; '.join(repeated)}",
                      SamplingWarning, stacklevel=3)
    return tuple(sorted(faults, key=lambda f: f.inject_time))


#: The root-cause indicator file of each system, under ``construct_data/``.
INDICATOR_FILES = {"online_boutique": "root_cause_hipster.json", "train_ticket": "root_cause_ts.json"}


def _read_indicators(root: Path, system: str) -> dict[tuple[str, str], str]:
    path = root / "construct_data" / INDICATOR_FILES[system]
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
    """Read one day (``"2022-08-22"``) of a Nezha folder: see the module docstring.

    Parameters
    ----------
    root : str or Path
        The Nezha folder.
    day : str
        A day folder's name (see :func:`list_days`).

    Returns
    -------
    NezhaDay

    Raises
    ------
    InvalidInputError
        When the folder or the day does not exist (the message lists the days present),
        the day holds no ``<pod>_metric.csv`` files, a CSV is empty or unreadable,
        ``dependency.csv`` lacks its Source and Target columns, or the fault list is
        malformed.
    """
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

    system = day_system(root, day)
    return NezhaDay(day, metrics, {c: c.split("|", 1)[0] for c in metrics.columns},
                    {s: tuple(p) for s, p in sorted(pods.items())}, _read_faults(folder / f"{day}-fault_list.json", day, (metrics.index[0], metrics.index[-1])),
                    dependency, slo, _read_indicators(root, system), system)


@dataclass(frozen=True)
class GapRepair:
    """What :func:`repair_gaps` did: ``frame`` without the sparse metrics, the ``max_gap``
    a fit on it needs, and ``dropped``: ``{metric: share of rows observed}``."""

    frame: pd.DataFrame = field(repr=False)
    max_gap: int
    dropped: dict[str, float]
    min_coverage: float

    def to_dict(self) -> dict[str, Any]:
        return {"metrics": int(self.frame.shape[1]), "rows": int(self.frame.shape[0]), "max_gap": self.max_gap,
                "min_coverage": self.min_coverage, "dropped": dict(self.dropped)}

    def __str__(self) -> str:
        return (f"{self.frame.shape[1]} metrics kept, {len(self.dropped)} observed in under "
                f"{self.min_coverage:.0%} of the {self.frame.shape[0]} rows dropped; fit with max_gap={self.max_gap}")


def repair_gaps(frame: pd.DataFrame, *, min_coverage: float = 0.95, max_gap: int | None = None) -> GapRepair:
    """The documented repair of a Nezha period's gaps before a fit (see "Gaps" in the
    module docstring): drop the metrics observed in under ``min_coverage`` of the rows,
    and give the ``max_gap`` that fills the longest run of missing rows left (at least
    the encoder's default, ``DEFAULTS.max_gap``); ``max_gap`` caps it: metrics with a
    longer run are dropped too. Fit with ``FitConfig(detector=DetectorConfig(max_gap=
    repair.max_gap))`` (``CausalDetector(max_gap=...)``); the encoder's own default is
    not changed. Returns a new frame inside a :class:`GapRepair`.

    Parameters
    ----------
    frame : pandas.DataFrame
        A Nezha period's metrics (non-empty).
    min_coverage : float, default 0.95
        The least share of rows, in (0, 1], a metric must be observed in to be kept.
    max_gap : int or None, default None
        The longest run of missing rows to fill (>= 0); metrics with a longer run are
        dropped. ``None``: no cap.

    Returns
    -------
    GapRepair

    Raises
    ------
    InvalidInputError
        When ``frame`` is not a non-empty DataFrame, ``min_coverage`` is outside (0, 1], or
        ``max_gap`` is not an int >= 0 or None.
    """
    from faultgraph.config import DEFAULTS

    if not isinstance(frame, pd.DataFrame) or frame.empty:
        raise InvalidInputError(f"frame must be a non-empty DataFrame of metrics, got {type(frame).__name__}"
                                + (f" of shape {frame.shape}" if isinstance(frame, pd.DataFrame) else ""))
    if isinstance(min_coverage, bool) or not isinstance(min_coverage, (int, float)) or not 0 < min_coverage <= 1:
        raise InvalidInputError(f"min_coverage must be a share in (0, 1], got {min_coverage!r}")
    if max_gap is not None and (isinstance(max_gap, bool) or not isinstance(max_gap, int) or max_gap < 0):
        raise InvalidInputError(f"max_gap must be an int >= 0 or None, got {max_gap!r}")
    coverage = frame.notna().mean()
    runs = pd.Series({c: _longest_run(frame[c].isna().to_numpy()) for c in frame.columns}, dtype=int)
    sparse = coverage < min_coverage
    if max_gap is not None:
        sparse |= runs > max_gap
    kept = frame.columns[~sparse.to_numpy()]
    need = int(runs[kept].max()) if len(kept) else 0
    return GapRepair(frame[kept].copy(), max(need, DEFAULTS.max_gap),
                     {str(c): float(coverage[c]) for c in frame.columns[sparse.to_numpy()]}, float(min_coverage))


def _longest_run(missing) -> int:
    longest = current = 0
    for flag in missing:
        current = current + 1 if flag else 0
        longest = max(longest, current)
    return longest


def truth_metric(day: NezhaDay, fault: NezhaFault, columns: pd.Index) -> str | None:
    """The ``<service>|<metric>`` column a fault acted on (network delays: the stand-in of
    :data:`METRIC_STAND_INS`), or None for code faults and names not among ``columns``.

    Parameters
    ----------
    day : NezhaDay
        The fault's day (its root-cause metrics).
    fault : NezhaFault
        The fault.
    columns : pandas.Index
        The columns of the case's data.

    Returns
    -------
    str or None
    """
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

    Parameters
    ----------
    root : str or Path
        The Nezha folder.
    day : str or None, default None
        One day; ``None``: every day of ``system``.
    normal_minutes : int or None, default None
        Rows of the normal window (>= 1); ``None``: 3 with ``"before"``, 60 with
        ``"fault_free"``.
    anomalous_minutes : int, default 5
        Rows of the anomalous window (>= 1).
    normal : {"before", "fault_free"}, default "before"
        Where the normal window lies (above).
    settle_minutes : int, default 30
        ``"fault_free"`` only: minutes after the day's last fault starts before the normal
        window (>= 0).
    system : {"online_boutique", "train_ticket"} or None, default "online_boutique"
        With ``day=None``: the system whose days are taken; ``None``: every day.

    Returns
    -------
    list of Case
        In time order.

    Raises
    ------
    InvalidInputError
        When ``normal`` or ``system`` is not one of the allowed values, a window length is
        not an int of its least value, a day cannot be read (see :func:`read_day`), a
        ``"fault_free"`` window holds fewer than 2 rows, or a fault has no normal or no
        anomalous rows in the metrics.
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
