"""Small, dependency-free SVG charts for the incident report (inline, no network needed)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import numpy as np

__all__ = ["bar_chart", "graph_view", "heat_map", "line_chart", "short_names"]

_FONT = 'font-family="Helvetica, Arial, sans-serif" font-size="11"'
#: The graph's colours, used by the nodes and by the legend drawn with them.
ROOT_COLOR, SYMPTOM_COLOR, PATH_COLOR, NODE_COLOR = "#d62728", "#ff7f0e", "#f4a3a3", "#dde8f5"
#: Width of a character of the 11 px font, for laying out labels (Helvetica averages ~6 px).
CHAR_WIDTH = 6.4


def _label_margin(labels: Sequence[str], width: int) -> int:
    """Room on the left for the longest label at the 11 px font (about 6.6 px a
    character), between 120 px and 55 % of ``width``."""
    longest = max((len(str(label)) for label in labels), default=0)
    return int(min(max(16 + 6.6 * longest, 120), 0.55 * width))


def _polyline(xs: np.ndarray, ys: np.ndarray, color: str, width: float = 1.5) -> str:
    pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys))
    return f'<polyline fill="none" stroke="{color}" stroke-width="{width}" points="{pts}"/>'


def line_chart(
    series: dict[str, Sequence[float]],
    *,
    width: int = 720,
    height: int = 220,
    band: tuple[int, int] | None = None,
    hline: float | None = None,
    title: str = "",
    ticks: Sequence[tuple[int, str]] = (),
) -> str:
    """Lines over a shared step axis; ``band`` shades a span of steps, ``hline`` draws a level,
    ``ticks`` labels the time axis (``(step, label)`` pairs, e.g. the first and last time and
    the window's bounds).

    Parameters
    ----------
    series : dict of str to sequence of float
        Name → values per step (non-finite values are skipped); at most five colours,
        then repeated.
    width, height : int, default 720, 220
        Size in pixels.
    band : tuple of (int, int) or None, default None
        First and last step of the shaded span.
    hline : float or None, default None
        A level drawn dashed.
    title : str, default ""
        Drawn above the chart.
    ticks : sequence of (int, str), default ()
        Time-axis labels; one that would overlap an earlier one is left out.

    Returns
    -------
    str
        The SVG element.
    """
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]
    left, right, top, bottom = 50, 10, 24, 24 + (16 if ticks else 0)
    values = [np.asarray(v, dtype=float) for v in series.values()]
    n = max(len(v) for v in values)
    allv = np.concatenate([v[np.isfinite(v)] for v in values] + ([np.array([hline])] if hline is not None else []))
    lo, hi = float(allv.min()), float(allv.max())
    hi = hi if hi > lo else lo + 1.0
    sx = lambda i: left + (width - left - right) * i / max(n - 1, 1)  # noqa: E731
    sy = lambda v: top + (height - top - bottom) * (1 - (v - lo) / (hi - lo))  # noqa: E731
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" {_FONT}>',
             f'<text x="{left}" y="14" font-weight="bold">{escape(title)}</text>',
             f'<rect x="{left}" y="{top}" width="{width - left - right}" height="{height - top - bottom}" '
             'fill="none" stroke="#ccc"/>']
    if band is not None:
        x0, x1 = sx(band[0]), sx(band[1])
        parts.append(f'<rect class="incident-window" x="{x0:.1f}" y="{top}" width="{max(x1 - x0, 1):.1f}" '
                     f'height="{height - top - bottom}" fill="#fdd" opacity="0.6"/>')
    if hline is not None:
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{sy(hline):.1f}" y2="{sy(hline):.1f}" '
                     'stroke="#999" stroke-dasharray="4 3"/>')
    for k, (name, v) in enumerate(zip(series, values)):
        ok = np.isfinite(v)
        parts.append(_polyline(np.array([sx(i) for i in np.flatnonzero(ok)]), np.array([sy(x) for x in v[ok]]),
                               colors[k % len(colors)]))
        parts.append(f'<text x="{left + 8 + 150 * k}" y="{height - 6}" fill="{colors[k % len(colors)]}">'
                     f'{escape(name)}</text>')
    placed: list[tuple[float, float]] = []  # the time axis: ticks whose labels do not overlap
    for step, label in sorted(ticks):
        x, half = sx(step), CHAR_WIDTH * len(label) / 2
        x = min(max(x, left + half), width - right - half)
        if any(abs(x - px) < half + ph + 6 for px, ph in placed):
            continue
        placed.append((x, half))
        parts.append(f'<line class="tick" x1="{sx(step):.1f}" x2="{sx(step):.1f}" y1="{height - bottom}" '
                     f'y2="{height - bottom + 4}" stroke="#999"/><text class="tick-label" x="{x:.1f}" '
                     f'y="{height - bottom + 14}" text-anchor="middle" fill="#555">{escape(label)}</text>')
    parts += [f'<text x="4" y="{top + 8}">{hi:.3g}</text>', f'<text x="4" y="{height - bottom}">{lo:.3g}</text>',
              "</svg>"]
    return "\n".join(parts)


def bar_chart(labels: Sequence[str], values: Sequence[float], *, highlight: int | None = 0, width: int = 720,
              title: str = "", texts: Sequence[str] | None = None) -> str:
    """Horizontal bars, largest first as given; ``highlight`` marks one bar.

    Parameters
    ----------
    labels : sequence of str
        One per bar.
    values : sequence of float
        Bar lengths, scaled to the largest.
    highlight : int or None, default 0
        The bar drawn red; ``None``: none.
    width : int, default 720
        Width in pixels (the height follows the bars).
    title : str, default ""
        Drawn above the chart.
    texts : sequence of str, optional
        What to write after each bar; default its value (a bar drawn at a stand-in
        length, such as a constant that moved, says so instead of a number).

    Returns
    -------
    str
        The SVG element.
    """
    row, left, top = 22, _label_margin(labels, width), 24
    texts = [f"{float(v):.3g}" for v in values] if texts is None else list(texts)
    height = top + row * len(labels) + 8
    vmax = max([float(v) for v in values] + [1e-12])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" {_FONT}>',
             f'<text x="4" y="14" font-weight="bold">{escape(title)}</text>']
    for k, (label, v, text) in enumerate(zip(labels, values, texts)):
        y = top + row * k
        w = (width - left - 60) * float(v) / vmax
        color = "#d62728" if k == highlight else "#1f77b4"
        parts += [f'<text x="{left - 6}" y="{y + 14}" text-anchor="end">{escape(str(label))}</text>',
                  f'<rect class="cause-bar" x="{left}" y="{y + 3}" width="{max(w, 1):.1f}" height="{row - 6}" '
                  f'fill="{color}"/>', f'<text x="{left + w + 4:.1f}" y="{y + 14}">{escape(text)}</text>']
    parts.append("</svg>")
    return "\n".join(parts)


def heat_map(labels: Sequence[str], values: np.ndarray, *, marks: Sequence[int | None] = (),
             ends: tuple[str, str] = ("", ""), max_columns: int = 240, width: int = 720, title: str = "") -> str:
    """One row of cells per label over the columns of ``values`` (labels × steps), white to
    red up to the 99th percentile of the finite values (``inf`` saturates); more than
    ``max_columns`` steps are shown as that many bins of their largest value. ``marks``
    puts a black tick at a column of each row (``None``: none; negative: an arrow at the
    left edge, before the first column); ``ends`` names the first and last step.

    Parameters
    ----------
    labels : sequence of str
        One per row of ``values``.
    values : ndarray of shape (rows, steps)
        The cells' values.
    marks : sequence of int or None, default ()
        Per row, the step of a tick (see above); missing rows have none.
    ends : tuple of (str, str), default ("", "")
        Labels of the first and last step.
    max_columns : int, default 240
        Most columns drawn.
    width : int, default 720
        Width in pixels.
    title : str, default ""
        Drawn above the map.

    Returns
    -------
    str
        The SVG element.
    """
    values = np.asarray(values, dtype=float)
    n = values.shape[1]
    bins = np.array_split(np.arange(n), min(n, max_columns))
    cells = np.column_stack([values[:, b].max(axis=1) for b in bins])
    column_of = np.concatenate([np.full(len(b), k) for k, b in enumerate(bins)])
    finite = cells[np.isfinite(cells)]
    top = float(np.percentile(finite, 99)) if finite.size else 1.0
    shade = np.clip(np.nan_to_num(cells / max(top, 1e-12), nan=0.0, posinf=1.0), 0.0, 1.0)
    row, left, head = 18, _label_margin(labels, width), 24
    cw = (width - left - 10) / cells.shape[1]
    height = head + row * len(labels) + 22
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" {_FONT}>',
             f'<text x="4" y="14" font-weight="bold">{escape(title)}</text>']
    for r, label in enumerate(labels):
        y = head + row * r
        parts.append(f'<text x="{left - 9}" y="{y + 13}" text-anchor="end">{escape(str(label))}</text>')
        for c in range(cells.shape[1]):
            level = round(255 * (1 - float(shade[r, c])))
            parts.append(f'<rect class="heat-cell" x="{left + c * cw:.1f}" y="{y + 1}" width="{cw + 0.3:.1f}" '
                         f'height="{row - 2}" fill="rgb(255,{level},{level})"/>')
        mark = marks[r] if r < len(marks) else None
        if mark is not None and mark < 0:  # before the first column: an arrow at the left edge
            parts.append(f'<path class="onset-mark" d="M {left - 1} {y + 3} L {left - 1} {y + row - 3} '
                         f'L {left - 6} {y + row / 2} z" fill="#000"/>')
        elif mark is not None:
            x = left + column_of[min(int(mark), n - 1)] * cw
            parts.append(f'<rect class="onset-mark" x="{x:.1f}" y="{y}" width="2" height="{row}" fill="#000"/>')
    y = head + row * len(labels) + 14
    parts += [f'<text x="{left}" y="{y}">{escape(ends[0])}</text>',
              f'<text x="{width - 10}" y="{y}" text-anchor="end">{escape(ends[1])}</text>', "</svg>"]
    return "\n".join(parts)


def graph_view(
    nodes: Sequence[str],
    W: np.ndarray,
    *,
    path: Sequence[str] = (),
    root: str | None = None,
    symptom: str | None = None,
    max_edges: int = 150,
    size: int = 720,
    seed: int = 0,
    confidence: np.ndarray | None = None,
    low_confidence: float = 0.5,
    max_nodes: int = 60,
) -> str:
    """The causal graph: the strongest edges with their weights, the ``root`` cause red, the
    ``symptom`` orange, the other nodes of the propagation ``path`` pink and its edges red,
    with a key drawn in the same colours; labels placed where they overlap least and stay
    inside the picture. Spring layout (networkx), seeded.

    ``confidence`` (``(d, d)``, a graph ensemble's share of graphs holding each edge in its
    direction): an edge's width grows with it, and an edge held by fewer than
    ``low_confidence`` of the graphs is dashed (class ``low-confidence``) and listed
    under the picture.

    Parameters
    ----------
    nodes : sequence of str
        Node names, in the order of ``W``'s rows.
    W : ndarray of shape (d, d)
        Edge weights (``W[i, j]``: ``nodes[i]`` → ``nodes[j]``).
    path : sequence of str, default ()
        The propagation path, root first; its edges are drawn even when weak.
    root, symptom : str or None, default None
        The root cause and the symptom.
    max_edges : int, default 150
        The strongest edges drawn (besides the path's).
    size : int, default 720
        Width and height in pixels.
    seed : int, default 0
        Seed of the layout.
    confidence : ndarray of shape (d, d) or None, default None
        See above.
    low_confidence : float, default 0.5
        See above.
    max_nodes : int, default 60
        With more nodes, only the root, the symptom, the path and the ends of the strongest
        edges are drawn, up to this many (hundreds of labelled nodes hide the root cause);
        a line under the picture says how many are left out.

    Returns
    -------
    str
        The SVG element.
    """
    import networkx as nx

    A = np.abs(np.asarray(W, dtype=float))
    np.fill_diagonal(A, 0.0)
    total = len(nodes)
    if total > max_nodes:
        keep = dict.fromkeys(n for n in (root, symptom, *path) if n is not None and n in nodes)
        for flat in np.argsort(-A, axis=None, kind="stable"):
            i, j = np.unravel_index(flat, A.shape)
            if A[i, j] <= 0 or len(keep) >= max_nodes:
                break
            new = [n for n in dict.fromkeys((nodes[i], nodes[j])) if n not in keep]
            if len(keep) + len(new) <= max_nodes:
                keep.update(dict.fromkeys(new))
        shown = [k for k, n in enumerate(nodes) if n in keep]
        nodes = [nodes[k] for k in shown]
        A, W = A[np.ix_(shown, shown)], np.asarray(W)[np.ix_(shown, shown)]
        confidence = None if confidence is None else np.asarray(confidence)[np.ix_(shown, shown)]
    on_path = {(a, b) for a, b in zip(path, path[1:])}
    idx = {n: i for i, n in enumerate(nodes)}
    order = np.argsort(-A, axis=None)[:max_edges]
    # sorted: a set's order follows string hashing, which changes from run to run, and
    # with it the layout; the picture must be the same for the same graph
    edges = sorted({(nodes[i], nodes[j]) for i, j in zip(*np.unravel_index(order, A.shape)) if A[i, j] > 0}
                   | on_path)
    G = nx.DiGraph()
    G.add_nodes_from(nodes)
    G.add_edges_from(edges)
    pos = nx.spring_layout(G.to_undirected(), seed=seed, k=1.8 / np.sqrt(max(len(nodes), 1)))
    # room for the labels (up to the longest at either side) and the legend above
    short = short_names(nodes)
    margin = min(CHAR_WIDTH * max((len(n) for n in short.values()), default=0) / 2 + 12, size / 4)
    xy = {n: (margin + (size - 2 * margin) * (p[0] + 1) / 2, 40 + (size - 70) * (p[1] + 1) / 2)
          for n, p in pos.items()}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" {_FONT}>',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="18" refY="5" markerWidth="6" markerHeight="6" '
             'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#888"/></marker>'
             '<marker id="arrow-hot" viewBox="0 0 10 10" refX="18" refY="5" markerWidth="6" markerHeight="6" '
             'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#d62728"/></marker></defs>']
    weak: list[str] = []
    for a, b in sorted(edges, key=lambda e: e in on_path):
        (x1, y1), (x2, y2) = xy[a], xy[b]
        hot = (a, b) in on_path
        w = float(W[idx[a], idx[b]])
        width, style, note, cls = (3 if hot else 1), "", "", "path-edge" if hot else "edge"
        if confidence is not None:
            c = float(confidence[idx[a], idx[b]])
            width, note = (width + 2 * c) / 2 + 0.5, f" (in {c:.0%} of the graphs)"
            if c < low_confidence:
                style, cls = ' stroke-dasharray="4 3"', cls + " low-confidence"
                weak.append(f"{a} → {b} {c:.0%}")
        parts.append(f'<line class="{cls}" x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" '
                     f'y2="{y2:.1f}" stroke="{"#d62728" if hot else "#bbb"}" stroke-width="{width:.2g}"{style} '
                     f'marker-end="url(#{"arrow-hot" if hot else "arrow"})"><title>{escape(a)} → {escape(b)}: '
                     f'{w:+.2f}{note}</title></line>')
        if hot or abs(w) >= 0.5:
            parts.append(f'<text x="{(x1 + x2) / 2:.1f}" y="{(y1 + y2) / 2:.1f}" fill="{"#d62728" if hot else "#999"}" '
                         f'font-size="9">{w:+.2f}</text>')
    labels = _place_labels([short[n] for n in nodes], {short[n]: xy[n] for n in nodes}, size)
    for n in nodes:
        x, y = xy[n]
        fill = ROOT_COLOR if n == root else SYMPTOM_COLOR if n == symptom else PATH_COLOR if n in path else NODE_COLOR
        lx, ly, anchor = labels[short[n]]
        parts.append(f'<circle class="node" cx="{x:.1f}" cy="{y:.1f}" r="7" fill="{fill}" stroke="#555">'
                     f'<title>{escape(n)}</title></circle>'
                     f'<text class="node-label" x="{lx:.1f}" y="{ly:.1f}" text-anchor="{anchor}">{escape(short[n])}</text>')
    parts.append(_legend(root is not None, symptom is not None and symptom != root, len(path) > 1,
                         both=root is not None and symptom == root))
    if weak:
        parts.append(f'<text class="low-confidence-list" x="10" y="{size - 8}" font-size="10" fill="#555">'
                     f'low confidence (dashed): {escape(", ".join(weak[:12]))}'
                     f'{f" and {len(weak) - 12} more" if len(weak) > 12 else ""}</text>')
    if len(nodes) < total:
        parts.append(f'<text class="left-out" x="10" y="{size - (22 if weak else 8)}" font-size="10" fill="#555">'
                     f'{len(nodes)} of {total} metrics drawn: the root cause, the symptom, the path and the ends of '
                     f'the strongest edges</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def short_names(nodes: Sequence[str]) -> dict[str, str]:
    """Labels for the graph: a Prometheus series ``name{label="v",...}`` as ``name{v}``, the
    value of its service label (:data:`faultgraph.services.LABELS_ORDER`, first present),
    where those stay unique; every other name as it is (the full name is the node's tooltip).

    Parameters
    ----------
    nodes : sequence of str
        Metric names.

    Returns
    -------
    dict of str to str
        Name → label.
    """
    from faultgraph.services import LABELS_ORDER, parse_labels

    out = {}
    for n in nodes:
        name, labels = parse_labels(n)
        value = next((labels[k] for k in LABELS_ORDER if labels.get(k)), None)
        out[n] = f"{name}{{{value}}}" if labels and value is not None else n
    if len(set(out.values())) < len(out):  # shortening merged two names: keep them whole
        return {n: n for n in nodes}
    return out


def _legend(root: bool, symptom: bool, path: bool, both: bool = False) -> str:
    """The graph's key, drawn with the colours the nodes and path use (top left); ``both``:
    the root cause is the symptom itself."""
    items = ([(ROOT_COLOR, "root cause (and symptom)" if both else "root cause")] if root else []) + (
        [(SYMPTOM_COLOR, "symptom")] if symptom else []) + (
        [(PATH_COLOR, "on the propagation path")] if path else [])
    parts, x = ['<g class="legend">'], 8.0
    for color, text in items:
        parts.append(f'<circle cx="{x + 6:.1f}" cy="12" r="6" fill="{color}" stroke="#555"/>'
                     f'<text x="{x + 16:.1f}" y="16">{text}</text>')
        x += 30 + CHAR_WIDTH * len(text)
    if path:
        parts.append(f'<line x1="{x:.1f}" y1="12" x2="{x + 24:.1f}" y2="12" stroke="{ROOT_COLOR}" stroke-width="3"/>'
                     f'<text x="{x + 30:.1f}" y="16">propagation (its edges)</text>')
    parts.append("</g>")
    return "".join(parts)


def _place_labels(nodes: Sequence[str], xy: dict[str, tuple[float, float]], size: int
                  ) -> dict[str, tuple[float, float, str]]:
    """Each node's label position ``(x, y, text-anchor)``: right of the node, else left, above
    or below, whichever stays inside the picture and overlaps the fewest labels already
    placed and nodes (boxes at :data:`CHAR_WIDTH` a character, 12 px high)."""
    boxes: list[tuple[float, float, float, float]] = [(x - 8, y - 8, x + 8, y + 8) for x, y in xy.values()]
    out = {}
    for n in sorted(nodes, key=lambda m: (xy[m][0], xy[m][1])):
        x, y = xy[n]
        w = CHAR_WIDTH * len(n)
        candidates = [(x + 10, y + 4, "start", (x + 10, y - 7, x + 10 + w, y + 5)),
                      (x - 10, y + 4, "end", (x - 10 - w, y - 7, x - 10, y + 5)),
                      (x, y - 11, "middle", (x - w / 2, y - 22, x + w / 2, y - 10)),
                      (x, y + 20, "middle", (x - w / 2, y + 9, x + w / 2, y + 21))]

        def cost(box: tuple[float, float, float, float]) -> float:
            outside = max(0.0, -box[0]) + max(0.0, box[2] - size) + max(0.0, 24 - box[1]) + max(0.0, box[3] - size)
            overlap = sum(max(0.0, min(box[2], b[2]) - max(box[0], b[0])) * max(0.0, min(box[3], b[3]) - max(box[1], b[1]))
                          for b in boxes if b != (x - 8, y - 8, x + 8, y + 8))
            return 1e3 * outside + overlap

        lx, ly, anchor, box = min(candidates, key=lambda c: cost(c[3]))
        boxes.append(box)
        out[n] = (lx, ly, anchor)
    return out
