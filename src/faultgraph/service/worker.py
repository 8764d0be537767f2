"""The work behind the webhook: a bounded queue, a small pool of worker threads, and the
data each explanation reads.

An incident reaches a worker by its id: straight from the route that stored it, or — when
the queue was full, or at start for the incidents a stopped server left ``queued`` or
``running`` — from a sweep of the store every second. The store decides who works on
what (:meth:`~faultgraph.service.store.IncidentStore.claim`), so an id queued twice is
explained once.

An incident whose data cannot be read because Prometheus is away
(:class:`~faultgraph.io.prometheus.PrometheusUnavailableError`) is not failed at once: it
goes back to ``queued`` in the store with a ``retry_at`` time (doubling from
``retry_backoff`` up to :data:`RETRY_MAX_DELAY`), and fails only at its ``attempts``-th try.
Its state lives in the store, so a restart keeps the schedule.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faultgraph.errors import FaultgraphError, InvalidInputError
from faultgraph.service.metrics import LatencyHistogram

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from faultgraph.service.settings import ServiceSettings
    from faultgraph.service.store import IncidentStore

__all__ = ["Explainer", "WorkerPool", "resolve_window", "retry_delay"]

log = logging.getLogger("faultgraph.service")
#: Seconds after which an incident still ``running`` is taken for one whose worker could not
#: store its result, and queued again by the sweep (an explanation takes seconds).
STALE_RUNNING = 900.0
#: Reports ranked but not yet drawn that a worker pool keeps (each holds the frame of its
#: window: in Prometheus mode, its own); older ones are drawn again from the rca when asked for.
MAX_PENDING_REPORTS = 64
#: Seconds :meth:`WorkerPool.stop` waits for busy workers; an incident still being explained
#: then is queued again (the worker threads are daemons: they do not hold the process).
STOP_TIMEOUT = 2.0
#: Tries of an incident while Prometheus is away (the first included), the wait before the
#: second, and the longest wait: 30 s doubling to 10 min, about 35 min of outage in all.
RETRY_ATTEMPTS = 8
RETRY_BACKOFF = 30.0
RETRY_MAX_DELAY = 600.0


def retry_delay(attempt: int, backoff: float = RETRY_BACKOFF, ceiling: float = RETRY_MAX_DELAY) -> float:
    """Seconds to wait after the failed try number ``attempt`` (1 for the first).

    Parameters
    ----------
    attempt : int
        The try that failed, from 1.
    backoff : float, default RETRY_BACKOFF
        The wait after the first; it doubles with each further try.
    ceiling : float, default RETRY_MAX_DELAY
        The longest wait.

    Returns
    -------
    float
        ``min(backoff * 2 ** (attempt - 1), ceiling)``.
    """
    return min(backoff * 2.0 ** min(max(attempt - 1, 0), 60), ceiling)


def _bound_value(value: Any, index: pd.Index, name: str) -> Any:
    """A stored window bound (RFC 3339 text or a number) in ``index``'s terms."""
    import pandas as pd

    from faultgraph.service.alerts import parse_time

    if isinstance(index, pd.DatetimeIndex):
        if isinstance(value, str):
            try:
                stamp = pd.Timestamp(parse_time(value, name))
            except InvalidInputError:  # a bound as rca.json writes it for a data set without a zone
                try:
                    stamp = pd.Timestamp(value)
                except ValueError:
                    raise InvalidInputError(f"window {name} {value!r} is no time") from None
                stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
        else:
            try:
                stamp = pd.Timestamp(float(value), unit="s", tz="UTC")
            except (ValueError, OverflowError):  # pandas' OutOfBoundsDatetime is a ValueError
                raise InvalidInputError(f"window {name} {value!r} is no Unix time (seconds) the data can "
                                        "hold") from None
        if index.tz is None:
            return stamp.tz_convert("UTC").tz_localize(None)
        return stamp.tz_convert(index.tz)
    if isinstance(value, str):
        raise InvalidInputError(f"window {name} {value!r} is a time, but the data has no time index "
                                "(its rows are steps): ask with step numbers")
    return value


def resolve_window(index: pd.Index, window: dict[str, Any]) -> tuple[Any, Any]:
    """The stored ``{start, end}`` window as bounds inside ``index``: times to the index's
    clock, an open end to the newest row, both clipped to the rows there are.

    Parameters
    ----------
    index : pandas.Index
        The data's index: a DatetimeIndex (bounds may be RFC 3339 text or Unix seconds;
        text without a zone is taken as UTC) or step numbers (bounds must be numbers).
    window : dict
        ``{"start": ..., "end": ...}``; ``end`` may be missing or None (the newest row).

    Returns
    -------
    tuple
        ``(start, end)`` in the index's terms, within its first and last row.

    Raises
    ------
    InvalidInputError
        When the data holds no rows, a bound is no time (or a time on data without a time
        index), or the window lies outside the data.
    """
    if len(index) == 0:
        raise InvalidInputError("the data holds no rows")
    start = _bound_value(window["start"], index, "start")
    end = index[-1] if window.get("end") is None else _bound_value(window["end"], index, "end")
    if start > index[-1] or end < index[0]:
        raise InvalidInputError(f"the incident window {start} .. {end} lies outside the data "
                                f"({index[0]} .. {index[-1]})")
    return max(start, index[0]), min(end, index[-1])


@dataclass
class _FileCache:
    key: tuple[float, int] | None = None
    frame: Any = None


class Explainer:
    """A loaded model and where its data come from: explains one incident window.

    Parameters
    ----------
    settings : ServiceSettings
        The service's configuration: the model folder, and the metrics file or the
        Prometheus URL with its queries.
    model : CausalDetector or None, default None
        An already loaded model; ``None`` loads ``settings.model_dir``.

    Raises
    ------
    InvalidInputError
        When the model is no :class:`~faultgraph.detect.CausalDetector` (one fitted with
        ``--label`` explains no window), or the Prometheus query step differs from the
        step the model was fitted at.
    """

    def __init__(self, settings: ServiceSettings, model: Any = None) -> None:
        from faultgraph.workflows import load_model

        self.settings = settings
        self.model = model if model is not None else load_model(settings.model_dir)
        from faultgraph.detect import CausalDetector

        if not isinstance(self.model, CausalDetector):  # a labelled model explains no window
            raise InvalidInputError(f"model {str(settings.model_dir)!r} is a {type(self.model).__name__} (fitted "
                                    f"with --label); the service explains windows with a model fitted without "
                                    f"--label: faultgraph fit DATA --out MODEL")
        #: the metrics a window's target may name (the model's)
        self.metrics: tuple[str, ...] = tuple(str(m) for m in self.model.encoder_.columns_)
        self._cache = _FileCache()
        self._lock = threading.Lock()
        self._reader = None
        self._queries = None
        if settings.prometheus is not None:
            from faultgraph.io.prometheus import PrometheusReader, read_queries

            self._queries = read_queries(settings.queries)
            self._reader = PrometheusReader(settings.prometheus)
            fitted = getattr(self.model.encoder_, "step_", None)
            if fitted and abs(self.step - float(fitted)) > 1e-9 * float(fitted):
                given = "--step" if settings.step is not None else "QUERIES.yaml's step"
                raise InvalidInputError(
                    f"{given} {self.step:g}s differs from the step the model was fitted at ({float(fitted):g}s): its "
                    f"lags and windows count rows, so they would mean other durations; query at {float(fitted):g}s "
                    f"(leave --step out) or fit the model on data at {self.step:g}s")

    def timestamped(self) -> bool:
        """Whether a window's numbers are Unix seconds: data from Prometheus, or a metrics
        file whose rows are time-stamped (else they are steps). Reads the file (once: it is
        kept until it changes); a file that cannot be read says no (the incident fails later
        with the reason)."""
        import pandas as pd

        if self._reader is not None:
            return True
        try:
            return isinstance(self.frame({}).index, pd.DatetimeIndex)
        except FaultgraphError:
            return False

    @property
    def step(self) -> float:
        """The Prometheus query step in seconds: the settings', else QUERIES.yaml's, else the
        step of the model's training data (its lags and windows count rows), else 15."""
        if self.settings.step is not None:
            return float(self.settings.step)
        if self._queries is not None and self._queries.step:
            return float(self._queries.step)
        fitted = getattr(getattr(self.model, "encoder_", None), "step_", None)
        return float(fitted) if fitted else 15.0

    def frame(self, window: dict[str, Any]) -> pd.DataFrame:
        """The metrics that cover ``window`` (and its history).

        A metrics file is read again only when its modification time or size changed;
        from Prometheus, ``settings.history`` steps before the window's start up to its end
        (or now) are fetched.

        Parameters
        ----------
        window : dict
            ``{"start": ..., "end": ...}`` (RFC 3339 text or numbers; ``end`` may be None).

        Returns
        -------
        pandas.DataFrame
            One column per metric.

        Raises
        ------
        InvalidInputError
            When the metrics file cannot be read, or a bound is no time.
        """
        if self._reader is None:
            from faultgraph.workflows import load_metrics

            path = Path(self.settings.data)
            try:
                stat = path.stat()
            except OSError as exc:
                raise InvalidInputError(f"metrics file {str(path)!r} cannot be read: {exc.strerror}") from None
            key = (stat.st_mtime, stat.st_size)
            with self._lock:
                if self._cache.key != key:
                    self._cache = _FileCache(key, load_metrics(path, model=self.model))
                return self._cache.frame
        from faultgraph.service.alerts import parse_time

        def seconds(value: Any, name: str) -> float:
            return parse_time(value, name).timestamp() if isinstance(value, str) else float(value)

        start = seconds(window["start"], "start") - self.settings.history * self.step
        end = time.time() if window.get("end") is None else seconds(window["end"], "end")
        return self._reader.fetch(self._queries, start, end, self.step)

    def explain(self, window: dict[str, Any], target: str | None, scales: str | None = None
                ) -> tuple[dict[str, Any], Callable[[], str]]:
        """``(rca, render)``: the rca.json document of ``window`` and a function that renders
        its HTML report (called later: the report costs more than the ranking).

        Parameters
        ----------
        window : dict
            ``{"start": ..., "end": ...}``; see :func:`resolve_window`.
        target : str or None
            The metric to explain; ``None`` keeps the settings' ``explain.target``.
        scales : str, optional
            The ranking's scales; ``None`` keeps the settings' ``explain.scales``.

        Returns
        -------
        tuple of (dict, callable)
            The rca.json document (:class:`~faultgraph.workflows.RcaDocument`) and a
            no-argument function returning the HTML report.

        Raises
        ------
        InvalidInputError
            When the window and the data do not meet, or the data cannot be read.
        """
        from faultgraph.config import RankingScales
        from faultgraph.rca.ranking import default_service
        from faultgraph.workflows import RcaDocument, explain_window, render_report

        unknown = None
        if target is not None and str(target).strip() not in self.metrics:  # an alert's annotation: a typo
            unknown, target = target, None  # falls back to the automatic symptom, said in the caveats
        target = None if target is None else str(target).strip()
        frame = self.frame(window)
        bounds = resolve_window(frame.index, window)
        config = self.settings.explain if target is None else self.settings.explain.replace(target=target)
        if scales is not None:
            config = config.replace(scales=RankingScales(scales))
        services = frame.attrs.get("services") or None  # from QUERIES.yaml; else from the names
        if services:
            services = {m: services.get(m) or default_service(m) for m in frame.columns}
        explanation = explain_window(self.model, frame, bounds, config, services=services)
        source = str(self.settings.data) if self.settings.data is not None else self.settings.prometheus
        rca = RcaDocument(explanation, data=source).to_dict()
        if unknown is not None:
            rca["caveats"] = {**(rca.get("caveats") or {}), "faultgraph_target": (
                f"the alert's faultgraph_target {str(unknown)[:200]!r} is not a metric of the model, so the "
                f"symptom was chosen automatically ({explanation.target})")}
        return rca, lambda: render_report(self.model, frame, explanation)

    def report(self, rca: dict[str, Any], target: str | None) -> str:
        """The HTML report of an explained incident whose rendering was not kept: its window
        (``rca['window']``, closed) explained again, on the scales it was ranked on
        (``rca['scales']``; the model's for an incident stored before they were recorded),
        and rendered.

        Parameters
        ----------
        rca : dict
            The incident's rca.json document.
        target : str or None
            The metric that was explained.

        Returns
        -------
        str
            The HTML report.
        """
        window = {"start": rca["window"][0], "end": rca["window"][1]}
        return self.explain(window, target, str(rca.get("scales", "model")))[1]()


class _FailureLog:
    """Logs a repeating failure without flooding the log: the first failure in full (with
    its traceback), then one line a minute while it lasts (how many times), and one line
    when it is over."""

    def __init__(self, what: str, every: float = 60.0) -> None:
        self.what, self.every = what, every
        self.count, self.since, self.last = 0, 0.0, 0.0

    def failed(self, exc: BaseException) -> None:
        now = time.monotonic()
        self.count += 1
        if self.count == 1:
            self.since = self.last = now
            log.error("%s failed: %s: %s", self.what, type(exc).__name__, str(exc).splitlines()[0][:300] if str(exc)
                      else "", exc_info=exc)
        elif now - self.last >= self.every:
            self.last = now
            log.error("%s still fails (%d times in %.0f s): %s", self.what, self.count, now - self.since,
                      type(exc).__name__)

    def recovered(self) -> None:
        if self.count:
            log.warning("%s works again after %d failure(s) in %.0f s", self.what, self.count,
                        time.monotonic() - self.since)
        self.count = 0


class WorkerPool:
    """``workers`` threads explaining the incidents queued in ``store`` (a bounded queue
    of ``queue_size`` ids, refilled from the store when it had no room).

    An incident is ``done`` once ranked; its HTML report (which costs more than the
    ranking) is drawn afterwards by one more thread, once no alert came for ``quiet``
    seconds and none waits to be ranked, or at once when someone asks for it
    (:meth:`report`): a burst of alerts is ranked first.

    Parameters
    ----------
    store : IncidentStore
        Where incidents are claimed from and results stored.
    explainer : Explainer
        Anything with the :class:`Explainer` methods ``explain`` and ``report``.
    workers : int, default 2
        Worker threads.
    queue_size : int, default 1000
        Size of the bounded queue of ids; the reports kept waiting to be drawn are at most
        this many and :data:`MAX_PENDING_REPORTS`.
    sweep_every : float, default 1.0
        Seconds between sweeps of the store for queued incidents.
    quiet : float, default 2.0
        Seconds without a submitted incident before reports are drawn.
    attempts : int, default RETRY_ATTEMPTS
        Tries of an incident while Prometheus is away, the first included (1: no retry).
    retry_backoff : float, default RETRY_BACKOFF
        Seconds before the second try; doubled for each further one, at most
        :data:`RETRY_MAX_DELAY`.
    """

    def __init__(self, store: IncidentStore, explainer: Any, *, workers: int = 2, queue_size: int = 1000,
                 sweep_every: float = 1.0, quiet: float = 2.0, attempts: int = RETRY_ATTEMPTS,
                 retry_backoff: float = RETRY_BACKOFF) -> None:
        self.store = store
        self.attempts = attempts
        self.retry_backoff = retry_backoff
        self._claimed: dict[int, int] = {}  # id -> revision, while a worker explains it
        self.quiet = quiet
        self._last_submit = 0.0
        self.explainer = explainer
        self.workers = workers
        self.queue: queue.Queue[int] = queue.Queue(maxsize=queue_size)
        self.sweep_every = sweep_every
        self.latency = LatencyHistogram()
        self._queued: set[int] = set()
        self._renders: dict[int, tuple[int, Callable[[], str]]] = {}  # id -> (revision, render)
        self._guard = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Queue what a stopped server left unfinished, then start the threads."""
        for incident_id in self.store.requeue_unfinished():
            self.submit(incident_id)
        self._stop.clear()
        self._threads = [threading.Thread(target=self._work, name=f"faultgraph-worker-{i}", daemon=True)
                         for i in range(self.workers)]
        self._threads.append(threading.Thread(target=self._sweep, name="faultgraph-sweeper", daemon=True))
        self._threads.append(threading.Thread(target=self._draw, name="faultgraph-reporter", daemon=True))
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop taking work. An incident being explained may finish within ``timeout``;
        one still being explained then (a slow or silent Prometheus) is queued again in the
        store, for the next start or another server, and its thread left behind (a daemon).

        Parameters
        ----------
        timeout : float, default STOP_TIMEOUT
            Seconds to wait, in all, for the threads to end.
        """
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads = []
        with self._guard:
            held = list(self._claimed.items())
        for incident_id, revision in held:
            try:
                if self.store.release(incident_id, revision):
                    log.warning("incident %s was still being explained at shutdown: queued again", incident_id)
            except Exception:  # noqa: BLE001 - the store is away: the next start queues it again
                log.exception("incident %s could not be queued again at shutdown", incident_id)

    def _draw(self) -> None:
        """Draw the pending reports, oldest first, while nothing else is going on."""
        while not self._stop.wait(0.2):
            while not self._stop.is_set():
                with self._guard:
                    busy = self._queued or time.monotonic() - self._last_submit < self.quiet
                    incident_id = next(iter(self._renders), None) if not busy else None
                if incident_id is None:
                    break
                try:
                    self.render(incident_id)
                except Exception:  # noqa: BLE001 - the store failed: drawn when asked for
                    log.exception("incident %s: the report could not be stored", incident_id)

    def submit(self, incident_id: int) -> bool:
        """Queue ``incident_id``.

        Parameters
        ----------
        incident_id : int
            The incident's id; an id already queued is not queued twice.

        Returns
        -------
        bool
            True when queued (or already queued); False when the queue is full (the sweep
            takes it later).
        """
        with self._guard:
            self._last_submit = time.monotonic()
            if incident_id in self._queued:
                return True
            try:
                self.queue.put_nowait(incident_id)
            except queue.Full:
                return False
            self._queued.add(incident_id)
            return True

    def _sweep(self) -> None:
        failing = _FailureLog("sweeping the store")
        while not self._stop.wait(self.sweep_every):
            try:  # a result that could not be stored left its incident running: queue it again
                stale = self.store.requeue_stale(time.time() - STALE_RUNNING)
                if stale:
                    log.warning("%d incident(s) left running for %.0f s were queued again", stale, STALE_RUNNING)
                room = self.queue.maxsize - self.queue.qsize()
                if room > 0:
                    for incident_id in self.store.queued_ids(limit=room + len(self._queued)):
                        if not self.submit(incident_id):
                            break
            except Exception as exc:  # noqa: BLE001 - a store hiccup: try at the next sweep
                failing.failed(exc)
            else:
                failing.recovered()

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                incident_id = self.queue.get(timeout=0.2)
            except queue.Empty:
                continue
            if self._stop.is_set():  # stopping: it stays queued in the store for the next start
                return
            try:
                with self._guard:
                    self._queued.discard(incident_id)
                self.run_one(incident_id)
            except Exception:  # noqa: BLE001 - the store failed: the sweep retries
                log.exception("incident %s could not be processed", incident_id)

    def run_one(self, incident_id: int) -> str | None:
        """Claim and rank one incident.

        An error while explaining marks the incident ``failed`` with its message (other
        exceptions than :class:`~faultgraph.errors.FaultgraphError` as ``internal error``,
        logged in full); Prometheus being away queues it again for a later try
        (:meth:`~faultgraph.service.store.IncidentStore.defer`) until its ``attempts``-th.

        Parameters
        ----------
        incident_id : int
            The incident's id.

        Returns
        -------
        str or None
            ``"done"``, ``"failed"`` or ``"retry"`` (queued again for later); ``None`` if not
            claimed, or changed while it was being explained (it is then queued again).
        """
        incident = self.store.claim(incident_id)
        if incident is None:
            return None
        with self._guard:  # stop() reads the claims under this lock after it sets _stop
            stopping = self._stop.is_set()
            if not stopping:
                self._claimed[incident_id] = incident["revision"]
        if stopping:  # claimed as the pool stopped: back to the queue, for the next start
            self.store.release(incident_id, incident["revision"])
            return None
        try:
            return self._rank(incident_id, incident)
        finally:
            with self._guard:
                self._claimed.pop(incident_id, None)

    def _rank(self, incident_id: int, incident: dict[str, Any]) -> str | None:
        from faultgraph.io.prometheus import PrometheusUnavailableError
        from faultgraph.service.alerts import format_time, from_unix

        started = time.perf_counter()
        try:
            rca, report = self.explainer.explain(incident["window"], incident.get("target"))
        except PrometheusUnavailableError as exc:  # away for now: try again later, kept in the store
            attempt = int(incident.get("attempts", 0)) + 1
            if attempt >= self.attempts:
                self.store.fail(incident_id, incident["revision"],
                                f"{exc} (try {attempt} of {self.attempts}: given up)")
                return "failed"
            delay = retry_delay(attempt, self.retry_backoff)
            when = time.time() + delay
            log.warning("incident %s: Prometheus unavailable (try %d of %d), retried in %.0f s", incident_id,
                        attempt, self.attempts, delay)
            self.store.defer(incident_id, incident["revision"], f"{exc} (try {attempt} of {self.attempts}; "
                             f"retried at {format_time(from_unix(when, 'retry_at'))})", when)
            return "retry"
        except FaultgraphError as exc:
            self.store.fail(incident_id, incident["revision"], str(exc))
            return "failed"
        except Exception as exc:  # noqa: BLE001 - a bug: kept with the incident, logged in full
            log.exception("incident %s: explain failed", incident_id)
            self.store.fail(incident_id, incident["revision"], f"internal error: {type(exc).__name__}: {exc}")
            return "failed"
        finally:
            self.latency.observe(time.perf_counter() - started)
        html = report if isinstance(report, str) else None
        if not self.store.finish(incident_id, incident["revision"], rca, html):
            return None  # changed meanwhile (a resolved alert): it is queued again
        if html is None:
            with self._guard:
                self._renders.pop(incident_id, None)
                self._renders[incident_id] = (incident["revision"], report)
                # memory stays bounded (each pending report holds its window's frame): beyond
                # MAX_PENDING_REPORTS the oldest are dropped, and drawn again when asked for
                while len(self._renders) > min(self.queue.maxsize, MAX_PENDING_REPORTS):
                    self._renders.pop(next(iter(self._renders)))
        return "done"

    def render(self, incident_id: int) -> None:
        """Render and store the report of a ranked incident (if still pending).

        A report that cannot be rendered is logged and the rca left as it is.

        Parameters
        ----------
        incident_id : int
            The incident's id.
        """
        with self._guard:
            pending = self._renders.pop(incident_id, None)
        if pending is None:
            return
        revision, render = pending
        try:
            html = render()
        except Exception:  # noqa: BLE001 - a report that cannot be drawn leaves the rca as it is
            log.exception("incident %s: the report could not be rendered", incident_id)
            return
        self.store.set_report(incident_id, revision, html)

    def report(self, incident_id: int) -> str | None:
        """The HTML report of a done incident: stored, rendered now from the kept ranking, or
        explained again from its rca's window.

        Parameters
        ----------
        incident_id : int
            The incident's id.

        Returns
        -------
        str or None
            The report; ``None`` if the incident is not done.
        """
        found = self.store.report(incident_id)
        if found is None or found[0] != "done":
            return None
        if found[1]:
            return found[1]
        self.render(incident_id)
        found = self.store.report(incident_id)
        if found is not None and found[1]:
            return found[1]
        incident = self.store.get(incident_id)
        if incident is None or incident["status"] != "done" or not incident.get("rca"):
            return None
        html = self.explainer.report(incident["rca"], incident.get("target"))
        self.store.set_report(incident_id, incident["revision"], html)
        return html
