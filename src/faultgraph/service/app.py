"""The FastAPI application: one workflow call per route, behind bearer tokens.

Routes (``/api/`` and ``/incidents/`` need ``Authorization: Bearer <token>``)::

    POST /api/v1/alerts            Alertmanager's webhook (v4) -> 202 {"incidents": [id, ...], "skipped"?}
    POST /api/v1/incidents         {start, end, target?}       -> 202 {"id": id, "incidents": [id]}
    GET  /api/v1/incidents         newest first; ?limit=&before=&status= -> {"incidents", "next"}
    GET  /api/v1/incidents/{id}    {id, status, alert, window, error?, rca, ...}
    GET  /incidents/{id}           the HTML report
    GET  /healthz                  no auth; {"status", "queue_depth", "retrying"}
    GET  /metrics                  Prometheus text: incidents by status, explain latency, queue depth (from
                                   the store), incidents waiting to retry
"""

# no `from __future__ import annotations`: FastAPI reads the routes' annotations, names local to create_app

import asyncio
import json
import logging
from contextlib import asynccontextmanager
from typing import Any

from faultgraph._validation import describe_names
from faultgraph.errors import FaultgraphError, InvalidInputError
from faultgraph.service._extra import require
from faultgraph.service.settings import ServiceSettings

__all__ = ["create_app"]

log = logging.getLogger("faultgraph.service")
PROTECTED = ("/api/", "/incidents/")
MAX_PAGE = 500
#: Reports drawn on request at once (each reads its window's data again); more requests wait
#: for their turn without holding a thread of the pool that the webhook needs.
REPORT_DRAWS = 2


class _BodyError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


async def _read_json(request: Any, limit: int, timeout: float = 30.0) -> Any:
    """The request's JSON body, at most ``limit`` bytes, all of it within ``timeout``
    seconds; a :class:`_BodyError` (413, 415, 408 for a client too slow, or 400) otherwise.

    uvicorn has no timeout of its own for a body that trickles in: without this one, a
    client could hold a connection (and the request's task) as long as it likes."""
    length = request.headers.get("content-length")
    if length is not None and (not length.strip().isdigit() or int(length) > limit):
        raise _BodyError(413, f"the body must be at most {limit} bytes, got Content-Length {length[:20]!r}")
    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if ctype and not (ctype == "application/json" or ctype.endswith("+json")):
        raise _BodyError(415, f"the body must be JSON (Content-Type application/json), got {ctype[:60]!r}")
    body = bytearray()

    async def read() -> None:
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > limit:
                raise _BodyError(413, f"the body must be at most {limit} bytes")

    try:
        await asyncio.wait_for(read(), timeout)
    except asyncio.TimeoutError:
        raise _BodyError(408, f"the body did not arrive within {timeout:g} s ({len(body)} bytes came)") from None
    if not body:
        raise _BodyError(400, "the body is empty; expected a JSON object")
    try:
        return json.loads(bytes(body), parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise _BodyError(400, f"the body is not valid JSON: {str(exc)[:200]}") from None


def create_app(settings: ServiceSettings, *, explainer: Any = None, store: Any = None, start_workers: bool = True
               ) -> Any:
    """The service's ASGI app.

    Parameters
    ----------
    settings : ServiceSettings
        The service's configuration.
    explainer : Explainer or None, default None
        What explains a window (default :class:`~faultgraph.service.worker.Explainer`,
        which loads the model once, at start).
    store : IncidentStore or None, default None
        The incident store (default: :class:`~faultgraph.service.store.IncidentStore`
        at ``settings.db_url``).
    start_workers : bool, default True
        Start the worker pool with the app (tests may drive it by hand).

    Returns
    -------
    fastapi.FastAPI
        The application; its lifespan creates the store's schema, starts the worker pool
        (with ``start_workers``) and stops it at shutdown.
    """
    fastapi = require("fastapi")
    from fastapi.concurrency import run_in_threadpool
    from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse

    from faultgraph.io.prometheus import PrometheusUnavailableError
    from faultgraph.rca.ranking import check_target
    from faultgraph.service import alerts as A
    from faultgraph.service.auth import authorized
    from faultgraph.service.metrics import CONTENT_TYPE, exposition
    from faultgraph.service.store import STATUSES, IncidentStore, StoreError
    from faultgraph.service.worker import Explainer, WorkerPool

    state: dict[str, Any] = {"accepted": 0, "rejected": 0}
    draws = asyncio.Semaphore(REPORT_DRAWS)

    @asynccontextmanager
    async def lifespan(app: Any) -> Any:
        own_store = store is None
        the_store = store if store is not None else IncidentStore(settings.db_url)
        await run_in_threadpool(the_store.create_schema)
        the_explainer = explainer if explainer is not None else await run_in_threadpool(Explainer, settings)
        pool = WorkerPool(the_store, the_explainer, workers=settings.workers, queue_size=settings.queue_size,
                          attempts=settings.retry_attempts, retry_backoff=settings.retry_backoff)
        state.update(store=the_store, pool=pool)
        if start_workers:
            await run_in_threadpool(pool.start)
        try:
            yield
        finally:
            await run_in_threadpool(pool.stop)
            if own_store:
                the_store.close()

    app = fastapi.FastAPI(title="faultgraph", summary="Alerts in, explained incidents out.", lifespan=lifespan,
                          docs_url=None, redoc_url=None, openapi_url=None)
    app.state.faultgraph = state

    def problem(status: int, message: str, **headers: str) -> Any:
        if 400 <= status < 500:
            state["rejected"] += 1
        return JSONResponse({"error": message}, status_code=status, headers=headers or None)

    @app.middleware("http")
    async def _auth(request: Any, call_next: Any) -> Any:
        if request.url.path.startswith(PROTECTED) and not authorized(request.headers.get("authorization"),
                                                                     settings.tokens):
            return problem(401, "a valid 'Authorization: Bearer <token>' header is needed",
                           **{"WWW-Authenticate": "Bearer"})
        try:
            return await call_next(request)
        except _BodyError as exc:
            return problem(exc.status, str(exc))

    @app.exception_handler(_BodyError)
    async def _body_error(request: Any, exc: _BodyError) -> Any:
        return problem(exc.status, str(exc))

    @app.exception_handler(InvalidInputError)
    async def _invalid(request: Any, exc: InvalidInputError) -> Any:
        return problem(400, str(exc))

    @app.exception_handler(StoreError)
    async def _store_down(request: Any, exc: StoreError) -> Any:
        return problem(503, str(exc))

    sqlalchemy = require("sqlalchemy")

    @app.exception_handler(sqlalchemy.exc.SQLAlchemyError)
    async def _store_error(request: Any, exc: Exception) -> Any:  # Alertmanager retries a 503
        log.error("the store failed: %s", type(exc).__name__)
        return problem(503, f"the incident store is unavailable ({type(exc).__name__}); retry later")

    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException as StarletteHTTPException

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Any, exc: Any) -> Any:  # unknown routes and methods: the same shape
        return problem(exc.status_code, str(exc.detail), **(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Any, exc: RequestValidationError) -> Any:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return problem(422, f"{where}: {first.get('msg', 'invalid')}")

    @app.post("/api/v1/alerts", status_code=202)
    async def post_alerts(request: fastapi.Request) -> Any:
        payload = A.parse_payload(await _read_json(request, settings.max_body, settings.body_timeout))

        def store_all() -> list[int]:
            ids: list[int] = []
            for alert in payload.alerts:
                start, end = A.window_of(alert, settings.lookback)
                window = {"start": A.format_time(start), "end": A.format_time(end) if end is not None else None}
                target = alert.annotations.get("faultgraph_target") or alert.labels.get("faultgraph_target")
                incident_id, queued = state["store"].add_alert(A.dedup_key(alert), alert.to_dict(), window, target)
                if queued:
                    state["pool"].submit(incident_id)
                if incident_id not in ids:
                    ids.append(incident_id)
            return ids

        ids = await run_in_threadpool(store_all)
        state["accepted"] += len(payload.alerts)
        if payload.skipped:
            log.warning("webhook: %d malformed alert(s) left out: %s", len(payload.skipped), payload.skipped[0])
            return JSONResponse({"incidents": ids, "skipped": list(payload.skipped)}, status_code=202)
        return JSONResponse({"incidents": ids}, status_code=202)

    @app.post("/api/v1/incidents", status_code=202)
    async def post_incident(request: fastapi.Request) -> Any:
        start, end, target = A.parse_request(await _read_json(request, settings.max_body, settings.body_timeout))
        explainer = state["pool"].explainer
        known = getattr(explainer, "metrics", None)
        if target is not None and known is not None and target not in known:
            model = getattr(explainer, "model", None)
            if model is None:
                return problem(400, f"target {target!r} is not a metric of the model; metrics: "
                                    f"{describe_names(known)}")
            try:  # why the model holds no such metric: constant in training, dropped, unknown
                check_target(model, target)
            except InvalidInputError as exc:
                return problem(400, str(exc))
        numbers = [(name, value) for name, value in (("start", start), ("end", end)) if isinstance(value, (int, float))]
        if numbers and hasattr(explainer, "timestamped") and await run_in_threadpool(explainer.timestamped):
            for name, value in numbers:  # Unix seconds there
                A.check_incident_time(A.from_unix(value, name), name)

        def bound(value: Any) -> Any:
            return A.format_time(value) if hasattr(value, "tzinfo") else value

        window = {"start": bound(start), "end": None if end is None else bound(end)}

        def store_one() -> int:
            incident_id = state["store"].add_manual(window, target)
            state["pool"].submit(incident_id)
            return incident_id

        incident_id = await run_in_threadpool(store_one)
        return JSONResponse({"id": incident_id, "incidents": [incident_id]}, status_code=202)

    @app.get("/api/v1/incidents")
    async def list_incidents(limit: int = fastapi.Query(50, ge=1, le=MAX_PAGE),
                             before: int | None = fastapi.Query(None, ge=1, le=2**62),
                             status: str | None = fastapi.Query(None, max_length=16)) -> Any:
        if status is not None and status not in STATUSES:
            return problem(422, f"status: must be one of {', '.join(STATUSES)}, got {status!r}")
        rows = await run_in_threadpool(state["store"].list, limit, before, status)
        for row in rows:
            row.pop("revision", None)
        nxt = rows[-1]["id"] if len(rows) == limit else None
        return {"incidents": rows, "next": nxt}

    @app.get("/api/v1/incidents/{incident_id}")
    async def get_incident(incident_id: int = fastapi.Path(ge=1, le=2**62)) -> Any:
        row = await run_in_threadpool(state["store"].get, incident_id)
        if row is None:
            return problem(404, f"no incident {incident_id}")
        row.pop("revision", None)
        return row

    @app.get("/incidents/{incident_id}", response_class=HTMLResponse)
    async def get_report(incident_id: int = fastapi.Path(ge=1, le=2**62)) -> Any:
        found = await run_in_threadpool(state["store"].report, incident_id)
        if found is None:
            return problem(404, f"no incident {incident_id}")
        status, html = found
        if status == "done" and not html:  # ranked, its report not drawn yet: draw it now
            # at most REPORT_DRAWS at once (waiting here, not in the thread pool that the
            # webhook and the health check share: a slow Prometheus stalls no alert)
            async with draws:
                try:
                    html = await run_in_threadpool(state["pool"].report, incident_id)
                except PrometheusUnavailableError as exc:  # its data cannot be read now: retry later
                    return problem(503, f"the report of incident {incident_id} cannot be drawn now: {exc}",
                                   **{"Retry-After": "30"})
        if status != "done" or not html:
            return HTMLResponse(f"<!doctype html><title>incident {incident_id}</title>"
                                f"<p>Incident {incident_id} is {status}.</p>",
                                status_code=202 if status in ("queued", "running") else 409)
        return HTMLResponse(html)

    @app.get("/healthz")
    async def healthz() -> Any:
        try:  # the queue is the store's: incidents a stopped server left, or beyond the memory queue, count
            waiting = await run_in_threadpool(state["store"].waiting)
        except Exception as exc:  # noqa: BLE001 - a health check reports, it does not raise
            return JSONResponse({"status": "unavailable", "error": type(exc).__name__}, status_code=503)
        return {"status": "ok", "queue_depth": waiting["due"], "retrying": waiting["retrying"]}

    @app.get("/metrics")
    async def metrics() -> Any:
        def read() -> tuple[dict[str, int], dict[str, int]]:
            return state["store"].counts(), state["store"].waiting()

        counts, waiting = await run_in_threadpool(read)
        text = exposition(counts, state["pool"].latency, waiting["due"], state["accepted"], state["rejected"],
                          retrying=waiting["retrying"])
        return PlainTextResponse(text, media_type=CONTENT_TYPE)

    @app.exception_handler(FaultgraphError)
    async def _faultgraph(request: Any, exc: FaultgraphError) -> Any:
        return problem(400, str(exc))

    return app
