"""The incident report: one self-contained HTML file (inline SVG, no network) that shows
the causal graph with the propagation path lit up, the ranked causes, the top causes step
by step with their onsets, the anomaly score over time with the incident window, and the
top causes' series, normal against incident."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from faultgraph.detect.unsupervised import CausalDetector
from faultgraph.io.atomic import write_json_atomic, write_text_atomic
from faultgraph.rca.ranking import Explanation, step_scores, summary_graph
from faultgraph.report.svg import bar_chart, graph_view, heat_map, line_chart

__all__ = ["incident_pictures", "render_incident_report", "write_incident_report"]

_STYLE = """
body { font-family: Helvetica, Arial, sans-serif; margin: 24px; color: #222; max-width: 1100px; }
h1 { font-size: 22px; } h2 { font-size: 16px; margin-top: 28px; border-bottom: 1px solid #ddd; }
.summary { background: #f6f8fa; padding: 12px 16px; border-left: 4px solid #d62728; }
table { border-collapse: collapse; font-size: 12px; } td, th { padding: 3px 8px; border-bottom: 1px solid #eee; }
.path { font-family: monospace; color: #d62728; } .order { color: #8a6d00; font-size: 11px; }
"""


def incident_pictures(
    model: CausalDetector,
    data: pd.DataFrame,
    explanation: Explanation,
    *,
    scores: pd.DataFrame | None = None,
    normal: pd.DataFrame | None = None,
) -> dict[str, str]:
    """The report's pictures as SVG strings: ``graph``, ``causes``, ``steps``, ``timeline``, ``series-1``…

    Parameters
    ----------
    model : CausalDetector
        The fitted detector.
    data : pandas.DataFrame
        The metrics around the incident (the explanation's window inside).
    explanation : Explanation
        What :func:`faultgraph.rca.explain` gave for the window.
    scores : pandas.DataFrame or None, default None
        ``model.score_samples(data)``, computed when ``None``.
    normal : pandas.DataFrame or None, default None
        The normal period; its last steps are drawn beside the top causes' series.

    Returns
    -------
    dict of str to str
        Picture name → SVG text.
    """
    scores = model.score_samples(data) if scores is None else scores
    names = list(model.encoder_.columns_)
    # the graph's root: the best cause in the model (a constant that moved is not a node)
    top = explanation.first_modelled or explanation.causes[0]
    in_window = np.flatnonzero((data.index >= explanation.window[0]) & (data.index <= explanation.window[1]))
    band = (int(in_window[0]), int(in_window[-1]))
    k = min(10, len(explanation.causes))
    pictures = {
        "graph": graph_view(names, summary_graph(model), path=top.path, root=top.metric, symptom=explanation.target),
        "causes": bar_chart([c.metric for c in explanation.causes[:k]], _bar_scores(explanation.causes[:k]),
                            title=f"Top {k} causes ({explanation.method})",
                            texts=[f"{c.score:.3g}" if np.isfinite(c.score) else "moved" if c.constant_value is not None
                                   else "–" for c in explanation.causes[:k]]),
        "timeline": line_chart({"anomaly score": scores["score"].to_numpy()}, band=band, hline=model.threshold_,
                               title=f"Anomaly score (dashed: alarm threshold {model.threshold_:.3g}; shaded: "
                                     "incident window)", ticks=_ticks(data.index, band)),
    }
    pictures["steps"] = _steps_picture(model, data, explanation, k)
    centre = model.encoder_.center_
    for i, c in enumerate(explanation.causes[:3], 1):
        incident = data[c.metric].to_numpy(dtype=float)
        lines = {c.metric: incident}
        if normal is not None and c.metric in normal:
            lines[f"{c.metric} (normal period)"] = normal[c.metric].to_numpy(dtype=float)[-len(incident):]
            title = f"{c.metric}: incident against normal (its last {len(incident)} steps, aligned)"
        else:  # model mode: the training period's level (its median, or the value it never left)
            level = c.constant_value if c.constant_value is not None else centre.get(c.metric, np.nan)
            lines[f"{c.metric} (training median)"] = np.full(len(incident), float(level))
            title = f"{c.metric}: incident against its median in the training period"
        pictures[f"series-{i}"] = line_chart(lines, band=band, height=176, ticks=_ticks(data.index, band),
                                             title=title)
    return pictures


def _ticks(index: pd.Index, band: tuple[int, int]) -> list[tuple[int, str]]:
    """Time-axis labels: the first and last step and the window's bounds (times as
    ``MM-DD HH:MM`` or ``HH:MM:SS``, numbers as they are)."""
    steps = sorted({0, band[0], band[1], len(index) - 1})
    if isinstance(index, pd.DatetimeIndex):
        span = index[-1] - index[0]
        fmt = "%H:%M:%S" if span <= pd.Timedelta("1h") else "%H:%M" if span <= pd.Timedelta("1D") else "%m-%d %H:%M"
        return [(k, index[k].strftime(fmt)) for k in steps]
    return [(k, _fmt(float(index[k])) if isinstance(index[k], (int, float, np.number)) else str(index[k]))
            for k in steps]


def _out_of_order(explanation: Explanation, cause: Any) -> str:
    """A note when onsets along ``cause``'s path run backwards in time (a metric broke
    before the one the path puts upstream of it): the learned direction may be wrong, or
    the fault reached it another way."""
    onset = {c.metric: c.onset for c in explanation.causes if c.onset is not None and not c.onset_censored}
    late = [(a, b) for a, b in zip(cause.path, cause.path[1:]) if a in onset and b in onset and onset[b] < onset[a]]
    if not late:
        return ""
    pairs = "; ".join(f"{b} broke before {a}" for a, b in late)
    return (f" <span class='order' title='onsets along the path run backwards in time: the learned direction may "
            f"be wrong there, or the fault reached the later metric another way'>(out of time order: "
            f"{escape(pairs)})</span>")


def _fmt(value: Any) -> str:
    """A detail value: floats to 3 significant digits (whole ones as they are), lists of floats likewise."""
    if isinstance(value, (float, np.floating)):
        whole = np.isfinite(value) and float(value).is_integer() and abs(value) < 1e15
        return str(int(value)) if whole else f"{float(value):.3g}"  # a step or a count stays whole
    if isinstance(value, (list, tuple)) and any(isinstance(v, (float, np.floating)) for v in value):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


def _steps_picture(model: CausalDetector, data: pd.DataFrame, explanation: Explanation, k: int) -> str:
    """The top ``k`` causes' scores step by step over the window (:func:`step_scores`, the
    explanation's method and recent normal), each with a tick at its onset (an arrow at
    the left edge when it broke before the window)."""
    steps = step_scores(model, data, explanation.window, explanation.target, method=explanation.method,  # type: ignore[arg-type]
                        reference_window=explanation.reference_window, random_state=0)
    causes = [c for c in explanation.causes[:k] if c.metric in steps.columns]
    marks: list[int | None] = []
    for c in causes:
        if c.onset is None or c.onset > steps.index[-1]:
            marks.append(None)
        else:
            marks.append(-1 if c.onset < steps.index[0] else int(np.argmax(steps.index >= c.onset)))
    return heat_map([c.metric for c in causes], steps[[c.metric for c in causes]].to_numpy().T, marks=marks,
                    ends=(str(steps.index[0]), str(steps.index[-1])),
                    title=f"Top {len(causes)} causes step by step ({explanation.method}; darker: larger; "
                          "black tick: onset; arrow: broke before the window)")


def _bar_scores(causes: Any) -> list[float]:
    """Scores to draw: a constant that moved (infinite score) gets a bar a tenth longer
    than the longest finite one."""
    finite = [c.score for c in causes if np.isfinite(c.score)]
    longest = 1.1 * max(finite) if finite else 1.0
    return [c.score if np.isfinite(c.score) else longest for c in causes]


def _num(value: float, spec: str) -> str:
    return format(value, spec) if np.isfinite(value) else "–"


def render_incident_report(
    model: CausalDetector,
    data: pd.DataFrame,
    explanation: Explanation,
    *,
    scores: pd.DataFrame | None = None,
    normal: pd.DataFrame | None = None,
    title: str = "faultgraph incident report",
    extra: dict[str, Any] | None = None,
) -> str:
    """The report as an HTML string (everything inline).

    Parameters
    ----------
    model : CausalDetector
        The fitted detector.
    data : pandas.DataFrame
        The metrics around the incident.
    explanation : Explanation
        The window's explanation.
    scores : pandas.DataFrame or None, default None
        ``model.score_samples(data)``, computed when ``None``.
    normal : pandas.DataFrame or None, default None
        The normal period, drawn beside the top causes.
    title : str, default "faultgraph incident report"
        The page's title.
    extra : dict or None, default None
        More facts, shown in a "Details" table.

    Returns
    -------
    str
    """
    pictures = incident_pictures(model, data, explanation, scores=scores, normal=normal)
    return _render_html(explanation, pictures, against_normal=normal is not None, title=title, extra=extra)


_ARROW = " → "


def _render_html(explanation: Explanation, pictures: dict[str, str], *, against_normal: bool = False,
                 title: str = "faultgraph incident report",
                 extra: dict[str, Any] | None = None) -> str:
    """The page around already drawn pictures (see :func:`incident_pictures`)."""
    top = explanation.causes[0]
    graph, bars, timeline = pictures["graph"], pictures["causes"], pictures["timeline"]
    series_svgs = [pictures[key] for key in sorted(pictures) if key.startswith("series")]
    # no "causal score S" column: S_i = |ATE_i| / Σ|ATE_j| (eq. 5) was 0 on every row but the
    # few upstream of the symptom and said nothing the ATE column does not (issue 18)
    rows = "\n".join(
        f"<tr><td>{i}</td><td>{escape(c.metric)}</td><td>{escape(c.service)}</td>"
        f"<td>{_num(c.score, '.3f') if c.constant_value is None else 'moved'}</td>"
        f"<td>{_num(c.noise_z, '.2f')}</td><td>{_num(c.innovation_z, '.2f')}</td><td>{_num(c.deviation_z, '.2f')}</td>"
        f"<td>{c.effect_on_target:+.3f}</td>"
        f"<td>{escape(c.onset_label or '–')}</td>"
        f"<td class='path'>{escape(explanation.timed_path(c, _ARROW))}{_out_of_order(explanation, c)}</td></tr>"
        for i, c in enumerate(explanation.causes[:10], 1))
    notes = "".join(f"<p class='note'><b>Note on {escape(metric)}:</b> {escape(why)}</p>"
                    for metric, why in explanation.caveats)
    extra_rows = "".join(f"<tr><td>{escape(str(key))}</td><td>{escape(_fmt(v))}</td></tr>"
                         for key, v in (extra or {}).items())
    why = (f"score {top.score:.3f}, its own noise {top.noise_z:.1f} sd away from normal" if top.constant_value is None
           else f"constant at {top.constant_value:g} throughout the normal period, off it by up to "
                f"{top.largest_departure:g} in the window")
    modelled = explanation.first_modelled
    spread = f'<span class="path">{escape(explanation.timed_path(top, _ARROW))}</span>{_out_of_order(explanation, top)}'
    if top.constant_value is not None:
        spread = "not in the causal graph (it never moved in training)" + (
            f"; the model's first cause, {escape(modelled.metric)}: "
            f'<span class="path">{escape(explanation.timed_path(modelled, _ARROW))}</span>' if modelled is not None else "")
    reference = (f"the normal period and the steps {explanation.reference[0]} .. {explanation.reference[1]}"
                 if explanation.reference is not None else "the normal period")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title><style>{_STYLE}</style></head>
<body>
<h1>{escape(title)}</h1>
<div class="summary" id="summary">
<b>Most likely root cause:</b> {escape(top.metric)} (service {escape(top.service)}), {escape(why)}.<br>
<b>How it spread:</b> {spread}<br>
<b>Symptom:</b> {escape(explanation.target)}; <b>window:</b> {escape(str(explanation.window[0]))} ..
{escape(str(explanation.window[1]))}; <b>compared with:</b> {escape(reference)}
</div>
<h2>Causal graph (root cause red, symptom orange, the propagation path's other nodes pink and its edges red)</h2>
<div id="graph">{graph}</div>
<h2>Ranked causes</h2>
<div id="ranking">{bars}
<table id="effects"><tr><th>#</th><th>metric</th><th>service</th><th>score</th><th>noise z</th>
<th>innovation z</th><th>deviation z</th><th>effect on symptom (ATE)</th>
<th>onset</th><th>path (onsets)</th></tr>{rows}</table>{notes}</div>
<h2>How it spread, step by step</h2>
<div id="steps">{pictures["steps"]}</div>
<h2>Anomaly score over time</h2>
<div id="timeline">{timeline}</div>
<h2>Top causes: {"incident against the normal period" if against_normal else
                  "incident against the training period's median"}</h2>
<div id="series">{''.join(series_svgs)}</div>
{f'<h2>Details</h2><table>{extra_rows}</table>' if extra_rows else ''}
<p style="color:#888;font-size:11px">Generated by faultgraph (ranking: {escape(explanation.method)}). Noise z:
how far a metric's own noise (what its causes in the learned graph do not explain) moved from normal, mean over
the window; innovation z: the same against what the past of every metric predicts, mean of its three largest
values in the window (a fault surprises at its onset); deviation z: how far the metric itself moved (max over
the window). The default ranking adds the three. Each is measured from the recent normal before the window
where the system has settled at a new level since training (beyond 1 sd). The effect on the symptom is the
total effect through the learned linear graph (the ATE of a unit change, in robust standard deviations; 0: no
directed path to the symptom). Onset: when the metric broke (|z| or |innovation z| above 4, traced
back while above 3), maybe before the window ("–": within 4 throughout the window; "by T": out of range from T,
the first step read, or earlier); given along each path in brackets: when the fault reached each metric.</p>
</body></html>
"""


def write_incident_report(
    out_dir: str | Path,
    model: CausalDetector,
    data: pd.DataFrame,
    explanation: Explanation,
    *,
    scores: pd.DataFrame | None = None,
    normal: pd.DataFrame | None = None,
    extra: dict[str, Any] | None = None,
) -> tuple[Path, Path]:
    """Write ``report.html``, ``report.json`` (the explanation plus ``extra``) and each
    picture as its own SVG file (``graph.svg``, ``causes.svg``, ``steps.svg``, ``timeline.svg``,
    ``series-1.svg``…) into ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path
        The folder (files written atomically).
    model : CausalDetector
        The fitted detector.
    data : pandas.DataFrame
        The metrics around the incident.
    explanation : Explanation
        The window's explanation.
    scores : pandas.DataFrame or None, default None
        ``model.score_samples(data)``, computed when ``None``.
    normal : pandas.DataFrame or None, default None
        The normal period, drawn beside the top causes.
    extra : dict or None, default None
        More facts, in the page's "Details" table and merged into report.json.

    Returns
    -------
    tuple of (Path, Path)
        The paths of report.html and report.json.
    """
    out = Path(out_dir)
    pictures = incident_pictures(model, data, explanation, scores=scores, normal=normal)
    html = _render_html(explanation, pictures, against_normal=normal is not None, extra=extra)
    html_path = write_text_atomic(out / "report.html", html)
    json_path = write_json_atomic(out / "report.json", {**explanation.to_dict(), **(extra or {})})
    for name, svg in pictures.items():
        write_text_atomic(out / f"{name}.svg", svg)
    return html_path, json_path
