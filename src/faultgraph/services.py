"""Which service a metric belongs to.

Root causes are ranked per metric and per service; the service of each metric is found,
first match wins:

1. **Prometheus labels** in the name: ``latency_ms{service="db"}`` belongs to ``db``. The
   labels are tried in the order of ``labels_order`` (by default ``service``, ``job``,
   ``app``, ``container``, ``pod``, ``instance``).
2. **A service map**: a YAML file (:func:`load_service_map`) of patterns → service,
   tried in file order against the whole metric name. A pattern is a glob (``db_*``,
   ``*{job="db"}``; ``*``, ``?``, ``[...]``), or, written ``re:PATTERN``, a regular
   expression searched in the name, whose groups the service may use (``\\1``); quote
   patterns with single quotes, in which YAML keeps backslashes as written::

       # metric pattern: service
       'db_*': db
       'pg_*': db
       're:^(\\w+)-[0-9a-f]{5}_': \\1

3. **The name rule**: a name with ``|`` belongs to its first part (``checkout|cpu`` and
   PetShop's ``node|metric|statistic``); otherwise the unit suffixes
   (:data:`UNIT_SUFFIXES`: ``_ms``, ``_bytes``, ``_seconds``, ``_total``, ``(%)``, ...) are
   removed from the end, then the service is the part before the last ``_ : . /``
   (``db_latency_ms`` → ``db``, ``api_memory_bytes`` → ``api``, ``s3_cpu`` → ``s3``,
   ``checkout_cpu`` → ``checkout``); a name with no separator is its own service.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faultgraph.errors import InvalidInputError

__all__ = ["LABELS_ORDER", "UNIT_SUFFIXES", "ServiceMap", "load_service_map", "name_rule", "parse_labels",
           "service_of", "services_for"]

#: The labels that name a service, most specific first.
LABELS_ORDER: tuple[str, ...] = ("service", "job", "app", "container", "pod", "instance")

#: Endings that say what a metric measures or in what unit, not whose it is; removed (any
#: number of times, case-insensitive) before the name rule splits off the service.
UNIT_SUFFIXES: tuple[str, ...] = (
    # Prometheus naming conventions: base units, counters, histograms and summaries
    "_total", "_count", "_sum", "_bucket", "_created", "_info",
    "_seconds", "_milliseconds", "_microseconds", "_nanoseconds", "_ms", "_us", "_ns", "_sec", "_secs",
    "_minutes", "_hours",
    "_bytes", "_kilobytes", "_megabytes", "_gigabytes", "_kb", "_mb", "_gb", "_kib", "_mib", "_gib", "_bits",
    "_percent", "_percentage", "_pct", "_ratio", "_ops", "_rps", "_qps", "_per_second", "_per_sec", "_hz",
    "_celsius", "_volts", "_watts", "_joules",
    # units in brackets (Nezha's "CpuUsageRate(%)", "NetworkP90(ms)")
    "(%)", "(ms)", "(s)", "(us)", "(ns)", "(b)", "(kb)", "(mb)", "(gb)", "(mi)", "(m)", "(ops)",
    "[%]", "[ms]", "[s]", "[bytes]", " %", "%",
)
_SEPARATORS = re.compile(r"[_:./]")
_LABEL = re.compile(r"""([A-Za-z_][A-Za-z0-9_.\-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|([^,}"']*))""")
_ESCAPE = re.compile(r"\\(.)")


def parse_labels(metric: str) -> tuple[str, dict[str, str]]:
    """Split a Prometheus series name ``name{label="value",...}`` into its name and labels.

    A name without ``{...}`` (or with braces that do not end the name) has no labels:
    ``("cpu", {})``. Values may be quoted with ``"`` or ``'`` (escapes ``\\"`` read as
    ``"``) or bare (``cpu{job=db}``).

    Parameters
    ----------
    metric : str
        The series name (converted with ``str``; surrounding blanks ignored).

    Returns
    -------
    tuple of (str, dict of str to str)
        The name and its labels.
    """
    text = str(metric).strip()
    if not text.endswith("}") or "{" not in text:
        return text, {}
    name, _, body = text.partition("{")
    labels: dict[str, str] = {}
    for m in _LABEL.finditer(body[:-1]):
        quoted = m.group(2) if m.group(2) is not None else m.group(3)
        value = _ESCAPE.sub(r"\1", quoted) if quoted is not None else (m.group(4) or "").strip()
        labels[m.group(1)] = value
    return name.strip(), labels


@dataclass(frozen=True)
class ServiceMap:
    """Patterns → service, tried in order against the whole metric name (see the module
    docstring).

    Parameters
    ----------
    rules : tuple of (str, str)
        ``(pattern, service)`` as written: a glob pattern, or ``re:`` and a regular
        expression (searched; the service may refer to its groups, ``\\1``).
    source : str, default "service map"
        Names the file, for messages.

    Raises
    ------
    InvalidInputError
        When a pattern is empty or not text, a service name is empty or not text, or a
        ``re:`` pattern is no valid regular expression.
    """

    rules: tuple[tuple[str, str], ...]
    source: str = "service map"

    def __post_init__(self) -> None:
        compiled = []
        for pattern, service in self.rules:
            if not isinstance(pattern, str) or not pattern.strip():
                raise InvalidInputError(f"{self.source}: a pattern must be non-empty text, got {pattern!r}")
            if not isinstance(service, str) or not service.strip():
                raise InvalidInputError(f"{self.source}: pattern {pattern!r} must map to a service name (text), "
                                        f"got {service!r}")
            if pattern.startswith("re:"):
                try:
                    compiled.append((re.compile(pattern[3:]).search, service, pattern))
                except re.error as exc:
                    raise InvalidInputError(f"{self.source}: pattern {pattern!r} is not a valid regular "
                                            f"expression: {exc}") from None
            else:
                compiled.append((re.compile(fnmatch.translate(pattern)).match, service, pattern))
        object.__setattr__(self, "_compiled", tuple(compiled))

    @classmethod
    def coerce(cls, value: ServiceMap | Mapping[str, str] | str | Path | None) -> ServiceMap | None:
        """A :class:`ServiceMap` from itself, a mapping ``{pattern: service}``, a YAML path, or
        ``None``.

        Parameters
        ----------
        value : ServiceMap or Mapping or str or Path or None
            A map, its rules as a mapping (in order), or a YAML file (:func:`load_service_map`).

        Returns
        -------
        ServiceMap or None
            ``None`` for ``None``.

        Raises
        ------
        InvalidInputError
            When ``value`` is of another type, or its rules or file are invalid.
        """
        if value is None or isinstance(value, ServiceMap):
            return value
        if isinstance(value, Mapping):
            return cls(tuple(value.items()))
        if isinstance(value, (str, Path)):
            return load_service_map(value)
        raise InvalidInputError(f"service_map must be a mapping of pattern to service, a YAML path or None, "
                                f"got {type(value).__name__}")

    def unmatched(self, metrics: Iterable[str]) -> tuple[tuple[str, str], ...]:
        """The rules, as written, that match none of ``metrics`` (each rule on its own, also
        where an earlier rule takes the metric first): a map written for other names.

        Parameters
        ----------
        metrics : iterable of str
            Whole metric names, labels included.

        Returns
        -------
        tuple of (str, str)
            ``(pattern, service)`` pairs, in the map's order; empty when every rule matches.
        """
        names = [str(m) for m in metrics]
        return tuple(rule for rule, (find, _, _) in zip(self.rules, self._compiled)  # type: ignore[attr-defined]
                     if not any(find(name) is not None for name in names))

    def lookup(self, metric: str) -> str | None:
        """The service of the first rule matching ``metric`` (a regex's groups expanded), or
        ``None``.

        Parameters
        ----------
        metric : str
            The whole metric name, labels included.

        Returns
        -------
        str or None
            The service, stripped; ``None`` when no rule matches (or an expanded service is
            blank).

        Raises
        ------
        InvalidInputError
            When a service refers to a group its pattern lacks.
        """
        for find, service, pattern in self._compiled:  # type: ignore[attr-defined]
            m = find(metric)
            if m is None:
                continue
            if "\\" in service:
                try:
                    return m.expand(service).strip() or None
                except (re.error, IndexError) as exc:
                    raise InvalidInputError(f"{self.source}: service {service!r} refers to a group its pattern "
                                            f"{pattern!r} lacks: {exc}") from None
            return service.strip()
        return None

    def to_dict(self) -> dict[str, str]:
        """The rules as ``{pattern: service}``, in order.

        Returns
        -------
        dict of str to str
        """
        return dict(self.rules)


def load_service_map(path: str | Path) -> ServiceMap:
    """Read a service map: a YAML mapping ``pattern: service`` (in order; optionally under a
    top-level ``services:`` key).

    Parameters
    ----------
    path : str or Path
        The YAML file.

    Returns
    -------
    ServiceMap

    Raises
    ------
    InvalidInputError
        Naming the file and the entry, when it cannot be read, is not valid YAML, is not a
        non-empty mapping, or holds an invalid rule.
    """
    path = Path(path)
    where = f"service map {str(path)!r}"
    try:
        import yaml
    except ImportError:  # pragma: no cover - PyYAML is a core dependency
        raise ImportError("reading a service map needs PyYAML: pip install pyyaml") from None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise InvalidInputError(f"{where} cannot be read: {reason}") from None
    try:
        spec = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidInputError(f"{where} is not valid YAML: {first}") from None
    if isinstance(spec, dict) and set(spec) == {"services"}:
        spec = spec["services"]
    if not isinstance(spec, dict) or not spec:
        raise InvalidInputError(f"{where} must be a non-empty mapping of metric pattern to service "
                                f"(\"db_*\": db), got {type(spec).__name__}")
    return ServiceMap(tuple((k if isinstance(k, str) else repr(k), v) for k, v in spec.items()), source=where)


def name_rule(metric: str) -> str:
    """The service by name alone (rule 3 of the module docstring): the first part before
    ``|``; else, without its unit suffixes, the part before the last ``_ : . /``; else the
    name itself.

    Parameters
    ----------
    metric : str
        A metric name without labels.

    Returns
    -------
    str
    """
    text = str(metric).strip()
    if "|" in text:
        head = text.split("|", 1)[0].strip()
        return head or text
    stem = _strip_units(text)
    parts = _SEPARATORS.split(stem)
    if len(parts) > 1:
        head = stem[: len(stem) - len(parts[-1]) - 1]
        if head.strip("_:./"):
            return head
    return stem or text


def _strip_units(name: str) -> str:
    stem = name
    while True:
        lower = stem.lower()
        for suffix in UNIT_SUFFIXES:
            if lower.endswith(suffix) and len(stem) > len(suffix) and stem[: -len(suffix)].strip("_:./ "):
                stem = stem[: -len(suffix)].rstrip(" ")
                break
        else:
            return stem


def service_of(metric: str, *, labels_order: Sequence[str] = LABELS_ORDER,
               service_map: ServiceMap | Mapping[str, str] | str | Path | None = None) -> str:
    """The service of ``metric``: its first label of ``labels_order``, else the first rule
    of ``service_map`` that matches, else :func:`name_rule` of its name without labels.

    >>> service_of('latency_ms{service="db"}'), service_of("db_latency_ms"), service_of("s6_errors")
    ('db', 'db', 's6')

    Parameters
    ----------
    metric : str
        The metric name, with Prometheus labels if it has them.
    labels_order : Sequence of str, default LABELS_ORDER
        Labels that name a service, most telling first (``service``, ``job``, ``app``,
        ``container``, ``pod``, ``instance``); a blank value is skipped.
    service_map : ServiceMap or Mapping or str or Path or None, default None
        Rules pattern → service (see :meth:`ServiceMap.coerce`).

    Returns
    -------
    str

    Raises
    ------
    InvalidInputError
        When ``metric`` is not text, ``labels_order`` is not a sequence of label names, or
        ``service_map`` is invalid.
    """
    if not isinstance(metric, str):
        raise InvalidInputError(f"metric must be a metric name (text), got {type(metric).__name__} {metric!r:.40}")
    if isinstance(labels_order, str) or not all(isinstance(label, str) for label in labels_order):
        raise InvalidInputError(f"labels_order must be a sequence of label names, got {labels_order!r}")
    name, labels = parse_labels(metric)
    for label in labels_order:
        value = labels.get(label, "").strip()
        if value:
            return value
    rules = ServiceMap.coerce(service_map)
    if rules is not None:
        found = rules.lookup(metric)
        if found:
            return found
    return name_rule(name or metric)


def services_for(metrics: Iterable[str], *, labels_order: Sequence[str] = LABELS_ORDER,
                 service_map: ServiceMap | Mapping[str, str] | str | Path | None = None) -> dict[str, str]:
    """``{metric: service}`` for each of ``metrics`` (:func:`service_of`; the map read once),
    the ``services=`` argument of :func:`faultgraph.rca.explain`.

    Parameters
    ----------
    metrics : Iterable of str
        Metric names.
    labels_order : Sequence of str, default LABELS_ORDER
        As for :func:`service_of`.
    service_map : ServiceMap or Mapping or str or Path or None, default None
        As for :func:`service_of`.

    Returns
    -------
    dict of str to str

    Raises
    ------
    InvalidInputError
        As :func:`service_of`.
    """
    rules = ServiceMap.coerce(service_map)
    return {m: service_of(m, labels_order=labels_order, service_map=rules) for m in metrics}
