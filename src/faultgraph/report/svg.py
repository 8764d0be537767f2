"""Small, dependency-free SVG charts for the incident report (inline, no network needed)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import numpy as np

__all__ = ["bar_chart", "graph_view", "heat_map", "line_chart"]

_FONT = 'font-family="Helvetica, Arial, sans-serif" font-size="11"'


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
) -> str:
    """Lines over a shared step axis; ``band`` shades a span of steps, ``hline`` draws a level."""
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]
    left, right, top, bottom = 50, 10, 24, 24
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
    parts += [f'<text x="4" y="{top + 8}">{hi:.3g}</text>', f'<text x="4" y="{height - bottom}">{lo:.3g}</text>',
              "</svg>"]
    return "\n".join(parts)


def bar_chart(labels: Sequence[str], values: Sequence[float], *, highlight: int | None = 0, width: int = 720,
              title: str = "") -> str:
    """Horizontal bars, largest first as given; ``highlight`` marks one bar."""
    row, left, top = 22, _label_margin(labels, width), 24
    height = top + row * len(labels) + 8
    vmax = max([float(v) for v in values] + [1e-12])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" {_FONT}>',
             f'<text x="4" y="14" font-weight="bold">{escape(title)}</text>']
    for k, (label, v) in enumerate(zip(labels, values)):
        y = top + row * k
        w = (width - left - 60) * float(v) / vmax
        color = "#d62728" if k == highlight else "#1f77b4"
        parts += [f'<text x="{left - 6}" y="{y + 14}" text-anchor="end">{escape(str(label))}</text>',
                  f'<rect class="cause-bar" x="{left}" y="{y + 3}" width="{max(w, 1):.1f}" height="{row - 6}" '
                  f'fill="{color}"/>', f'<text x="{left + w + 4:.1f}" y="{y + 14}">{float(v):.3g}</text>']
    parts.append("</svg>")
    return "\n".join(parts)


def heat_map(labels: Sequence[str], values: np.ndarray, *, marks: Sequence[int | None] = (),
             ends: tuple[str, str] = ("", ""), max_columns: int = 240, width: int = 720, title: str = "") -> str:
    """One row of cells per label over the columns of ``values`` (labels × steps), white to
    red up to the 99th percentile of the finite values (``inf`` saturates); more than
    ``max_columns`` steps are shown as that many bins of their largest value. ``marks``
    puts a black tick at a column of each row (``None``: none; negative: an arrow at the
    left edge, before the first column); ``ends`` names the first and last step."""
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
) -> str:
    """The causal graph: the strongest edges with their weights, the propagation ``path`` in
    red, the ``root`` cause red and the ``symptom`` orange. Spring layout (networkx), seeded.

    ``confidence`` (``(d, d)``, a graph ensemble's share of graphs holding each edge in its
    direction): an edge's width grows with it, and an edge held by fewer than
    ``low_confidence`` of the graphs is dashed (class ``low-confidence``) and listed
    under the picture."""
    import networkx as nx

    A = np.abs(np.asarray(W, dtype=float))
    np.fill_diagonal(A, 0.0)
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
    xy = {n: (30 + (size - 60) * (p[0] + 1) / 2, 30 + (size - 60) * (p[1] + 1) / 2) for n, p in pos.items()}
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
    for n in nodes:
        x, y = xy[n]
        fill = "#d62728" if n == root else "#ff7f0e" if n == symptom else "#fbe3c8" if n in path else "#dde8f5"
        parts.append(f'<circle class="node" cx="{x:.1f}" cy="{y:.1f}" r="7" fill="{fill}" stroke="#555"/>'
                     f'<text x="{x + 9:.1f}" y="{y + 4:.1f}">{escape(n)}</text>')
    if weak:
        parts.append(f'<text class="low-confidence-list" x="10" y="{size - 8}" font-size="10" fill="#555">'
                     f'low confidence (dashed): {escape(", ".join(weak[:12]))}'
                     f'{f" and {len(weak) - 12} more" if len(weak) > 12 else ""}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
