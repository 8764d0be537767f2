"""Prior knowledge about the graph: forbidden and required edges, tiers, sinks, sources.

Given in Python or as a YAML file of metric names::

    forbidden:            # edges that must not appear
      - [latency, cpu]
      - "errors -> traffic"
    required:             # edges that must appear
      - [cpu, latency]
    tiers:                # no edge from a later tier to an earlier one
      - [traffic]
      - [cpu, memory]
      - [latency, errors]
    sinks: [fault]        # can be caused, never a cause (no out-edges)
    sources: [traffic]    # can cause, never be caused (no in-edges)
    graph:                # a known graph, used as given (a service map): these edges and
      - [web_traffic, api_traffic]   # no other, same-step or lagged (a metric's own past
      - "api_latency -> web_latency"  # stays allowed)

``graph`` is also read from an edge-list file (:meth:`PriorKnowledge.read_graph`: a CSV
with ``cause,effect`` columns, or a ``graph.json`` written by ``faultgraph discover``).

Names may be glob patterns, so one line can state a rule for every service::

    tiers:
      - ["*_traffic"]
      - ["*_cpu", "*_memory"]
      - ["*_latency", "*_errors"]
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from faultgraph._graph import find_cycle
from faultgraph._validation import describe_names
from faultgraph.errors import InvalidInputError

__all__ = ["GRAPH_COLUMNS", "PriorKnowledge"]

Edge = tuple[str, str]
_KEYS = ("forbidden", "required", "tiers", "sinks", "sources", "graph")


def _edge(item: Any, where: str) -> Edge:
    if isinstance(item, str) and item.count("->") == 1 and all(p.strip() for p in item.split("->")):
        a, b = (part.strip() for part in item.split("->"))
    elif isinstance(item, (list, tuple)) and len(item) == 2 and all(isinstance(x, str) for x in item):
        a, b = str(item[0]), str(item[1])
    else:
        raise InvalidInputError(f"{where}: an edge must be [source, target] or 'source -> target', got {item!r}")
    if a == b and not any(ch in a for ch in "*?["):  # a pattern pair ("web_*", "web_*") means the pairs it names
        raise InvalidInputError(f"{where}: the edge {a!r} -> {b!r} joins a metric to itself, which no graph holds "
                                "(with lags a metric's own past is always allowed); leave it out")
    return a, b


def _edges(items: Any, where: str) -> tuple[Edge, ...]:
    """A list of edges; one ``'a -> b'`` string is one edge, a flat ``[a, b]`` is refused as ambiguous."""
    if items is None:
        return ()
    if isinstance(items, str):
        return (_edge(items, where),)
    if not isinstance(items, Iterable):
        raise InvalidInputError(f"{where} must be a list of edges ([source, target] or 'source -> target'), "
                                f"got {items!r}")
    items = list(items)
    if len(items) == 2 and all(isinstance(x, str) and "->" not in x for x in items):
        raise InvalidInputError(f"{where} must be a list of edges, got the flat pair {items!r}; for the one edge "
                                f"{items[0]} -> {items[1]} write [{items!r}] or ['{items[0]} -> {items[1]}']")
    return tuple(_edge(e, f"{where}[{k}]") for k, e in enumerate(items))


#: The header names of a graph CSV's two columns (:meth:`PriorKnowledge.read_graph`), as
#: (cause, effect) pairs; matched case-insensitively, in either order.
GRAPH_COLUMNS: tuple[tuple[str, str], ...] = (("cause", "effect"), ("source", "target"), ("from", "to"),
                                              ("parent", "child"))


def _graph_columns(head: Sequence[str], where: str) -> tuple[int, int]:
    """The positions of the cause and effect columns that a graph CSV's header ``head`` names
    (:data:`GRAPH_COLUMNS`): a file headed ``effect,cause`` is read the way it says, and a
    header that names neither (a typo, or no header) is refused rather than read by position."""
    lower = [h.strip().lower() for h in head]
    for cause, effect in GRAPH_COLUMNS:
        if cause in lower and effect in lower:
            return lower.index(cause), lower.index(effect)
    allowed = " or ".join(",".join(pair) for pair in GRAPH_COLUMNS)
    raise InvalidInputError(f"{where}: its header {','.join(head[:4])!r} names no cause and effect columns; name "
                            f"them {allowed} (either order)")


def _with_lagged(pairs: list[Edge], lagged: Sequence[Edge]) -> list[Edge]:
    """A graph.json's edges with its lagged links added as edges, each unless it would close
    a cycle with those kept (a link back one step late, feedback across steps, which a graph
    of given edges cannot hold: the same-step edges win)."""
    kept = list(dict.fromkeys(pairs))
    at = {n: k for k, n in enumerate(dict.fromkeys(n for e in (*kept, *lagged) for n in e))}
    A = np.zeros((len(at), len(at)))
    for a, b in kept:
        A[at[a], at[b]] = 1
    for a, b in lagged:
        if A[at[a], at[b]]:
            continue
        A[at[a], at[b]] = 1
        if find_cycle(A) is None:
            kept.append((a, b))
        else:
            A[at[a], at[b]] = 0
    return kept


def _names(items: Any, where: str) -> tuple[str, ...]:
    """A list of metric names; one string is one name (never split into characters)."""
    if items is None:
        return ()
    if isinstance(items, str):
        return (items,)
    if not isinstance(items, Iterable):
        raise InvalidInputError(f"{where} must be a list of metric names, got {items!r}")
    items = list(items)
    for k, x in enumerate(items):
        if not isinstance(x, (str, int, float)):
            raise InvalidInputError(f"{where}[{k}] must be a metric name, got {x!r}")
    return tuple(str(x) for x in items)


def _tiers(tiers: Any, where: str) -> tuple[tuple[str, ...], ...]:
    """A list of tiers, each a list of names or one name."""
    if tiers is None:
        return ()
    if isinstance(tiers, str) or not isinstance(tiers, Iterable):
        raise InvalidInputError(f"{where} must be a list of lists of metric names, got {tiers!r}")
    return tuple(_names(t, f"{where}[{k}]") for k, t in enumerate(tiers))


@dataclass(frozen=True)
class PriorKnowledge:
    """What is known about the causal graph before looking at data.

    An edge is ``(source, target)`` or ``"source -> target"``; a bare string is one name
    (``sinks="fault"``), one edge (``forbidden="a -> b"``) or, inside ``tiers``, a tier
    of one name. A flat pair ``forbidden=["a", "b"]`` is refused as ambiguous. Names may
    be glob patterns, expanded by :meth:`expand`.

    Attributes
    ----------
    forbidden : tuple of (str, str)
        Edges ``(source, target)`` that must not appear.
    required : tuple of (str, str)
        Edges that must appear (exempt from the L1 penalty and thresholding).
    tiers : tuple of tuple of str
        Groups of metrics in causal order; no edge goes to an earlier tier.
    sinks : tuple of str
        Metrics with no out-edges (a fault label: an effect only).
    sources : tuple of str
        Metrics with no in-edges (external load).
    graph : tuple of (str, str) or None
        A known graph used as given, or None: its edges are required and no other edge is
        allowed, same-step or lagged (a metric's own past still is).
    """

    forbidden: tuple[Edge, ...] = ()
    required: tuple[Edge, ...] = ()
    tiers: tuple[tuple[str, ...], ...] = ()
    sinks: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    graph: tuple[Edge, ...] | None = None

    def __post_init__(self) -> None:
        # a bare string is one name (or one 'a -> b' edge), never a sequence of characters
        object.__setattr__(self, "forbidden", _edges(self.forbidden, "forbidden"))
        object.__setattr__(self, "required", _edges(self.required, "required"))
        object.__setattr__(self, "tiers", _tiers(self.tiers, "tiers"))
        object.__setattr__(self, "sinks", _names(self.sinks, "sinks"))
        object.__setattr__(self, "sources", _names(self.sources, "sources"))
        if self.graph is not None:
            object.__setattr__(self, "graph", _edges(self.graph, "graph"))

    @classmethod
    def from_dict(cls, spec: dict[str, Any], *, where: str = "prior") -> PriorKnowledge:
        """Build from a mapping with the keys of the YAML format (all optional).

        Parameters
        ----------
        spec : dict
            Keys among ``forbidden``, ``required``, ``tiers``, ``sinks``, ``sources`` and
            ``graph``, valued as in the module docstring.
        where : str, default "prior"
            What ``spec`` is called in error messages (a file name, say).

        Returns
        -------
        PriorKnowledge

        Raises
        ------
        InvalidInputError
            When ``spec`` is not a mapping, has unknown keys, or a value is not a list of edges,
            names or tiers as its key needs.
        """
        if not isinstance(spec, dict):
            raise InvalidInputError(
                f"{where} must be a mapping with keys {', '.join(_KEYS)}; got {type(spec).__name__}"
            )
        unknown = sorted(set(spec) - set(_KEYS))
        if unknown:
            raise InvalidInputError(f"{where} has unknown keys {unknown}; allowed: {', '.join(_KEYS)}")
        return cls(
            forbidden=_edges(spec.get("forbidden"), f"{where}.forbidden"),
            required=_edges(spec.get("required"), f"{where}.required"),
            tiers=_tiers(spec.get("tiers"), f"{where}.tiers"),
            sinks=_names(spec.get("sinks"), f"{where}.sinks"),
            sources=_names(spec.get("sources"), f"{where}.sources"),
            graph=_edges(spec["graph"], f"{where}.graph") if spec.get("graph") is not None else None,
        )

    def to_dict(self) -> dict[str, Any]:
        """The mapping :meth:`from_dict` reads (lists, ready for JSON or YAML)."""
        out: dict[str, Any] = {"forbidden": [list(e) for e in self.forbidden],
                               "required": [list(e) for e in self.required], "tiers": [list(t) for t in self.tiers],
                               "sinks": list(self.sinks), "sources": list(self.sources)}
        if self.graph is not None:
            out["graph"] = [list(e) for e in self.graph]
        return out

    @staticmethod
    def read_graph(path: str | Path, metrics: Sequence[str] | None = None) -> tuple[Edge, ...]:
        """The edges of a known graph in a file.

        A CSV with a header row naming its cause and effect columns (:data:`GRAPH_COLUMNS`:
        ``cause,effect``, ``source,target``, ``from,to`` or ``parent,child``, in either order,
        any case; other columns, a weight say, are passed over; blank rows skipped), or a JSON
        document with ``edges`` of ``{"source", "target"}`` (``faultgraph discover``'s
        graph.json, whose ``lagged_edges`` count as edges too: a link one step late is a link;
        a truth.json); JSON is recognised by a ``.json`` suffix or a leading ``{``. UTF-8, with
        or without a byte-order mark, or UTF-16 with one. Names may be glob patterns, as in a
        prior.

        Parameters
        ----------
        path : str or Path
            The file.
        metrics : sequence of str, optional
            The data's metrics: a CSV whose first row names two of them is refused (that
            row is the header, so an edge written there would be lost).

        Returns
        -------
        tuple of (str, str)
            The edges, in file order.

        Raises
        ------
        InvalidInputError
            When the file cannot be read as UTF-8 (or UTF-16 with a byte-order mark), the JSON
            lacks ``edges`` with ``source`` and ``target``, the CSV has fewer than two columns,
            its header names no cause and effect column, or a row lacks a cause or an effect,
            an edge joins a metric to itself, or it holds no edge; with ``metrics``, when the
            CSV's header row names two metrics.
        """
        import json

        path = Path(path)
        try:
            raw = path.read_bytes()
            text = raw.decode("utf-16") if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else raw.decode("utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInputError(f"graph file {str(path)!r} cannot be read: {exc}") from None
        where = f"graph file {str(path)!r}"
        if path.suffix.lower() == ".json" or text.lstrip().startswith("{"):
            try:
                spec = json.loads(text)
                pairs = [(str(e["source"]), str(e["target"])) for e in spec["edges"]]
                lagged = spec.get("lagged_edges") or [] if isinstance(spec, dict) else []
                lagged = [(str(e["source"]), str(e["target"])) for e in lagged if e["source"] != e["target"]]
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise InvalidInputError(f"{where} is no graph.json: it needs 'edges', each with "
                                        f"'source' and 'target' ({type(exc).__name__}: {exc})") from None
            pairs = _with_lagged(pairs, lagged)
        else:
            import csv

            rows = [r for r in csv.reader(text.splitlines()) if r and any(c.strip() for c in r)]
            if not rows or len(rows[0]) < 2:
                raise InvalidInputError(f"{where} needs two columns, cause and effect, with a "
                                        "header row (e.g. cause,effect)")
            head = [c.strip() for c in rows[0]]
            if metrics is not None and all(h in {str(m) for m in metrics} for h in head[:2]):
                raise InvalidInputError(f"{where}: its first row {','.join(head[:2])!r} names two "
                                        f"metrics, but a graph CSV's first row is its header and is not read as an "
                                        f"edge: add a header row (cause,effect) above the edges")
            cause, effect = _graph_columns(head, where)
            bad = [k + 2 for k, r in enumerate(rows[1:])
                   if len(r) <= max(cause, effect) or not r[cause].strip() or not r[effect].strip()]
            if bad:
                raise InvalidInputError(f"{where}: line {bad[0]} lacks a cause or an effect")
            pairs = [(r[cause].strip(), r[effect].strip()) for r in rows[1:]]
        if not pairs:
            raise InvalidInputError(f"graph file {str(path)!r} holds no edge")
        return _edges(pairs, where)

    def with_graph(self, edges: Iterable[Edge] | None) -> PriorKnowledge:
        """This prior with ``graph`` set to ``edges`` (None: unchanged).

        Parameters
        ----------
        edges : iterable of (str, str), optional
            The known graph's edges, as :meth:`read_graph` returns them.

        Returns
        -------
        PriorKnowledge
            A new prior, or ``self`` when ``edges`` is None.
        """
        if edges is None:
            return self
        from dataclasses import replace

        return replace(self, graph=tuple(edges))

    def without(self, drop: Iterable[str]) -> tuple[PriorKnowledge, tuple[Edge, ...]]:
        """This prior with every mention of the metrics ``drop`` left out (e.g. metrics the
        encoder dropped as constant in the fitting data: they have no equation, so no edge
        into or out of them can be learned or ruled out).

        Names are matched exactly; expand patterns first (:meth:`expand`) to leave out the
        metrics a pattern matches. A tier that becomes empty goes.

        Parameters
        ----------
        drop : iterable of str
            The metric names to leave out.

        Returns
        -------
        tuple of (PriorKnowledge, tuple of (str, str))
            The new prior, and the required and given (``graph``) edges it left out, which
            :meth:`masks` would have required (a caller may warn: such an edge cannot hold
            for a metric that is not modelled).
        """
        from dataclasses import replace

        gone = set(drop)

        def keep(pairs: tuple[Edge, ...]) -> tuple[Edge, ...]:
            return tuple((a, b) for a, b in pairs if a not in gone and b not in gone)

        def touched(pairs: tuple[Edge, ...]) -> tuple[Edge, ...]:
            return tuple((a, b) for a, b in pairs if a in gone or b in gone)

        tiers = tuple(t for t in (tuple(n for n in tier if n not in gone) for tier in self.tiers) if t)
        lost = touched(self.required) + touched(self.graph or ())
        return replace(
            self, forbidden=keep(self.forbidden), required=keep(self.required), tiers=tiers,
            sinks=tuple(n for n in self.sinks if n not in gone),
            sources=tuple(n for n in self.sources if n not in gone),
            graph=keep(self.graph) if self.graph is not None else None,
        ), lost

    def over(self, names: Sequence[str], dropped: Iterable[str]) -> tuple[PriorKnowledge, tuple[Edge, ...]]:
        """This prior for a model of the metrics ``names`` when the metrics ``dropped`` were
        left out of it (constant or missing in the fitting data): unchanged when it names none
        of them; else its patterns expanded over both and every mention of ``dropped`` left
        out (:meth:`without`).

        Parameters
        ----------
        names : sequence of str
            The metrics modelled.
        dropped : iterable of str
            The metrics left out.

        Returns
        -------
        tuple of (PriorKnowledge, tuple of (str, str))
            The prior, and the required and given edges it left out.

        Raises
        ------
        InvalidInputError
            When a pattern matches no metric of ``names`` or ``dropped``.
        """
        dropped = list(dropped)
        if not dropped:
            return self, ()
        full = self.expand([*names, *dropped])
        named = {n for pair in (*full.forbidden, *full.required, *(full.graph or ())) for n in pair}
        named |= {*full.sinks, *full.sources, *(n for tier in full.tiers for n in tier)}
        if not named & set(dropped):
            return self, ()
        return full.without(dropped)

    @classmethod
    def coerce(cls, prior: PriorKnowledge | str | Path | None) -> PriorKnowledge | None:
        """``prior`` as a :class:`PriorKnowledge`: itself, read from a YAML path, or None.

        Parameters
        ----------
        prior : PriorKnowledge, str, path-like or None
            A prior, or the path of a YAML file (:meth:`from_yaml`).

        Returns
        -------
        PriorKnowledge or None

        Raises
        ------
        InvalidInputError
            When ``prior`` is of another type, or the YAML file cannot be read or is invalid.
        """
        if prior is None or isinstance(prior, PriorKnowledge):
            return prior
        if isinstance(prior, str) or hasattr(prior, "__fspath__"):
            return cls.from_yaml(prior)
        raise InvalidInputError(f"prior must be a PriorKnowledge or a YAML path, got {type(prior).__name__}")

    @classmethod
    def from_yaml(cls, path: str | Path) -> PriorKnowledge:
        """Read a prior from a YAML file (see the module docstring for the format).

        An empty file is an empty prior.

        Parameters
        ----------
        path : str or Path
            The YAML file.

        Returns
        -------
        PriorKnowledge

        Raises
        ------
        InvalidInputError
            When the file cannot be read, is not UTF-8 or not valid YAML (the message gives the
            line and column), or its content is invalid as for :meth:`from_dict`.
        """
        import yaml

        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInputError(f"prior file {str(path)!r} cannot be read: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise InvalidInputError(f"prior file {str(path)!r} cannot be read: it is not UTF-8 text") from None
        try:
            spec = yaml.safe_load(text)
        except yaml.YAMLError as exc:  # one line: the problem and where (PyYAML draws the line below it)
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc).strip().splitlines()[0]
            raise InvalidInputError(f"prior file {str(path)!r} is not valid YAML: {problem}{where}") from None
        return cls.from_dict(spec or {}, where=str(path))

    def expand(self, names: Sequence[str]) -> PriorKnowledge:
        """Replace glob patterns by the metrics of ``names`` they match.

        Patterns use ``*``, ``?`` and ``[...]`` (as in ``"*_cpu"``, matched case-sensitively);
        an edge between patterns becomes every matching pair (without self-loops). Plain names
        pass through unchanged (and are checked by :meth:`masks`). In ``tiers`` a metric has
        one place: a name given in a tier is not matched by another tier's pattern, ``"*"``
        alone takes the metrics no other tier names or matches (``[["web"], ["*"]]``: web
        first, the rest after), and a metric named in two tiers, or matched by patterns of
        two tiers (``"*"`` aside), is refused.

        Parameters
        ----------
        names : sequence of str
            The metric names.

        Returns
        -------
        PriorKnowledge
            A new prior without patterns.

        Raises
        ------
        InvalidInputError
            When a pattern matches no metric, or a metric has two places in ``tiers``.
        """

        def match(pattern: str, where: str) -> list[str]:
            if not any(ch in pattern for ch in "*?["):
                return [pattern]
            found = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
            if not found:
                raise InvalidInputError(f"prior {where} pattern {pattern!r} matches no metric")
            return found

        def edges(pairs: tuple[Edge, ...], where: str) -> tuple[Edge, ...]:
            return tuple((a, b) for x, y in pairs for a in match(x, where) for b in match(y, where) if a != b)

        def group(items: tuple[str, ...], where: str) -> tuple[str, ...]:
            return tuple(dict.fromkeys(n for item in items for n in match(item, where)))

        return PriorKnowledge(
            forbidden=edges(self.forbidden, "forbidden"), required=edges(self.required, "required"),
            tiers=self._expand_tiers(match), sinks=group(self.sinks, "sinks"),
            sources=group(self.sources, "sources"),
            graph=edges(self.graph, "graph") if self.graph is not None else None,
        )

    def _expand_tiers(self, match: Any) -> tuple[tuple[str, ...], ...]:
        """The tiers with patterns replaced, each metric in one tier (see :meth:`expand`)."""
        place: dict[str, int] = {}
        for k, tier in enumerate(self.tiers):  # names given as such come first
            for name in tier:
                if any(ch in name for ch in "*?["):
                    continue
                if place.get(name, k) != k:
                    raise InvalidInputError(f"prior tiers name {name!r} in tier {place[name] + 1} and in tier {k + 1}; "
                                            "a metric has one place in the order")
                place[name] = k
        by_pattern: dict[str, dict[int, str]] = {}
        rest: dict[str, list[int]] = {}
        for k, tier in enumerate(self.tiers):
            for pattern in tier:
                if not any(ch in pattern for ch in "*?["):
                    continue
                for name in match(pattern, "tiers"):
                    if name in place:
                        continue
                    if pattern == "*":
                        rest.setdefault(name, []).append(k)
                    else:
                        by_pattern.setdefault(name, {}).setdefault(k, pattern)
        for name, tiers in by_pattern.items():
            if len(tiers) > 1:
                (k1, p1), (k2, p2) = list(tiers.items())[:2]
                raise InvalidInputError(f"prior tiers place {name!r} in tier {k1 + 1} (pattern {p1!r}) and in tier "
                                        f"{k2 + 1} (pattern {p2!r}); a metric has one place in the order: "
                                        "narrow a pattern, or name the metric")
            place[name] = next(iter(tiers))
        for name, tiers in rest.items():
            if name in place:
                continue
            if len(set(tiers)) > 1:
                raise InvalidInputError(f"prior tiers hold the pattern '*' in tiers {tiers[0] + 1} and {tiers[1] + 1}; "
                                        "'*' (the metrics no other tier names) can be in one tier only")
            place[name] = tiers[0]
        order = [name for tier in self.tiers for item in tier for name in match(item, "tiers")]
        return tuple(tuple(dict.fromkeys(n for n in order if place.get(n) == k)) for k in range(len(self.tiers)))

    def masks(self, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """The ``(allowed, required)`` boolean ``(d, d)`` masks over ``names``.

        ``allowed[i, j]`` is False for self-loops, forbidden edges, out-edges of sinks,
        in-edges of sources, edges to an earlier tier, edges outside a given ``graph`` and the
        reverse of a required edge; ``required`` holds the required edges and those of
        ``graph``.

        Parameters
        ----------
        names : sequence of str
            The metric names, in the order of the matrices.

        Returns
        -------
        tuple of ((d, d) ndarray of bool, (d, d) ndarray of bool)
            ``(allowed, required)``.

        Raises
        ------
        InvalidInputError
            When the prior names an unknown metric, a pattern matches none, the prior
            contradicts itself (a required or given edge ruled out by its forbidden edges,
            tiers, sinks or sources) or requires a cycle.
        """
        p = self.expand(names)
        index = {n: i for i, n in enumerate(names)}
        d = len(names)

        def idx(name: str, where: str) -> int:
            if name not in index:
                raise InvalidInputError(
                    f"prior {where} names unknown metric {name!r}; known metrics: {describe_names(names, 10)}"
                )
            return index[name]

        allowed = ~np.eye(d, dtype=bool)
        for a, b in p.forbidden:
            allowed[idx(a, "forbidden"), idx(b, "forbidden")] = False
        for s in p.sinks:
            allowed[idx(s, "sinks"), :] = False
        for s in p.sources:
            allowed[:, idx(s, "sources")] = False
        rank = np.full(d, -1)
        for k, tier in enumerate(p.tiers):
            for name in tier:
                rank[idx(name, "tiers")] = k
        ranked = rank >= 0
        later_to_earlier = ranked[:, None] & ranked[None, :] & (rank[:, None] > rank[None, :])
        allowed &= ~later_to_earlier
        required = np.zeros((d, d), dtype=bool)
        if p.graph is not None:
            given = p._graph_mask(idx, d)
            conflict = np.argwhere(given & ~allowed)
            if conflict.size:
                i, j = conflict[0]
                raise InvalidInputError(f"prior graph has the edge {names[i]} -> {names[j]}, which its forbidden "
                                        "edges, tiers, sinks or sources rule out")
            allowed &= given
            required |= given
        for a, b in p.required:
            i, j = idx(a, "required"), idx(b, "required")
            if not allowed[i, j]:
                raise InvalidInputError(
                    f"prior requires the edge {a} -> {b}, which its forbidden edges, tiers, sinks, sources or "
                    "given graph rule out"
                )
            required[i, j] = True
        cycle = find_cycle(required)
        if cycle:
            path = " -> ".join([names[cycle[0][0]]] + [names[j] for _, j in cycle])
            on_cycle = {(names[i], names[j]) for i, j in cycle}
            given = " (its given graph)" if p.graph and on_cycle <= {tuple(e) for e in p.graph} else ""
            raise InvalidInputError(f"prior{given} requires a cycle: {path}; a causal graph has none")
        allowed &= ~required.T  # the reverse of a required edge would close a 2-cycle
        return allowed, required

    def _graph_mask(self, idx: Any, d: int) -> np.ndarray:
        """The ``(d, d)`` mask of the (expanded) ``graph``'s edges; ``idx(name, where)``
        gives a name's index."""
        given = np.zeros((d, d), dtype=bool)
        for a, b in self.graph or ():
            given[idx(a, "graph"), idx(b, "graph")] = True
        return given

    def lagged_mask(self, names: Sequence[str]) -> np.ndarray:
        """The ``(d, d)`` mask of allowed edges from a lagged copy ``x_i(t−l)`` to ``x_j(t)``.

        Forbidden pairs, sinks, sources, tiers and a given ``graph`` apply at every lag; a
        metric's own past (the diagonal) is always allowed. Names are checked as in
        :meth:`masks`.

        Parameters
        ----------
        names : sequence of str
            The metric names, in the order of the matrix.

        Returns
        -------
        (d, d) ndarray of bool
            ``True`` where the lagged edge is allowed.

        Raises
        ------
        InvalidInputError
            As :meth:`masks`.
        """
        self.masks(names)  # validates every name and the prior's consistency
        p = self.expand(names)
        index = {n: i for i, n in enumerate(names)}
        lagged = np.ones((len(names), len(names)), dtype=bool)
        for a, b in p.forbidden:
            lagged[index[a], index[b]] = False
        for name in p.sinks:
            lagged[index[name], :] = False
        for name in p.sources:
            lagged[:, index[name]] = False
        rank = np.full(len(names), -1)
        for k, tier in enumerate(p.tiers):
            for name in tier:
                rank[index[name]] = k
        ranked = rank >= 0
        lagged &= ~(ranked[:, None] & ranked[None, :] & (rank[:, None] > rank[None, :]))
        if p.graph is not None:
            lagged &= p._graph_mask(lambda name, where: index[name], len(names))
        np.fill_diagonal(lagged, True)  # a sink's or a source's own past may still explain it
        return lagged
