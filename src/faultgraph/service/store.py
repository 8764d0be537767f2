"""Where incidents live: SQLite by default, PostgreSQL by URL, through SQLAlchemy Core.

One table of incidents and one of the schema's version (:data:`SCHEMA_VERSION`), both
created at start (a store of an older version is upgraded in place). An incident is written
before the webhook answers; its status goes ``queued`` → ``running`` → ``done`` or
``failed``, and a worker's result is kept only if the incident was not changed meanwhile
(its ``revision``: a resolved alert that closes the window queues it again, and so does a
claim released at shutdown or requeued as stale, so a worker left behind cannot store over
the next claim). An incident
whose data could not be read (Prometheus away) goes back to ``queued`` with a ``retry_at``
time and its ``attempts`` counted (:meth:`IncidentStore.defer`): the retry survives a restart.
"""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator

from faultgraph.errors import FaultgraphError, InvalidInputError
from faultgraph.service._extra import require

__all__ = ["SCHEMA_VERSION", "STATUSES", "IncidentStore", "StoreError", "engine_url"]

#: The version of the tables this code writes; a store of a newer version is refused, an older
#: one upgraded (version 2 added ``attempts`` and ``retry_at``).
SCHEMA_VERSION = 2
STATUSES = ("queued", "running", "done", "failed")


class StoreError(FaultgraphError):
    """The store cannot be opened or is of a schema this version does not know."""


def engine_url(url: str) -> str:
    """``url`` with the driver this package installs (psycopg 3 for ``postgresql://``).

    Parameters
    ----------
    url : str
        A SQLAlchemy URL; ``postgresql://`` and ``postgres://`` become
        ``postgresql+psycopg://``, others are returned as they are.

    Returns
    -------
    str
    """
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _tables(sa: Any) -> tuple[Any, Any, Any]:
    metadata = sa.MetaData()
    schema = sa.Table("faultgraph_schema", metadata, sa.Column("version", sa.Integer, nullable=False))
    incidents = sa.Table(
        "faultgraph_incidents", metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("dedup_key", sa.String(200), unique=True, nullable=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("alert", sa.Text, nullable=True),
        sa.Column("window", sa.Text, nullable=False),
        sa.Column("target", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("rca", sa.Text, nullable=True),
        sa.Column("report", sa.Text, nullable=True),
        sa.Column("revision", sa.Integer, nullable=False, default=0),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("started_at", sa.Float, nullable=True),
        sa.Column("finished_at", sa.Float, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, default=0, server_default="0"),
        sa.Column("retry_at", sa.Float, nullable=True),
    )
    return metadata, schema, incidents


#: The columns each schema version added, as ``ALTER TABLE ... ADD COLUMN`` clauses.
_ADDED = {2: ("attempts INTEGER NOT NULL DEFAULT 0", "retry_at FLOAT")}


class IncidentStore:
    """The incidents of one service, in the database at ``url``.

    SQLite runs in WAL mode with ``synchronous=FULL`` and one writer at a time (a lock);
    PostgreSQL uses a connection pool.

    Parameters
    ----------
    url : str
        A SQLAlchemy URL (``sqlite:///incidents.db``; ``postgresql://`` uses psycopg 3).

    Raises
    ------
    StoreError
        When SQLAlchemy cannot use ``url`` (unknown dialect, missing driver, malformed).
    ImportError
        When SQLAlchemy (the ``serve`` extra) is not installed.
    """

    def __init__(self, url: str) -> None:
        sa = require("sqlalchemy")
        self._sa = sa
        self.url = url
        kwargs: dict[str, Any] = {"future": True}
        self.sqlite = url.startswith("sqlite")
        if self.sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs.update(pool_pre_ping=True, pool_size=8, max_overflow=8)
        try:
            self.engine = sa.create_engine(engine_url(url), **kwargs)
        except (sa.exc.ArgumentError, ImportError, ValueError) as exc:
            raise StoreError(f"db URL {_safe_url(url)!r} cannot be used: {exc}") from None
        if self.sqlite:
            @sa.event.listens_for(self.engine, "connect")
            def _pragmas(dbapi_connection: Any, _record: Any) -> None:
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=FULL")  # an answered alert survives a power cut too
                cursor.close()
        self._metadata, self._schema, self.table = _tables(sa)
        self._write_lock = threading.Lock() if self.sqlite else None  # SQLite has one writer at a time

    # --- schema ---------------------------------------------------------------------------

    def create_schema(self) -> int:
        """Create the tables when missing and check the schema's version.

        Returns
        -------
        int
            The stored schema version (:data:`SCHEMA_VERSION` for a new store).

        Raises
        ------
        StoreError
            When the database cannot be opened, or its schema is newer than this code knows.
        """
        sa = self._sa
        try:
            with self._begin() as conn:
                self._metadata.create_all(conn)
                versions = [r[0] for r in conn.execute(sa.select(self._schema.c.version))]
                if not versions:
                    conn.execute(self._schema.insert().values(version=SCHEMA_VERSION))
                    return SCHEMA_VERSION
                if max(versions) < SCHEMA_VERSION:
                    self._upgrade(conn, max(versions))
                    return SCHEMA_VERSION
        except (sa.exc.OperationalError, sa.exc.ProgrammingError, sa.exc.DatabaseError) as exc:
            first = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc).splitlines()[0]
            hint = ""
            if "permission denied" in first.lower():  # PostgreSQL >= 15: no CREATE on public for others
                hint = ("; the store's user needs to create its tables: as the database's owner, "
                        "GRANT CREATE ON SCHEMA public TO <user> (or make the user the database's owner)")
            raise StoreError(f"the store {_safe_url(self.url)!r} cannot be opened: {first}{hint}") from None
        version = max(versions)
        if version > SCHEMA_VERSION:
            raise StoreError(f"the store {_safe_url(self.url)!r} has schema version {version}; this faultgraph "
                             f"knows up to {SCHEMA_VERSION}: upgrade faultgraph")
        return version

    def _upgrade(self, conn: Any, version: int) -> None:
        """Add the columns of the versions after ``version``. Another process may be
        upgrading the same store: PostgreSQL adds a column only if it is not there; on
        SQLite (no such clause, and its driver runs the statements outside a transaction) a
        column that another process has just added is no error."""
        sa = self._sa
        present = {c["name"] for c in sa.inspect(conn).get_columns(self.table.name)}
        guard = "" if self.sqlite else "IF NOT EXISTS "  # PostgreSQL: another server may be upgrading too
        for step in range(version + 1, SCHEMA_VERSION + 1):
            for clause in _ADDED.get(step, ()):
                if clause.split()[0] in present:
                    continue
                try:
                    conn.execute(sa.text(f"ALTER TABLE {self.table.name} ADD COLUMN {guard}{clause}"))
                except sa.exc.OperationalError as exc:
                    if not (self.sqlite and "duplicate column" in str(exc.orig).lower()):
                        raise
        conn.execute(self._schema.update().values(version=SCHEMA_VERSION))

    def close(self) -> None:
        """Dispose of the engine and its pooled connections."""
        self.engine.dispose()

    @contextmanager
    def _begin(self) -> Iterator[Any]:
        if self._write_lock is None:
            with self.engine.begin() as conn:
                yield conn
        else:
            with self._write_lock, self.engine.begin() as conn:
                yield conn

    # --- writing --------------------------------------------------------------------------

    def add_alert(self, key: str, alert: dict[str, Any], window: dict[str, Any], target: str | None = None
                  ) -> tuple[int, bool]:
        """The incident of the alert ``key``: a new one (queued), or the one stored.

        A stored incident whose window was open and is now closed (the alert resolved) gets
        the closed window and is queued again (its revision goes up).

        Parameters
        ----------
        key : str
            The alert's dedup key (:func:`~faultgraph.service.alerts.dedup_key`).
        alert : dict
            The alert as JSON (:meth:`~faultgraph.service.alerts.Alert.to_dict`).
        window : dict
            ``{"start": ..., "end": ...}``; ``end`` None while the alert fires.
        target : str or None, default None
            A metric to explain, if one was asked for.

        Returns
        -------
        tuple of (int, bool)
            ``(id, queued)``: the incident's id and whether it needs a worker.

        Raises
        ------
        StoreError
            When the incident could not be stored after three tries (concurrent inserts).
        """
        sa, t = self._sa, self.table
        now = time.time()
        for _ in range(3):
            try:
                with self._begin() as conn:
                    row = conn.execute(sa.select(t.c.id, t.c.window, t.c.revision)
                                       .where(t.c.dedup_key == key)).first()
                    if row is None:
                        result = conn.execute(t.insert().values(
                            dedup_key=key, status="queued", source="alert", alert=_dump(alert), window=_dump(window),
                            target=target, revision=0, created_at=now, updated_at=now))
                        return int(result.inserted_primary_key[0]), True
                    stored = json.loads(row.window)
                    if stored.get("end") is None and window.get("end") is not None:
                        conn.execute(t.update().where(t.c.id == row.id).values(
                            window=_dump(window), alert=_dump(alert), status="queued", error=None,
                            revision=row.revision + 1, attempts=0, retry_at=None, updated_at=now))
                        return int(row.id), True
                    return int(row.id), False
            except sa.exc.IntegrityError:  # another request inserted the same key meanwhile
                continue
        raise StoreError(f"the incident of alert {key!r} could not be stored")

    def add_manual(self, window: dict[str, Any], target: str | None = None) -> int:
        """A manual incident (queued).

        Parameters
        ----------
        window : dict
            ``{"start": ..., "end": ...}``; ``end`` None for the newest data.
        target : str or None, default None
            A metric to explain, if one was asked for.

        Returns
        -------
        int
            The new incident's id.
        """
        now = time.time()
        with self._begin() as conn:
            result = conn.execute(self.table.insert().values(
                dedup_key=None, status="queued", source="manual", alert=None, window=_dump(window), target=target,
                revision=0, created_at=now, updated_at=now))
            return int(result.inserted_primary_key[0])

    def claim(self, incident_id: int) -> dict[str, Any] | None:
        """Mark a queued incident running and return it.

        Parameters
        ----------
        incident_id : int
            The incident's id.

        Returns
        -------
        dict or None
            The incident (with its ``revision`` and ``attempts``, without its rca); ``None`` if
            it is not queued (claimed by another worker, or no such incident) or waits for its
            ``retry_at``.
        """
        sa, t = self._sa, self.table
        now = time.time()
        with self._begin() as conn:
            done = conn.execute(t.update().where(t.c.id == incident_id, t.c.status == "queued", _due(sa, t, now))
                                .values(status="running", started_at=now, updated_at=now))
            if done.rowcount != 1:
                return None
            row = conn.execute(sa.select(t).where(t.c.id == incident_id)).first()
        return self._row(row, full=False)

    def finish(self, incident_id: int, revision: int, rca: dict[str, Any], report: str | None) -> bool:
        """Store a worker's result, if the incident is still the one it claimed.

        Parameters
        ----------
        incident_id : int
            The incident's id.
        revision : int
            The revision the worker claimed.
        rca : dict
            The rca.json document.
        report : str or None
            The HTML report, or ``None`` when it is drawn later.

        Returns
        -------
        bool
            True when stored (status ``done``); False when the incident is no longer running
            at ``revision`` (changed meanwhile).
        """
        return self._settle(incident_id, revision, status="done", rca=_dump(rca), report=report, error=None,
                            retry_at=None)

    def fail(self, incident_id: int, revision: int, error: str) -> bool:
        """Mark a claimed incident failed with ``error``.

        Parameters
        ----------
        incident_id : int
            The incident's id.
        revision : int
            The revision the worker claimed.
        error : str
            What went wrong (cut to 4000 characters).

        Returns
        -------
        bool
            True when stored; False when the incident was changed meanwhile.
        """
        return self._settle(incident_id, revision, status="failed", error=error[:4000], retry_at=None)

    def defer(self, incident_id: int, revision: int, error: str, retry_at: float) -> bool:
        """Queue a claimed incident again, to be taken no earlier than ``retry_at``: its data
        could not be read now (Prometheus away). ``attempts`` goes up by one and ``error``
        says why it waits.

        Parameters
        ----------
        incident_id : int
            The incident's id.
        revision : int
            The revision the worker claimed.
        error : str
            What went wrong (cut to 4000 characters); shown with the incident while it waits.
        retry_at : float
            Unix seconds before which no worker takes it.

        Returns
        -------
        bool
            True when stored; False when the incident was changed meanwhile.
        """
        t = self.table
        now = time.time()
        with self._begin() as conn:
            done = conn.execute(t.update().where(t.c.id == incident_id, t.c.revision == revision,
                                                 t.c.status == "running")
                                .values(status="queued", error=error[:4000], attempts=t.c.attempts + 1,
                                        retry_at=float(retry_at), updated_at=now))
            return done.rowcount == 1

    def release(self, incident_id: int, revision: int) -> bool:
        """Queue a claimed incident again at once, its attempt not counted: the server stops
        while a worker still explains it. Its revision goes up, so that worker, if it ever
        finishes, cannot store over the next claim (as for :meth:`requeue_stale` and
        :meth:`requeue_unfinished`).

        Parameters
        ----------
        incident_id : int
            The incident's id.
        revision : int
            The revision the worker claimed.

        Returns
        -------
        bool
            True when queued again; False when it is no longer running at ``revision``.
        """
        t = self.table
        with self._begin() as conn:
            done = conn.execute(t.update().where(t.c.id == incident_id, t.c.revision == revision,
                                                 t.c.status == "running")
                                .values(status="queued", revision=t.c.revision + 1, updated_at=time.time()))
            return done.rowcount == 1

    def _settle(self, incident_id: int, revision: int, **values: Any) -> bool:
        t = self.table
        now = time.time()
        with self._begin() as conn:
            done = conn.execute(t.update().where(t.c.id == incident_id, t.c.revision == revision,
                                                 t.c.status == "running")
                                .values(finished_at=now, updated_at=now, **values))
            return done.rowcount == 1

    def set_report(self, incident_id: int, revision: int, html: str) -> bool:
        """Store the HTML report of a done incident (if it was not changed meanwhile).

        Parameters
        ----------
        incident_id : int
            The incident's id.
        revision : int
            The revision the report was drawn for.
        html : str
            The report.

        Returns
        -------
        bool
            True when stored; False when the incident is not done at ``revision``.
        """
        t = self.table
        with self._begin() as conn:
            done = conn.execute(t.update().where(t.c.id == incident_id, t.c.revision == revision,
                                                 t.c.status == "done").values(report=html))
            return done.rowcount == 1

    def requeue_stale(self, older_than: float) -> int:
        """Incidents ``running`` whose last change is older than ``older_than`` (Unix
        seconds) are ``queued`` again: a worker that could not store its result (the
        database away for a moment) left them so.

        Parameters
        ----------
        older_than : float
            The cut-off, Unix seconds.

        Returns
        -------
        int
            How many were queued again.
        """
        t = self.table
        with self._begin() as conn:
            done = conn.execute(t.update().where(t.c.status == "running", t.c.updated_at < float(older_than))
                                .values(status="queued", revision=t.c.revision + 1, updated_at=time.time()))
        return int(done.rowcount or 0)

    def requeue_unfinished(self) -> list[int]:
        """At start: incidents left ``running`` by a stopped server are ``queued`` again.

        Returns
        -------
        list of int
            The ids of all queued incidents, oldest first.
        """
        sa, t = self._sa, self.table
        with self._begin() as conn:
            conn.execute(t.update().where(t.c.status == "running")
                         .values(status="queued", revision=t.c.revision + 1, updated_at=time.time()))
        return self.queued_ids()

    # --- reading --------------------------------------------------------------------------

    def queued_ids(self, limit: int | None = None) -> list[int]:
        """The ids of the queued incidents due now (not waiting for their ``retry_at``),
        oldest first.

        Parameters
        ----------
        limit : int or None, default None
            At most this many; all with ``None``.

        Returns
        -------
        list of int
        """
        sa, t = self._sa, self.table
        query = sa.select(t.c.id).where(t.c.status == "queued", _due(sa, t, time.time())).order_by(t.c.id)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [int(r[0]) for r in conn.execute(query)]

    def get(self, incident_id: int) -> dict[str, Any] | None:
        """An incident as ``GET /api/v1/incidents/{id}`` answers it, or ``None``.

        Parameters
        ----------
        incident_id : int
            The incident's id.

        Returns
        -------
        dict or None
            The incident with its rca (parsed), ``started_at`` and ``finished_at``; ``None``
            when there is no such incident.
        """
        sa, t = self._sa, self.table
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t).where(t.c.id == incident_id)).first()
        return None if row is None else self._row(row, full=True)

    def report(self, incident_id: int) -> tuple[str, str | None] | None:
        """``(status, html)`` of an incident, or ``None`` when there is none.

        Parameters
        ----------
        incident_id : int
            The incident's id.

        Returns
        -------
        tuple of (str, str or None) or None
            The status and the stored report (``None`` until one is stored).
        """
        sa, t = self._sa, self.table
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t.c.status, t.c.report).where(t.c.id == incident_id)).first()
        return None if row is None else (row.status, row.report)

    def list(self, limit: int = 50, before: int | None = None, status: str | None = None) -> list[dict[str, Any]]:
        """Incidents newest first (without their rca).

        Parameters
        ----------
        limit : int, default 50
            At most this many.
        before : int or None, default None
            Only ids below this one (the cursor of the next page).
        status : str or None, default None
            Only incidents of this status (one of :data:`STATUSES`).

        Returns
        -------
        list of dict
            The incidents, newest first.

        Raises
        ------
        InvalidInputError
            When ``status`` is not one of :data:`STATUSES`.
        """
        if status is not None and status not in STATUSES:
            raise InvalidInputError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
        sa, t = self._sa, self.table
        query = sa.select(t.c.id, t.c.status, t.c.source, t.c.alert, t.c.window, t.c.target, t.c.error,
                          t.c.attempts, t.c.retry_at, t.c.created_at, t.c.updated_at
                          ).order_by(t.c.id.desc()).limit(limit)
        if before is not None:
            query = query.where(t.c.id < before)
        if status is not None:
            query = query.where(t.c.status == status)
        with self.engine.connect() as conn:
            return [self._row(r, full=False) for r in conn.execute(query)]

    def counts(self) -> dict[str, int]:
        """Incidents by status (every status named, zeros included).

        Returns
        -------
        dict of str to int
        """
        sa, t = self._sa, self.table
        with self.engine.connect() as conn:
            found = {r[0]: int(r[1]) for r in conn.execute(sa.select(t.c.status, sa.func.count()).group_by(t.c.status))}
        return {s: found.get(s, 0) for s in STATUSES}

    def waiting(self) -> dict[str, int]:
        """The queued incidents: ``due`` (waiting for a worker: in the pool's queue or in the
        store only) and ``retrying`` (waiting for their ``retry_at``).

        Returns
        -------
        dict of str to int
        """
        sa, t = self._sa, self.table
        later = sa.case((t.c.retry_at > time.time(), 1), else_=0)
        with self.engine.connect() as conn:
            total, retrying = conn.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(later), 0))
                                           .where(t.c.status == "queued")).one()
        return {"due": int(total) - int(retrying), "retrying": int(retrying)}

    def check(self) -> None:
        """Raise if the store cannot be read (``/healthz``).

        Raises
        ------
        sqlalchemy.exc.SQLAlchemyError
            When the schema table cannot be read.
        """
        with self.engine.connect() as conn:
            conn.execute(self._sa.select(self._schema.c.version)).first()

    @staticmethod
    def _row(row: Any, full: bool) -> dict[str, Any]:
        m = row._mapping
        out: dict[str, Any] = {"id": int(m["id"]), "status": m["status"], "source": m["source"],
                               "alert": json.loads(m["alert"]) if m["alert"] else None,
                               "window": json.loads(m["window"]), "target": m["target"],
                               "created_at": m["created_at"], "updated_at": m["updated_at"]}
        if m["error"] is not None:
            out["error"] = m["error"]
        if m.get("attempts"):
            out["attempts"] = int(m["attempts"])
        if m.get("retry_at") is not None:
            out["retry_at"] = m["retry_at"]
        if "revision" in m:
            out["revision"] = int(m["revision"])
        if full:
            out["rca"] = json.loads(m["rca"]) if m["rca"] else None
            out["started_at"], out["finished_at"] = m["started_at"], m["finished_at"]
        return out


def _due(sa: Any, t: Any, now: float) -> Any:
    """The clause "not waiting for a retry at ``now``"."""
    return sa.or_(t.c.retry_at.is_(None), t.c.retry_at <= now)


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False, default=str)


def _safe_url(url: str) -> str:
    """``url`` without its password."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest and ":" in rest.split("@", 1)[0]:
        user = rest.split("@", 1)[0].split(":", 1)[0]
        rest = f"{user}:***@{rest.split('@', 1)[1]}"
    return scheme + sep + rest
