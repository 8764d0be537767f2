"""What ``faultgraph serve`` is given: one frozen dataclass, checked once."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from faultgraph.config import ExplainConfig
from faultgraph.errors import InvalidInputError

__all__ = ["TOKEN_ENV", "ServiceSettings", "read_tokens"]

#: The environment variable holding the bearer tokens (comma-separated).
TOKEN_ENV = "FAULTGRAPH_TOKEN"


def read_tokens(env: str | None = None, path: str | Path | None = None) -> tuple[str, ...]:
    """The accepted bearer tokens: those of ``env`` and of the file ``path``, without blanks
    and repeats.

    Parameters
    ----------
    env : str or None, default None
        Comma-separated tokens; ``None`` reads ``$FAULTGRAPH_TOKEN`` (:data:`TOKEN_ENV`).
    path : str or Path or None, default None
        A file of tokens, one a line; lines starting with ``#`` are comments.

    Returns
    -------
    tuple of str
        The tokens in the order first seen.

    Raises
    ------
    InvalidInputError
        When ``path`` cannot be read.
    """
    text = os.environ.get(TOKEN_ENV, "") if env is None else env
    tokens = [t.strip() for t in text.split(",")]
    if path is not None:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise InvalidInputError(f"token file {str(path)!r} cannot be read: {exc.strerror or exc}") from None
        tokens += [line.strip() for line in lines if not line.lstrip().startswith("#")]
    return tuple(dict.fromkeys(t for t in tokens if t))


@dataclass(frozen=True)
class ServiceSettings:
    """The service's configuration, checked once on construction.

    Parameters
    ----------
    model_dir : Path
        A model folder written by ``faultgraph fit`` (no label).
    data : Path or None, default None
        A metrics file to explain from (read again when it changes). Give either ``data`` or
        ``prometheus``.
    prometheus : str or None, default None
        A Prometheus base URL to read the metrics from.
    queries : Path or None, default None
        The QUERIES.yaml naming each metric's PromQL; required with ``prometheus``.
    db_url : str, default "sqlite:///incidents.db"
        SQLAlchemy URL of the store (``sqlite:///incidents.db``, ``postgresql://...``).
    tokens : tuple of str, default ()
        The accepted bearer tokens (:func:`read_tokens`); none: every call is refused.
    lookback : float, default 0.0
        Seconds before an alert's ``startsAt`` that its window starts, in ``[0, 1e7)``.
    workers : int, default 2
        Worker threads (at least 1).
    queue_size : int, default 1000
        Size of the bounded queue of incident ids (at least 1).
    max_body : int, default 1000000
        The largest request body accepted, in bytes (at least 1024).
    body_timeout : float, default 30.0
        Seconds a client has to send a request's body once its headers are in (> 0); a
        slower one is answered 408 and its connection closed.
    max_connections : int, default 200
        Connections and requests served at once (at least 1); beyond it the server answers
        503 (which Alertmanager retries).
    history : int, default 400
        Prometheus only: steps read before a window (its recent normal); at least 0.
    step : float or None, default None
        Prometheus only: the query step in seconds, > 0 (default: QUERIES.yaml's, else the
        step of the model's training data, else 15).
    retry_attempts : int, default 8
        Tries of an incident while Prometheus is away, the first included (at least 1: no
        retry).
    retry_backoff : float, default 30.0
        Seconds before an incident's second try (> 0), doubled for each further one up to
        10 minutes.
    explain : ExplainConfig
        How windows are ranked (:class:`~faultgraph.config.ExplainConfig`).

    Raises
    ------
    InvalidInputError
        When neither or both of ``data`` and ``prometheus`` are given, ``prometheus`` comes
        without ``queries``, a count is below its minimum or not an integer, ``lookback``,
        ``step``, ``body_timeout`` or ``retry_backoff`` is out of range, or ``db_url`` is no URL.
    """

    model_dir: Path
    data: Path | None = None
    prometheus: str | None = None
    queries: Path | None = None
    db_url: str = "sqlite:///incidents.db"
    tokens: tuple[str, ...] = field(default=(), repr=False)
    lookback: float = 0.0
    workers: int = 2
    queue_size: int = 1000
    max_body: int = 1_000_000
    body_timeout: float = 30.0
    max_connections: int = 200
    history: int = 400
    step: float | None = None
    retry_attempts: int = 8
    retry_backoff: float = 30.0
    explain: ExplainConfig = field(default_factory=ExplainConfig)

    def __post_init__(self) -> None:
        if (self.data is None) == (self.prometheus is None):
            raise InvalidInputError("give either data (a metrics file) or prometheus (a URL, with queries), "
                                    f"got data={self.data!r} and prometheus={self.prometheus!r}")
        if self.prometheus is not None and self.queries is None:
            raise InvalidInputError("prometheus needs queries (a QUERIES.yaml naming each metric's PromQL)")
        for name, low in (("workers", 1), ("queue_size", 1), ("max_body", 1024), ("history", 0),
                          ("max_connections", 1), ("retry_attempts", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InvalidInputError(f"{name} must be an integer >= {low}, got {value!r}")
        if not isinstance(self.lookback, (int, float)) or not 0 <= self.lookback < 1e7:
            raise InvalidInputError(f"lookback must be seconds in [0, 1e7), got {self.lookback!r}")
        if self.step is not None and not (isinstance(self.step, (int, float)) and self.step > 0):
            raise InvalidInputError(f"step must be seconds > 0, got {self.step!r}")
        for name in ("body_timeout", "retry_backoff"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1e7:
                raise InvalidInputError(f"{name} must be seconds in (0, 1e7), got {value!r}")
        if not isinstance(self.db_url, str) or "://" not in self.db_url:
            raise InvalidInputError(f"db_url must be a URL such as sqlite:///incidents.db or "
                                    f"postgresql://user@host/db, got {self.db_url!r}")
