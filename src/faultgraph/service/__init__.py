"""``faultgraph serve``: from a Prometheus alert to a stored, explained incident.

A thin shell on :mod:`faultgraph.workflows`, like the command line: Alertmanager posts
its webhook (payload version 4) to ``/api/v1/alerts``; each firing alert becomes an
incident, stored (SQLite or PostgreSQL) *before* the answer, queued, and explained by a
small pool of workers (one :func:`~faultgraph.workflows.explain_window` call each); the
rca.json document and the HTML report are stored with it.

Modules: :mod:`.settings` (what ``serve`` is given), :mod:`.alerts` (payload parsing and
window rules), :mod:`.auth` (bearer tokens), :mod:`.store` (SQLAlchemy, versioned
schema), :mod:`.worker` (bounded queue, worker pool, resume on start), :mod:`.metrics`
(Prometheus text exposition), :mod:`.app` (the FastAPI app, :func:`create_app`) and
:mod:`.cli` (the ``serve`` and ``fetch`` commands).

Importing this package imports nothing heavy: FastAPI, SQLAlchemy and httpx are imported
by :func:`create_app` and the store (``pip install 'faultgraph[serve]'``).
"""

from __future__ import annotations

from typing import Any

from faultgraph.service.settings import ServiceSettings

__all__ = ["ServiceSettings", "create_app"]


def create_app(settings: ServiceSettings, **kwargs: Any) -> Any:
    """The FastAPI application of ``settings`` (see :func:`faultgraph.service.app.create_app`).

    Imports FastAPI (the ``serve`` extra) only when called.

    Parameters
    ----------
    settings : ServiceSettings
        The service's configuration.
    **kwargs
        Passed on to :func:`faultgraph.service.app.create_app` (``explainer``, ``store``,
        ``start_workers``).

    Returns
    -------
    fastapi.FastAPI
        The ASGI application.
    """
    from faultgraph.service.app import create_app as _create

    return _create(settings, **kwargs)
