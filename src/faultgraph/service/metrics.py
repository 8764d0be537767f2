"""The service's own metrics in Prometheus' text exposition format (version 0.0.4)."""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping

__all__ = ["CONTENT_TYPE", "LatencyHistogram", "exposition"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Upper bounds (seconds) of the explain latency histogram's buckets.
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0)


class LatencyHistogram:
    """A cumulative histogram of durations (thread-safe).

    Parameters
    ----------
    buckets : tuple of float, default BUCKETS
        Upper bounds of the buckets, in seconds (sorted on construction); a ``+Inf`` bucket
        is always added to the output.
    """

    def __init__(self, buckets: tuple[float, ...] = BUCKETS) -> None:
        self.buckets = tuple(sorted(buckets))
        self._counts = [0] * len(self.buckets)
        self._sum = 0.0
        self._count = 0
        self._lock = threading.Lock()

    def observe(self, seconds: float) -> None:
        """Count one duration.

        Parameters
        ----------
        seconds : float
            The duration; it is counted in every bucket whose bound is at least ``seconds``.
        """
        with self._lock:
            self._sum += seconds
            self._count += 1
            for i, bound in enumerate(self.buckets):
                if seconds <= bound:
                    self._counts[i] += 1

    def lines(self, name: str) -> list[str]:
        """The histogram as exposition lines: one ``_bucket`` line per bound (``+Inf`` last),
        then ``_sum`` and ``_count``.

        Parameters
        ----------
        name : str
            The metric's name, e.g. ``"faultgraph_explain_seconds"``.

        Returns
        -------
        list of str
            The lines, without ``# HELP``/``# TYPE`` headers or newlines.
        """
        with self._lock:
            counts, total, count = list(self._counts), self._sum, self._count
        out = [f'{name}_bucket{{le="{_number(b)}"}} {c}' for b, c in zip(self.buckets, counts)]
        out += [f'{name}_bucket{{le="+Inf"}} {count}', f"{name}_sum {_number(total)}", f"{name}_count {count}"]
        return out


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    value = float(value)
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def exposition(by_status: Mapping[str, int], latency: LatencyHistogram, queue_depth: int,
               accepted: int = 0, rejected: int = 0, retrying: int | None = None) -> str:
    """The text page of ``GET /metrics``.

    Parameters
    ----------
    by_status : Mapping of str to int
        Incidents in the store by status (the ``faultgraph_incidents`` gauge).
    latency : LatencyHistogram
        Time to explain one incident (the ``faultgraph_explain_seconds`` histogram).
    queue_depth : int
        Incidents waiting for a worker (queued in the store and due: in memory or not).
    accepted : int, default 0
        Alerts accepted by the webhook so far (a counter).
    rejected : int, default 0
        Requests answered with a 4xx so far (a counter).
    retrying : int or None, default None
        Queued incidents waiting for their retry time (Prometheus was away); the
        ``faultgraph_incidents_retrying`` gauge, left out with ``None``.

    Returns
    -------
    str
        The page in Prometheus' text format 0.0.4 (see :data:`CONTENT_TYPE`), ending in a
        newline.
    """
    lines = ["# HELP faultgraph_incidents Incidents in the store, by status.",
             "# TYPE faultgraph_incidents gauge"]
    lines += [f'faultgraph_incidents{{status="{_escape(s)}"}} {int(n)}' for s, n in sorted(by_status.items())]
    lines += ["# HELP faultgraph_explain_seconds Time to explain one incident (load data, explain, report).",
              "# TYPE faultgraph_explain_seconds histogram", *latency.lines("faultgraph_explain_seconds"),
              "# HELP faultgraph_queue_depth Incidents queued in the store and due, waiting for a worker.",
              "# TYPE faultgraph_queue_depth gauge", f"faultgraph_queue_depth {int(queue_depth)}",
              "# HELP faultgraph_alerts_accepted_total Alerts accepted by the webhook.",
              "# TYPE faultgraph_alerts_accepted_total counter", f"faultgraph_alerts_accepted_total {int(accepted)}",
              "# HELP faultgraph_requests_rejected_total Requests answered with a 4xx.",
              "# TYPE faultgraph_requests_rejected_total counter",
              f"faultgraph_requests_rejected_total {int(rejected)}"]
    if retrying is not None:
        lines += ["# HELP faultgraph_incidents_retrying Queued incidents waiting to be tried again (Prometheus "
                  "was away).", "# TYPE faultgraph_incidents_retrying gauge",
                  f"faultgraph_incidents_retrying {int(retrying)}"]
    return "\n".join(lines) + "\n"
