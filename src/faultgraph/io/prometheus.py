"""Reading metrics from Prometheus' HTTP API (``/api/v1/query_range``).

A QUERIES.yaml names each metric of a model and the PromQL that gives it::

    step: 15s                     # optional: the query step (Prometheus durations or seconds)
    queries:
      frontend_latency: 'histogram_quantile(0.9, sum by (le) (rate(latency_bucket{service="frontend"}[1m])))'
      checkout_cpu:
        query: 'sum(rate(process_cpu_seconds_total{service="checkout"}[1m]))'
        service: checkout         # optional: the service it belongs to (default: from the name)
      "{service}_traffic":        # a template: one metric per series, named from its labels
        query: 'sum by (service) (rate(http_requests_total[1m]))'
        service_label: service    # the label naming each series' service

:class:`PrometheusReader` asks with timeouts and retries with exponential back-off, splits
long ranges (Prometheus answers at most 11,000 points a series) and raises
:class:`PrometheusUnavailableError` when Prometheus cannot be reached,
:class:`PrometheusQueryError` when it refuses a query. httpx is imported on use
(``pip install 'faultgraph[serve]'``).
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faultgraph.errors import FaultgraphError, InvalidInputError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["PrometheusError", "PrometheusQueryError", "PrometheusReader", "PrometheusUnavailableError",
           "PromQuery", "QuerySet", "parse_duration", "read_queries"]

#: The most points Prometheus returns for one series of one query (it refuses 11,000+).
MAX_POINTS = 10_000
#: The most steps :meth:`PrometheusReader.fetch` reads per series (about a year of one-minute
#: steps); a longer window is refused before any query.
MAX_FETCH_POINTS = 600_000
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0, "y": 31536000.0}
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class PrometheusError(FaultgraphError):
    """Prometheus could not give the metrics asked for."""


class PrometheusUnavailableError(PrometheusError):
    """Prometheus cannot be reached or keeps failing (after the retries)."""


class PrometheusQueryError(PrometheusError, InvalidInputError):
    """Prometheus refused a query, or its answer does not fit the QUERIES.yaml."""


def parse_duration(value: Any, name: str = "step") -> float:
    """Seconds of a Prometheus duration (``15s``, ``1m30s``, ``1h``) or a number.

    Parameters
    ----------
    value : Any
        A number of seconds, a number as text, or a duration of ``ms``, ``s``, ``m``,
        ``h``, ``d``, ``w``, ``y`` parts.
    name : str, default "step"
        The option's name, for the messages.

    Returns
    -------
    float
        Seconds, > 0.

    Raises
    ------
    InvalidInputError
        Naming ``name``, when ``value`` is neither a number nor a duration, or is not a
        finite number > 0.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and re.fullmatch(r"(\d+(?:\.\d+)?(ms|s|m|h|d|w|y))+", value.strip()):
        seconds = sum(float(n) * _UNITS[u] for n, u in _DURATION.findall(value.strip()))
    else:
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            raise InvalidInputError(f"{name} must be seconds or a duration such as '15s', '1m', '1h30m', "
                                    f"got {value!r}") from None
    if not seconds > 0 or seconds != seconds or seconds == float("inf"):
        raise InvalidInputError(f"{name} must be > 0 seconds, got {value!r}")
    return seconds


@dataclass(frozen=True)
class PromQuery:
    """One entry of QUERIES.yaml.

    Parameters
    ----------
    metric : str
        The metric name, or a template naming each series from its labels
        (``"{service}_traffic"``).
    query : str
        Its PromQL.
    service : str or None, default None
        The service it belongs to (fixed).
    service_label : str or None, default None
        The label naming each series' service.
    """

    metric: str
    query: str
    service: str | None = None
    service_label: str | None = None

    @property
    def template(self) -> bool:
        """Whether ``metric`` is a template (holds a ``{label}`` placeholder)."""
        return _PLACEHOLDER.search(self.metric) is not None

    def name(self, labels: dict[str, str]) -> str:
        """The metric name of a series with ``labels``.

        Parameters
        ----------
        labels : dict of str to str
            The series' labels.

        Returns
        -------
        str
            ``metric`` with each ``{label}`` placeholder replaced by the label's value.

        Raises
        ------
        PrometheusQueryError
            When a placeholder names a label the series lacks.
        """
        def fill(match: re.Match[str]) -> str:
            if match.group(1) not in labels:
                raise PrometheusQueryError(f"query {self.metric!r} names a series by the label {match.group(1)!r}, "
                                           f"which a series lacks (its labels: {sorted(labels)})")
            return labels[match.group(1)]

        return _PLACEHOLDER.sub(fill, self.metric)

    def service_of(self, labels: dict[str, str]) -> str | None:
        """The service of a series with ``labels``: ``service`` if set, else the value of
        ``service_label``.

        Parameters
        ----------
        labels : dict of str to str
            The series' labels.

        Returns
        -------
        str or None
            ``None`` when neither is set, or the series lacks the label.
        """
        if self.service is not None:
            return self.service
        if self.service_label is not None:
            return labels.get(self.service_label)
        return None


@dataclass(frozen=True)
class QuerySet:
    """A QUERIES.yaml: the queries and the default step.

    Parameters
    ----------
    queries : tuple of PromQuery
        In the file's order.
    step : float or None, default None
        The query step in seconds, or ``None`` when the file gives none.
    source : str, default "QUERIES.yaml"
        The file, for messages (not compared).
    """

    queries: tuple[PromQuery, ...]
    step: float | None = None
    source: str = field(default="QUERIES.yaml", compare=False)


def read_queries(path: str | Path | dict[str, Any]) -> QuerySet:
    """A QUERIES.yaml file (or its already-read mapping) as a :class:`QuerySet`.

    Parameters
    ----------
    path : str or Path or dict
        The file, or its content: ``{"step"?: duration, "queries": {metric: PromQL or
        {query, service?, service_label?}}}``.

    Returns
    -------
    QuerySet

    Raises
    ------
    InvalidInputError
        When the file cannot be read or is not valid YAML, has no non-empty ``queries``
        mapping or unknown keys, a step that is no duration, or an entry with an empty
        name, unknown keys, no PromQL string, or a ``service``/``service_label`` that is
        not a string.
    """
    import yaml

    source = "queries" if isinstance(path, dict) else str(path)
    if isinstance(path, dict):
        spec = path
    else:
        try:
            spec = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise InvalidInputError(f"queries file {source!r} cannot be read: {exc.strerror or exc}") from None
        except yaml.YAMLError as exc:
            raise InvalidInputError(f"queries file {source!r} is not valid YAML: {exc}") from None
    if not isinstance(spec, dict) or not isinstance(spec.get("queries"), dict) or not spec["queries"]:
        raise InvalidInputError(f"queries file {source!r} needs a 'queries' mapping of metric name -> PromQL "
                                "(or -> {query, service?, service_label?})")
    unknown = sorted(set(spec) - {"step", "queries"})
    if unknown:
        raise InvalidInputError(f"queries file {source!r} has unknown keys {unknown}; allowed: step, queries")
    step = parse_duration(spec["step"], f"{source}: step") if spec.get("step") is not None else None
    out = []
    for metric, entry in spec["queries"].items():
        where = f"queries file {source!r}, metric {metric!r}"
        if not isinstance(metric, str) or not metric.strip():
            raise InvalidInputError(f"{where}: a metric name must be a non-empty string")
        if isinstance(entry, str):
            entry = {"query": entry}
        if not isinstance(entry, dict):
            raise InvalidInputError(f"{where}: expected a PromQL string or {{query, service?, service_label?}}, "
                                    f"got {type(entry).__name__}")
        extra = sorted(set(entry) - {"query", "service", "service_label"})
        if extra:
            raise InvalidInputError(f"{where}: unknown keys {extra}; allowed: query, service, service_label")
        query = entry.get("query")
        if not isinstance(query, str) or not query.strip():
            raise InvalidInputError(f"{where}: 'query' must be a PromQL string, got {query!r}")
        for key in ("service", "service_label"):
            if entry.get(key) is not None and not isinstance(entry[key], str):
                raise InvalidInputError(f"{where}: {key!r} must be a string, got {entry[key]!r}")
        out.append(PromQuery(metric.strip(), query.strip(), entry.get("service"), entry.get("service_label")))
    return QuerySet(tuple(out), step, source)


class PrometheusReader:
    """Range queries against the Prometheus at ``url``.

    Parameters
    ----------
    url : str
        The base URL (``http://prometheus:9090``; a path prefix is kept).
    timeout : float, default 10.0
        Seconds for one request (also sent as the query's own timeout), > 0.
    retries : int, default 3
        Further tries after a failed connection, a timeout, a 5xx or a 429; >= 0.
    backoff : float, default 0.5
        Seconds before the first retry, doubled each time.
    headers : dict of str to str or None, default None
        Extra HTTP headers (an ``Authorization`` for a proxy, say).
    transport : httpx.BaseTransport or None, default None
        An httpx transport (tests).

    Raises
    ------
    InvalidInputError
        When ``url`` is not an http(s) URL, ``retries`` is not an integer >= 0, or
        ``timeout`` is not > 0.
    """

    def __init__(self, url: str, *, timeout: float = 10.0, retries: int = 3, backoff: float = 0.5,
                 headers: dict[str, str] | None = None, transport: Any = None) -> None:
        if not isinstance(url, str) or not re.match(r"^https?://[^\s/]+", url):
            raise InvalidInputError(f"prometheus must be an http(s) URL such as http://localhost:9090, got {url!r}")
        from faultgraph._validation import check_whole

        check_whole("retries", retries, 0)
        if not (isinstance(timeout, (int, float)) and timeout > 0):
            raise InvalidInputError(f"timeout must be seconds > 0, got {timeout!r}")
        self.url = url.rstrip("/")
        self.timeout = float(timeout)
        self.retries = retries
        self.backoff = float(backoff)
        self.headers = dict(headers or {})
        self.transport = transport

    def _client(self) -> Any:
        from faultgraph.service._extra import require

        httpx = require("httpx")
        return httpx.Client(timeout=self.timeout, headers=self.headers, transport=self.transport)

    def query_range(self, query: str, start: float, end: float, step: float, *, client: Any = None
                    ) -> list[dict[str, Any]]:
        """The ``data.result`` of one range query (a list of ``{metric, values}`` series).

        Parameters
        ----------
        query : str
            The PromQL.
        start, end : float
            Unix seconds.
        step : float
            Seconds between points.
        client : httpx.Client or None, default None
            An open client to use; ``None`` opens one for this call (closed after).

        Returns
        -------
        list of dict

        Raises
        ------
        PrometheusUnavailableError
            When every try failed (connection errors, timeouts, 5xx or 429 answers).
        PrometheusQueryError
            When Prometheus refuses the query, or its answer is no matrix.
        """
        import httpx

        params = {"query": query, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}",
                  "timeout": f"{self.timeout:g}s"}
        own = client is None
        client = self._client() if own else client
        try:
            last = ""
            for attempt in range(self.retries + 1):
                if attempt:
                    time.sleep(self.backoff * 2 ** (attempt - 1))
                try:
                    response = client.post(f"{self.url}/api/v1/query_range", data=params)
                except httpx.TransportError as exc:
                    last = f"{type(exc).__name__}: {exc}"
                    continue
                if response.status_code >= 500 or response.status_code == 429:
                    last = f"HTTP {response.status_code}: {response.text[:200]}"
                    continue
                return self._result(response, query)
        finally:
            if own:
                client.close()
        raise PrometheusUnavailableError(
            f"Prometheus at {self.url} did not answer after {self.retries + 1} tries ({last}); is it running and "
            "reachable from here?")

    @staticmethod
    def _result(response: Any, query: str) -> list[dict[str, Any]]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200 or not isinstance(body, dict) or body.get("status") != "success":
            reason = body.get("error") if isinstance(body, dict) else response.text[:200]
            raise PrometheusQueryError(f"Prometheus refused the query {query!r} (HTTP {response.status_code}): "
                                       f"{reason}")
        data = body.get("data")
        if not isinstance(data, dict) or data.get("resultType") != "matrix" or not isinstance(data.get("result"), list):
            raise PrometheusQueryError(f"the query {query!r} did not give a range of series (resultType 'matrix')")
        return data["result"]

    def fetch(self, queries: QuerySet, start: float, end: float, step: float | None = None) -> pd.DataFrame:
        """The metrics of ``queries`` from ``start`` to ``end``, one column each, on a time
        index (UTC); ``frame.attrs['services']`` maps metric → service where the queries say.

        Long ranges are asked in chunks of at most :data:`MAX_POINTS` points a series; a
        repeated timestamp keeps the last value.

        Parameters
        ----------
        queries : QuerySet
            What to ask for.
        start, end : float
            Unix seconds; ``end`` must come after ``start``.
        step : float or str or None, default None
            Seconds or a duration between points; ``None``: the queries' step, else 15 s.

        Returns
        -------
        pandas.DataFrame
            As :func:`~faultgraph.io.metrics.to_metric_frame` returns it.

        Raises
        ------
        InvalidInputError
            When ``step`` is invalid or ``end`` does not come after ``start``.
        PrometheusQueryError
            When a query is refused, gives no samples, or gives two series of one name.
        PrometheusUnavailableError
            When Prometheus cannot be reached.
        """
        import pandas as pd

        from faultgraph.io.metrics import to_metric_frame

        step = parse_duration(step if step is not None else (queries.step or 15.0))
        if not (math.isfinite(start) and math.isfinite(end)):
            raise InvalidInputError(f"start and end must be finite Unix seconds, got {start} and {end}")
        if not end > start:
            raise InvalidInputError(f"end ({end}) must come after start ({start})")
        if (end - start) / step > MAX_FETCH_POINTS:
            raise InvalidInputError(
                f"the window {start:.0f} .. {end:.0f} spans {(end - start) / step:,.0f} steps of {step:g} s; at most "
                f"{MAX_FETCH_POINTS:,} are read per series (a window that reaches that far is a bad time, or a "
                "longer step is needed)")
        chunks = []
        t = float(start)
        while t <= end:
            chunk_end = min(float(end), t + step * (MAX_POINTS - 1))
            chunks.append((t, chunk_end))
            t = chunk_end + step
        rows: list[tuple[float, str, float]] = []
        services: dict[str, str] = {}
        origin: dict[str, str] = {}
        with self._client() as client:
            for q in queries.queries:
                seen = 0
                for a, b in chunks:
                    result = self.query_range(q.query, a, b, step, client=client)
                    for series in result:
                        labels = series.get("metric") or {}
                        name = q.name(labels) if q.template else q.metric
                        if name in origin and origin[name] != _series_id(labels, q):
                            raise PrometheusQueryError(
                                f"the query for {q.metric!r} gives more than one series named {name!r} "
                                f"({origin[name]} and {_series_id(labels, q)}); aggregate it (sum by (...)) or "
                                "name its series with a {label} template")
                        origin[name] = _series_id(labels, q)
                        service = q.service_of(labels)
                        if service:
                            services[name] = service
                        for ts, value in series.get("values") or ():
                            rows.append((float(ts), name, float(value)))
                            seen += 1
                if not seen:
                    raise PrometheusQueryError(f"the query for {q.metric!r} ({q.query!r}) returned no samples "
                                               f"between {start:.0f} and {end:.0f}")
        raw = pd.DataFrame(rows, columns=["timestamp", "metric", "value"])
        frame = to_metric_frame(raw, layout="long", on_duplicate="last", source=f"Prometheus at {self.url}")
        frame.attrs["services"] = services
        return frame


def _series_id(labels: dict[str, str], q: PromQuery) -> str:
    return q.metric + "|" + ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
