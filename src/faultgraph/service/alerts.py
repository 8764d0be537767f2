"""Alertmanager's webhook payload (version 4) and the window rules of an incident.

Alertmanager posts (``webhook_configs``) a JSON document of this shape::

    {"version": "4", "groupKey": "...", "truncatedAlerts": 0, "status": "firing|resolved",
     "receiver": "...", "groupLabels": {...}, "commonLabels": {...},
     "commonAnnotations": {...}, "externalURL": "...",
     "alerts": [{"status": "firing|resolved", "labels": {...}, "annotations": {...},
                 "startsAt": "<RFC 3339>", "endsAt": "<RFC 3339>",
                 "generatorURL": "...", "fingerprint": "..."}, ...]}

Window rules: an alert's incident window runs from ``startsAt`` minus the lookback to
``endsAt`` once the alert is resolved; while it fires, to the newest data (its
``endsAt`` is then Alertmanager's zero time ``0001-01-01T00:00:00Z``, or a validity
horizon in the future, neither of them an end). An alert is identified by its
``fingerprint`` and ``startsAt``: Alertmanager re-sends the same alert every
``group_interval``, and those copies are one incident.

Everything here is plain Python (no FastAPI): the parsing is tested on its own.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from faultgraph.errors import InvalidInputError

__all__ = ["Alert", "PayloadError", "WebhookPayload", "check_incident_time", "dedup_key", "format_time", "from_unix",
           "label_fingerprint", "parse_alert", "parse_payload", "parse_request", "parse_time", "window_of"]

#: The payload version this service reads.
VERSION = "4"
#: The most alerts one payload may carry (Alertmanager's ``max_alerts`` caps it below).
MAX_ALERTS = 1000
#: The longest label name, label value or annotation name accepted; an annotation's value
#: (free text) beyond it is cut to it.
MAX_TEXT = 4096
#: The most labels or annotations one alert may carry.
MAX_LABELS = 128
#: A manual request's numeric bounds lie within this (floats hold every integer up to it).
MAX_NUMBER = 2.0**53
STATUSES = ("firing", "resolved")
_RFC3339 = re.compile(r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
ZERO_TIME = datetime(1, 1, 1, tzinfo=timezone.utc)


class PayloadError(InvalidInputError):
    """A webhook payload or incident request that is malformed, too large or of another
    version (answered with a 4xx)."""


@dataclass(frozen=True)
class Alert:
    """One alert of a payload. ``ends_at`` is ``None`` for Alertmanager's zero time.

    Parameters
    ----------
    status : {"firing", "resolved"}
        The alert's status.
    fingerprint : str
        Alertmanager's fingerprint (or :func:`label_fingerprint` of the labels).
    starts_at : datetime
        ``startsAt``, aware, in UTC.
    ends_at : datetime or None
        ``endsAt``, aware, in UTC; ``None`` for the zero time (a firing alert).
    labels, annotations : dict of str to str
        The alert's labels and annotations.
    generator_url : str, default ""
        ``generatorURL``.
    """

    status: str
    fingerprint: str
    starts_at: datetime
    ends_at: datetime | None
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    generator_url: str = ""

    @property
    def firing(self) -> bool:
        """Whether the alert's status is ``firing``."""
        return self.status == "firing"

    def to_dict(self) -> dict[str, Any]:
        """The alert in the payload's own field names (``startsAt``, ``endsAt`` as RFC 3339 in
        UTC, ``endsAt`` null for the zero time, ``generatorURL``).

        Returns
        -------
        dict
            JSON-serialisable.
        """
        return {"status": self.status, "fingerprint": self.fingerprint, "startsAt": format_time(self.starts_at),
                "endsAt": format_time(self.ends_at) if self.ends_at is not None else None,
                "labels": dict(self.labels), "annotations": dict(self.annotations),
                "generatorURL": self.generator_url}


@dataclass(frozen=True)
class WebhookPayload:
    """A parsed payload: the group's fields and its alerts."""

    status: str
    receiver: str
    group_key: str
    alerts: tuple[Alert, ...]
    #: why each alert left out as malformed was (naming it: ``"alerts[2].labels['service'] must
    #: be a string, got int 7"``); the others are kept: Alertmanager sends no refused payload again
    skipped: tuple[str, ...] = ()


def format_time(value: datetime) -> str:
    """RFC 3339 in UTC, ``Z``-suffixed.

    Parameters
    ----------
    value : datetime
        An aware datetime (a naive one is taken as local time by :meth:`datetime.astimezone`).

    Returns
    -------
    str
        E.g. ``"2024-05-01T03:12:45.123000Z"``.
    """
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def parse_time(value: Any, name: str) -> datetime:
    """An RFC 3339 time (any fraction of a second, ``Z`` or an offset) as an aware UTC
    datetime.

    Fractions finer than a microsecond (Alertmanager writes nanoseconds) are cut.

    Parameters
    ----------
    value : Any
        The text to parse (at most 64 characters).
    name : str
        The field's name, used in the error message.

    Returns
    -------
    datetime
        Aware, in UTC.

    Raises
    ------
    PayloadError
        Naming ``name``, when ``value`` is no string, no RFC 3339 time or no valid date.
    """
    match = _RFC3339.match(value) if isinstance(value, str) and len(value) <= 64 else None
    if match is None:
        raise PayloadError(f"{name} must be an RFC 3339 time such as '2024-05-01T03:12:45.123Z', "
                           f"got {_show(value)}")
    day, clock, fraction, zone = match.groups()
    fraction = (fraction or ".0")[:7]  # microseconds at most: Alertmanager writes nanoseconds
    zone = "+00:00" if zone in ("Z", "z") else zone
    try:
        return datetime.fromisoformat(f"{day}T{clock}{fraction.ljust(7, '0')}{zone}").astimezone(timezone.utc)
    except (ValueError, OverflowError):  # no such date, or its offset takes it out of the calendar
        raise PayloadError(f"{name} is no valid time: {_show(value)}") from None


#: The earliest time an incident's window may name, and how far ahead of now: a window that
#: reaches farther is a bad clock, not an incident (read from Prometheus, it would ask for
#: decades of samples).
EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
LATEST_AHEAD = timedelta(days=1)


def from_unix(seconds: float, name: str) -> datetime:
    """Unix ``seconds`` as an aware UTC datetime; a :class:`PayloadError` naming ``name``
    when no datetime holds them.

    Parameters
    ----------
    seconds : float
        Seconds since 1970-01-01 UTC.
    name : str
        The field, named in the error.

    Returns
    -------
    datetime
        Aware, UTC.

    Raises
    ------
    PayloadError
        When no datetime holds ``seconds`` (beyond year 9999, say).
    """
    try:
        return datetime.fromtimestamp(float(seconds), tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise PayloadError(f"{name} {_show(seconds)} is no time (Unix seconds)") from None


def check_incident_time(moment: datetime, name: str) -> datetime:
    """``moment`` when an incident can have it: from :data:`EARLIEST` to
    :data:`LATEST_AHEAD` from now.

    Parameters
    ----------
    moment : datetime
        Aware.
    name : str
        The field, named in the error.

    Returns
    -------
    datetime
        ``moment``.

    Raises
    ------
    PayloadError
        When ``moment`` lies outside that span.
    """
    if not EARLIEST <= moment <= datetime.now(timezone.utc) + LATEST_AHEAD:
        raise PayloadError(f"{name} {format_time(moment)} is not a time an incident can have: it must lie between "
                           f"{EARLIEST:%Y-%m-%d} and a day from now")
    return moment


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _text_map(value: Any, name: str, cut: bool = False) -> dict[str, str]:
    """A map of strings; with ``cut``, a value longer than :data:`MAX_TEXT` is cut to it
    (ending in ``…``) rather than refused (annotations: free text, a description may list
    every pod)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PayloadError(f"{name} must be an object of strings, got {type(value).__name__}")
    if len(value) > MAX_LABELS:
        raise PayloadError(f"{name} holds {len(value)} entries; at most {MAX_LABELS} are accepted")
    for key, text in value.items():
        if not isinstance(text, str):
            raise PayloadError(f"{name}[{_show(key)}] must be a string, got {type(text).__name__} {_show(text)}")
        if len(key) > MAX_TEXT or (len(text) > MAX_TEXT and not cut):
            raise PayloadError(f"{name}[{_show(key)}] is longer than {MAX_TEXT} characters")
        _storable(key, f"{name} key {_show(key)}")
        _storable(text, f"{name}[{_show(key)}]")
    return {k: (t if len(t) <= MAX_TEXT else t[:MAX_TEXT - 1] + "…") for k, t in value.items()}


def _storable(text: str, name: str) -> str:
    """``text`` when a database can hold it: UTF-8 encodable (no lone surrogate, which JSON
    can spell as ``\\ud800``) and without NUL (PostgreSQL text refuses it)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise PayloadError(f"{name} holds a lone surrogate (no Unicode character): {_show(text)}") from None
    if "\x00" in text:
        raise PayloadError(f"{name} holds a NUL character: {_show(text)}")
    return text


def _text(value: Any, name: str, default: str | None = None) -> str:
    if value is None and default is not None:
        return default
    if not isinstance(value, str):
        raise PayloadError(f"{name} must be a string, got {type(value).__name__} {_show(value)}")
    if len(value) > MAX_TEXT:
        raise PayloadError(f"{name} is longer than {MAX_TEXT} characters")
    return _storable(value, name)


def label_fingerprint(labels: dict[str, str]) -> str:
    """A fingerprint of a label set, for an alert that came without one (Alertmanager
    sends one since 0.19).

    Parameters
    ----------
    labels : dict of str to str
        The alert's labels.

    Returns
    -------
    str
        The first 16 hex digits of the SHA-256 of the labels as sorted JSON.
    """
    return hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]


def parse_alert(raw: Any, where: str) -> Alert:
    """One alert of a payload.

    Parameters
    ----------
    raw : Any
        The alert's JSON object (decoded).
    where : str
        Its place in the payload, e.g. ``"alerts[3]"``, used in error messages.

    Returns
    -------
    Alert
        With a fingerprint from the labels when none was sent, ``ends_at`` ``None`` for
        a missing or zero ``endsAt``.

    Raises
    ------
    PayloadError
        Naming ``where``, when the alert is no object, its status is not ``firing`` or
        ``resolved``, a label or annotation is no string or too long (:data:`MAX_TEXT`; an
        annotation's value is cut to it instead) or
        there are too many (:data:`MAX_LABELS`), ``startsAt`` is missing, malformed or the
        zero time, a resolved alert has no ``endsAt`` or one before its start, or the
        fingerprint is longer than 128 characters.
    """
    if not isinstance(raw, dict):
        raise PayloadError(f"{where} must be an object, got {type(raw).__name__}")
    status = _text(raw.get("status"), f"{where}.status")
    if status not in STATUSES:
        raise PayloadError(f"{where}.status must be 'firing' or 'resolved', got {_show(status)}")
    labels = _text_map(raw.get("labels"), f"{where}.labels")
    annotations = _text_map(raw.get("annotations"), f"{where}.annotations", cut=True)
    if "startsAt" not in raw:
        raise PayloadError(f"{where} has no startsAt")
    starts = parse_time(raw["startsAt"], f"{where}.startsAt")
    if starts <= ZERO_TIME:
        raise PayloadError(f"{where}.startsAt is Alertmanager's zero time; an alert needs its start")
    check_incident_time(starts, f"{where}.startsAt")
    ends: datetime | None = None
    if raw.get("endsAt") not in (None, ""):
        ends = parse_time(raw["endsAt"], f"{where}.endsAt")
        if ends <= ZERO_TIME:
            ends = None
    if status == "resolved" and ends is None:
        raise PayloadError(f"{where} is resolved but has no endsAt")
    if status == "resolved":
        check_incident_time(ends, f"{where}.endsAt")  # type: ignore[arg-type]
    if ends is not None and status == "resolved" and ends < starts:
        raise PayloadError(f"{where}.endsAt {format_time(ends)} comes before its startsAt {format_time(starts)}")
    fingerprint = raw.get("fingerprint")
    fingerprint = label_fingerprint(labels) if fingerprint in (None, "") else _text(fingerprint, f"{where}.fingerprint")
    if len(fingerprint) > 128:
        raise PayloadError(f"{where}.fingerprint is longer than 128 characters")
    generator = _text(raw.get("generatorURL"), f"{where}.generatorURL", default="")
    return Alert(status, fingerprint, starts, ends, labels, annotations, generator)


def parse_payload(payload: Any) -> WebhookPayload:
    """A webhook document (already decoded from JSON) as a :class:`WebhookPayload`.

    Parameters
    ----------
    payload : Any
        The decoded JSON document of Alertmanager's webhook, version 4.

    Returns
    -------
    WebhookPayload
        Its status, receiver, group key and parsed alerts.

    Raises
    ------
    PayloadError
        When the payload is no object, of another version, its ``alerts`` is no list or
        holds more than :data:`MAX_ALERTS`, its status is unknown, or every alert is malformed
        (see :func:`parse_alert`; some malformed among good ones are left out and named in
        :attr:`WebhookPayload.skipped`).
    """
    if not isinstance(payload, dict):
        raise PayloadError(f"the payload must be a JSON object (Alertmanager's webhook, version {VERSION}), "
                           f"got {type(payload).__name__}")
    version = payload.get("version")
    if version != VERSION:
        raise PayloadError(f"version must be {VERSION!r} (Alertmanager's webhook payload), got {_show(version)}")
    alerts = payload.get("alerts")
    if not isinstance(alerts, list):
        raise PayloadError(f"alerts must be a list, got {type(alerts).__name__}")
    if len(alerts) > MAX_ALERTS:
        raise PayloadError(f"alerts holds {len(alerts)} alerts; at most {MAX_ALERTS} per payload")
    status = _text(payload.get("status", "firing"), "status")
    if status not in STATUSES:
        raise PayloadError(f"status must be 'firing' or 'resolved', got {_show(status)}")
    receiver = _text(payload.get("receiver", ""), "receiver")
    group_key = _text(payload.get("groupKey", ""), "groupKey")
    parsed, skipped, first = [], [], None
    for i, raw in enumerate(alerts):
        try:
            parsed.append(parse_alert(raw, f"alerts[{i}]"))
        except PayloadError as exc:
            first = first or exc
            skipped.append(str(exc))
    if first is not None and not parsed:  # nothing to keep: the payload is refused
        raise first
    return WebhookPayload(status, receiver, group_key, tuple(parsed), tuple(skipped))


def dedup_key(alert: Alert) -> str:
    """What makes two alerts one incident: the fingerprint and the start.

    Parameters
    ----------
    alert : Alert
        A parsed alert.

    Returns
    -------
    str
        ``"<fingerprint>@<startsAt in RFC 3339>"``.
    """
    return f"{alert.fingerprint}@{format_time(alert.starts_at)}"


def window_of(alert: Alert, lookback: float = 0.0) -> tuple[datetime, datetime | None]:
    """The incident window of ``alert``: ``startsAt - lookback`` seconds to ``endsAt`` when
    resolved, to ``None`` (the newest data) while it fires.

    Parameters
    ----------
    alert : Alert
        A parsed alert.
    lookback : float, default 0.0
        Seconds before ``startsAt`` that the window starts.

    Returns
    -------
    tuple of (datetime, datetime or None)
        The window's start and end.
    """
    start = alert.starts_at - timedelta(seconds=float(lookback))
    return start, (alert.ends_at if not alert.firing else None)


def parse_request(body: Any) -> tuple[Any, Any, str | None]:
    """A manual incident request ``{start, end, target?}``.

    Parameters
    ----------
    body : Any
        The decoded JSON body. ``start`` and ``end`` are times (RFC 3339 text) or numbers
        (Unix seconds on time-stamped data, steps otherwise), both of one kind; ``end`` may
        be null (the newest data). ``target`` is an optional metric name.

    Returns
    -------
    tuple of (start, end, target)
        ``start`` and ``end`` as aware UTC datetimes or numbers (``end`` may be ``None``),
        ``target`` a string or ``None``.

    Raises
    ------
    PayloadError
        When the body is no object, has fields other than ``start``, ``end`` and
        ``target``, a bound is missing, malformed, not finite or beyond :data:`MAX_NUMBER`,
        the bounds are of different
        kinds, ``start`` comes after ``end``, or ``target`` is no string.
    """
    if not isinstance(body, dict):
        raise PayloadError(f"the request must be a JSON object {{start, end, target?}}, got {type(body).__name__}")
    unknown = sorted(set(body) - {"start", "end", "target"})
    if unknown:
        raise PayloadError(f"unknown fields {', '.join(_show(u) for u in unknown[:5])}; allowed: start, end, target")
    bounds = []
    for name in ("start", "end"):
        value = body.get(name)
        if value is None and name == "end":
            bounds.append(None)
        elif isinstance(value, bool) or value is None:
            raise PayloadError(f"{name} must be an RFC 3339 time or a number, got {_show(value)}")
        elif isinstance(value, (int, float)):
            if isinstance(value, float) and value != value or not -MAX_NUMBER <= value <= MAX_NUMBER:
                raise PayloadError(f"{name} must be a finite number within ±{MAX_NUMBER:.0f} (Unix seconds or a "
                                   f"step), got {_show(value)}")
            bounds.append(value)
        elif isinstance(value, str):
            bounds.append(check_incident_time(parse_time(value, name), name))
        else:
            raise PayloadError(f"{name} must be an RFC 3339 time or a number, got {type(value).__name__} "
                               f"{_show(value)}")
    start, end = bounds
    if end is not None and type(start) is not type(end) and not (
            isinstance(start, (int, float)) and isinstance(end, (int, float))):
        raise PayloadError("start and end must both be times or both be numbers")
    if end is not None and end < start:
        raise PayloadError(f"start {_show(body['start'])} comes after end {_show(body['end'])}")
    target = body.get("target")
    if target is not None:
        target = _text(target, "target").strip()
        if not target:
            raise PayloadError("target must name a metric of the model, or be left out (the symptom is then chosen "
                               "automatically)")
    return start, end, target
