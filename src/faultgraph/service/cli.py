"""The ``serve`` and ``fetch`` commands (added to ``faultgraph`` by :func:`register`).

Everything heavy (FastAPI, uvicorn, httpx, the model) is imported inside the commands, so
``faultgraph --help`` stays fast.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from faultgraph.errors import InvalidInputError

__all__ = ["check_paths", "parse_when", "register", "write_frame"]

#: Seconds ``serve`` waits, on SIGTERM, for open requests (a slow client, a report being
#: drawn) before it cancels them; the workers then get :data:`~faultgraph.service.worker.STOP_TIMEOUT`.
SHUTDOWN_GRACE = 3
#: Seconds an idle keep-alive connection is kept open (uvicorn's ``timeout_keep_alive``).
KEEP_ALIVE = 5


def check_paths(model: Path, data: Path | None = None, queries: Path | None = None,
                token_file: Path | None = None, db: str | None = None) -> None:
    """Refuse, before anything starts, a path option of ``serve`` that cannot be used: a
    typo would otherwise be found only when the first incident comes.

    Parameters
    ----------
    model : Path
        ``--model``: must be an existing folder.
    data, queries, token_file : Path or None, default None
        ``--data``, ``--queries``, ``--token-file``: each, when given, a readable file.
    db : str or None, default None
        ``--db``: for a SQLite file, its folder must exist.

    Raises
    ------
    InvalidInputError
        Naming the option and the path, when one does not exist, is of the wrong kind or
        cannot be read.
    """
    if not model.is_dir():
        why = "no such folder" if not model.exists() else "a file, not a folder"
        raise InvalidInputError(f"--model must be the model folder written by `faultgraph fit`, got "
                                f"{str(model)!r} ({why})")
    for option, path, what in (("--data", data, "the metrics file to explain from"),
                               ("--queries", queries, "the QUERIES.yaml naming each metric's PromQL"),
                               ("--token-file", token_file, "a file of bearer tokens, one a line")):
        why = None if path is None else _unreadable(path)
        if why is not None:
            raise InvalidInputError(f"{option} must be {what}, got {str(path)!r} ({why})")
    match = re.fullmatch(r"sqlite(?:\+\w+)?:///([^?]*)(\?.*)?", db or "")
    if match and match.group(1) and match.group(1) != ":memory:" and not match.group(1).startswith("file:"):
        folder = Path(match.group(1)).parent
        if not folder.is_dir():
            raise InvalidInputError(f"--db must be sqlite:///FILE in an existing folder, got {_redact(db)!r} "
                                    f"(no folder {str(folder)!r})")


def parse_when(text: str, now: float | None = None) -> float:
    """Unix seconds of ``text``: ``now``, ``now-7d`` (a Prometheus duration back from
    now), Unix seconds, or an RFC 3339 time."""
    from faultgraph.io.prometheus import parse_duration
    from faultgraph.service.alerts import PayloadError, parse_time

    now = time.time() if now is None else now
    value = text.strip()
    match = re.fullmatch(r"now\s*(?:-\s*(\S+))?", value)
    if match:
        return now - (parse_duration(match.group(1), "time") if match.group(1) else 0.0)
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return parse_time(value, "time").timestamp()
    except PayloadError:
        raise InvalidInputError(f"time must be 'now', 'now-7d', Unix seconds or an RFC 3339 time such as "
                                f"2024-05-01T00:00:00Z, got {text!r}") from None


def _unreadable(path: Path) -> str | None:
    """Why the file ``path`` cannot be read, or ``None`` when it can."""
    if not path.exists():
        return "no such file"
    if path.is_dir():
        return "a folder, not a file"
    try:
        path.open("rb").close()
    except OSError as exc:
        return f"cannot be read: {exc.strerror or exc}"
    return None


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``fetch`` to the ``faultgraph`` command line ``app``."""
    from faultgraph._cli import err
    from faultgraph._cli import errors as _errors

    @app.command()
    def serve(
        model: Annotated[Path, typer.Option("--model", help="Model folder from `faultgraph fit` (no label).")],
        data: Annotated[Optional[Path], typer.Option(
            help="Metrics file to explain from (read again when it changes).")] = None,
        prometheus: Annotated[Optional[str], typer.Option(
            help="Prometheus base URL to read the metrics from (with --queries).")] = None,
        queries: Annotated[Optional[Path], typer.Option(
            help="QUERIES.yaml: the PromQL of each metric of the model.")] = None,
        db: Annotated[str, typer.Option(help="Incident store: sqlite:///FILE or postgresql://USER@HOST/DB.")]
            = "sqlite:///incidents.db",
        host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8080,
        lookback: Annotated[str, typer.Option(
            help="How long before an alert's start its window opens (seconds or a duration: 5m).")] = "0",
        workers: Annotated[int, typer.Option(min=1, help="Incidents explained at once.")] = 2,
        queue_size: Annotated[int, typer.Option(min=1, help="Incidents waiting in memory (more wait in the "
                                                "store).")] = 1000,
        token_file: Annotated[Optional[Path], typer.Option(
            help="File of bearer tokens, one a line (besides $FAULTGRAPH_TOKEN, comma-separated).")] = None,
        max_body: Annotated[int, typer.Option(min=1024, help="Largest request body accepted, bytes.")] = 1_000_000,
        body_timeout: Annotated[float, typer.Option(
            min=0.1, help="Seconds a client has to send a request's body (a slower one gets 408).")] = 30.0,
        max_connections: Annotated[int, typer.Option(
            min=1, help="Connections served at once; more are answered 503 (Alertmanager retries).")] = 200,
        history: Annotated[int, typer.Option(min=0, help="Prometheus: steps read before a window.")] = 400,
        retry_attempts: Annotated[int, typer.Option(
            min=1, help="Prometheus away: tries of an incident before it is failed, the first included.")] = 8,
        retry_backoff: Annotated[float, typer.Option(
            min=0.001, max=1e6, help="Prometheus away: seconds before an incident's second try, doubled for "
                                     "each further one up to 10 minutes.")] = 30.0,
        step: Annotated[Optional[str], typer.Option(help="Prometheus: query step (default: QUERIES.yaml's, "
                                                    "else the model's training step, else 15s).")] = None,
        log_level: Annotated[str, typer.Option(help="uvicorn's log level.")] = "info",
    ) -> None:
        """Run the incident service: Alertmanager's webhook in, explained incidents out.

        Alertmanager posts to /api/v1/alerts; each firing alert becomes an incident,
        stored before the answer and explained by the workers; read them at
        /api/v1/incidents/ID (rca.json) and /incidents/ID (the HTML report).
        """
        with _errors():
            from faultgraph.io.prometheus import parse_duration
            from faultgraph.service.settings import ServiceSettings, read_tokens

            check_paths(model, data, queries, token_file, db)  # a typo: one line and exit 2, before anything
            tokens = read_tokens(path=token_file)
            if not tokens:
                raise InvalidInputError("no bearer tokens: set FAULTGRAPH_TOKEN (comma-separated) or give "
                                        "--token-file; every call would be refused")
            settings = ServiceSettings(
                model_dir=model, data=data, prometheus=prometheus, queries=queries, db_url=db, tokens=tokens,
                lookback=0.0 if re.fullmatch(r"0+(\.0*)?(ms|s|m|h|d|w|y)?", lookback.strip()) else
                parse_duration(lookback, "lookback"),
                workers=workers, queue_size=queue_size, max_body=max_body, body_timeout=body_timeout,
                max_connections=max_connections, history=history, retry_attempts=retry_attempts,
                retry_backoff=retry_backoff, step=parse_duration(step) if step is not None else None)
            from faultgraph.service._extra import require
            from faultgraph.service.app import create_app
            from faultgraph.service.store import IncidentStore
            from faultgraph.service.worker import Explainer

            uvicorn = require("uvicorn")
            explainer = Explainer(settings)  # a bad model or queries file: one line, exit 2
            if settings.data is not None:
                explainer.frame({})  # the metrics file is read now (kept until it changes): refused if unusable
            store = IncidentStore(settings.db_url)  # a bad store: one line, exit 2
            store.create_schema()
            application = create_app(settings, explainer=explainer, store=store)
            err.print(f"faultgraph serve: model {model}, store {_redact(db)}, listening on http://{host}:{port}",
                      highlight=False)
        # uvicorn times out idle connections, not slow ones: the app gives a body body_timeout
        # seconds (408), and max_connections bounds what slow clients can hold (503 beyond)
        uvicorn.run(application, host=host, port=port, log_level=log_level, access_log=True,
                    limit_concurrency=settings.max_connections, timeout_keep_alive=KEEP_ALIVE,
                    timeout_graceful_shutdown=SHUTDOWN_GRACE)

    @app.command()
    def fetch(
        prometheus: Annotated[str, typer.Option(help="Prometheus base URL, e.g. http://localhost:9090.")],
        queries: Annotated[Path, typer.Option(help="QUERIES.yaml: the PromQL of each metric.")],
        start: Annotated[str, typer.Option(help="First time: now-7d, Unix seconds or RFC 3339.")],
        out: Annotated[Path, typer.Option(help="Where to write the metrics (.parquet or .csv).")],
        end: Annotated[str, typer.Option(help="Last time (same forms as --start).")] = "now",
        step: Annotated[Optional[str], typer.Option(help="Query step (default: QUERIES.yaml's, else 15s).")] = None,
        timeout: Annotated[float, typer.Option(min=0.1, help="Seconds per request.")] = 30.0,
        retries: Annotated[int, typer.Option(min=0, help="Retries (with back-off) when Prometheus fails.")] = 3,
    ) -> None:
        """Read metrics from Prometheus into a file to fit a model on (e.g. last week's
        healthy data: --start now-7d)."""
        with _errors():
            from faultgraph.io.prometheus import PrometheusReader, read_queries

            spec = read_queries(queries)
            now = time.time()
            frame = PrometheusReader(prometheus, timeout=timeout, retries=retries).fetch(
                spec, parse_when(start, now), parse_when(end, now), step)
            write_frame(out, frame)
            err.print(f"wrote {len(frame)} rows x {frame.shape[1]} metrics to {out}", highlight=False)


def write_frame(path: Path, frame: Any) -> Path:
    """Write a metrics frame as Parquet or CSV (by the extension), atomically, with its
    time column."""
    import io

    from faultgraph.io.atomic import write_atomic, write_csv_atomic

    frame = frame.copy()
    frame.attrs = {}
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        buffer = io.BytesIO()
        frame.reset_index().to_parquet(buffer, index=False)
        return write_atomic(path, lambda fh: fh.write(buffer.getvalue()))
    if suffix == ".csv":
        return write_csv_atomic(path, frame)
    raise InvalidInputError(f"out must end in .parquet or .csv, got {str(path)!r}")


def _redact(url: str) -> str:
    from faultgraph.service.store import _safe_url

    return _safe_url(url)
