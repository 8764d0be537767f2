"""``faultgraph report``, ``inspect``, ``export`` and ``demo``: model folders, reports and the demo (thin)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from faultgraph._cli import RESAMPLE_HELP, errors, progress, say

__all__ = ["demo", "export", "inspect", "register", "report"]

ModelDir = Annotated[Path, typer.Argument(metavar="MODEL_DIR", help="Model folder written by `faultgraph fit`.")]


def inspect(
    model_dir: ModelDir,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Summarise a model folder: what it is, its metrics, its graph and its threshold
    (`faultgraph export` writes the graph itself)."""
    from faultgraph import workflows as wf

    with errors():
        summary = wf.model_summary(model_dir)
        if as_json:
            print(json.dumps(summary, indent=2, default=str))
            return
        for key, value in summary.items():
            if isinstance(value, dict):
                value = ", ".join(f"{k}={_plain(v)}" for k, v in value.items()) or "none"
            print(f"{key:<20} {_plain(value)}")


def _plain(value: object) -> str:
    """A value as a person reads it: no Python reprs (``None`` is ``-``)."""
    return "-" if value is None else str(value)


def export(
    model_dir: ModelDir,
    format: Annotated[str, typer.Option("--format", help="graphml or dot.")] = "graphml",
    out: Annotated[Optional[Path], typer.Option("--out", help="Output file (default: stdout).")] = None,
) -> None:
    """Export a model's causal graph (same-step and lagged edges) to GraphML or DOT."""
    from faultgraph import workflows as wf
    from faultgraph.io import write_text_atomic

    with errors():
        text, n_nodes, n_edges = wf.export_graph(model_dir, format)
        if out is None:
            print(text, end="")
        else:
            write_text_atomic(out, text)
            say(f"wrote {out} ({n_nodes} nodes, {n_edges} edges)")


def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for report.html and report.json.")] = Path(
        "faultgraph-demo"),
    services: Annotated[int, typer.Option(min=3, max=50, help="Services in the simulated system.")] = 10,
    seed: Annotated[int, typer.Option(help="Random seed of the simulated incident (7: an error burst whose spread "
                                           "the graph shows).")] = 7,
) -> None:
    """Simulate a microservice incident, detect it, explain it and write a report."""
    from faultgraph.report import incident_demo

    with errors():
        with progress("starting") as update:
            result = incident_demo(out, services=services, seed=seed,
                                   progress=lambda message: update(description=message))
        print(result)


def report(
    model_dir: Annotated[Path, typer.Argument(metavar="MODEL_DIR",
        help="Model folder from `faultgraph fit` (no label).")],
    rca_json: Annotated[Path, typer.Argument(metavar="RCA_JSON", help="rca.json written by `faultgraph explain`.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the HTML report.")] = Path("report.html"),
    data: Annotated[Optional[Path], typer.Option(help="Metrics of the incident (default: the file rca.json names).")]
        = None,
    resample: Annotated[Optional[str], typer.Option(
        help=RESAMPLE_HELP + " Default: the step rca.json records, if `explain` was given one.")] = None,
) -> None:
    """Write the incident report (self-contained HTML) for an explanation made earlier."""
    from faultgraph import workflows as wf
    from faultgraph.io import write_text_atomic

    with errors():
        model, frame, result = wf.redo_explanation(model_dir, rca_json, data=data, resample=resample)
        write_text_atomic(out, wf.render_report(model, frame, result))
        say(f"wrote {out}")


def register(app: typer.Typer) -> None:
    """Add ``report``, ``inspect``, ``export`` and ``demo`` to ``app``."""
    for command in (report, inspect, export, demo):
        app.command()(command)
