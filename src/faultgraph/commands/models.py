"""``faultgraph effects``, ``report``, ``inspect``, ``export`` and ``demo``: label models' effects, reports,
model folders and the demo (thin)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from faultgraph._cli import RESAMPLE_HELP, check_outputs, errors, progress, say

__all__ = ["demo", "effects", "export", "inspect", "register", "report"]

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
    seed: Annotated[int, typer.Option(min=0, help="Random seed of the simulated incident (7: an error burst whose "
                                                  "spread the graph shows).")] = 7,
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
        check_outputs({"--out": out}, {"MODEL_DIR": model_dir, "RCA_JSON": rca_json, "--data": data})
        model, frame, result = wf.redo_explanation(model_dir, rca_json, data=data, resample=resample)
        write_text_atomic(out, wf.render_report(model, frame, result))
        say(f"wrote {out}")


def effects(
    model_dir: ModelDir,
    target: Annotated[str, typer.Option(help="Node whose causes to quantify (usually the label).")],
    out: Annotated[Path, typer.Option("--out", help="Where to write effects.json.")],
    paths: Annotated[int, typer.Option(min=1, help="Strongest paths to report per node.")] = 3,
    bootstrap: Annotated[int, typer.Option(min=0, help="Bootstrap refits for the intervals (0: none, so no cause "
                                                          "is called certain; else at least 10). Not used for a "
                                                          "model fitted with --bootstrap: its graphs give them.")]
        = 50,
    seed: Annotated[int, typer.Option(min=0, help="Random seed (Monte Carlo and bootstrap).")] = 0,
    efficient: Annotated[bool, typer.Option(help="Adjust for the optimal sets of the graph that the causal order "
                                                 "(tiers, or with lags the tested time order) allows; "
                                                 "--no-efficient: the earlier tiers (docs/effects.md).")] = True,
) -> None:
    """ATE of every metric on TARGET with an interval, causal scores S_i and propagation paths; whether each
    effect's direction is identified, its bounds over the admissible orientations and, for a model fitted with
    --bootstrap, the share of graphs with a path to TARGET (docs/effects.md)."""
    from faultgraph import workflows as wf
    from faultgraph.io import write_json_atomic

    with errors():
        check_outputs({"--out": out}, {"MODEL_DIR": model_dir})  # before the work
        with progress("computing effects"):
            scores, result = wf.effects_document(model_dir, target, n_paths=paths, n_bootstrap=bootstrap,
                                                 random_state=seed, option_names={"n_bootstrap": "--bootstrap"},
                                                 efficient=efficient)
        write_json_atomic(out, result)
        interval = bootstrap > 0 or int(result.get("n_graphs") or 1) > 1
        for s in scores.scores[:5]:
            span = f"[{s.ci_low:+.4f}, {s.ci_high:+.4f}]" if interval else "(no interval)"
            print(f"{s.node:<28} S={s.score:.3f}  ATE={s.ate:+.4f} {span}  "
                  f"{'identified' if s.identified else 'not identified'}")
        if result.get("summary"):
            print(result["summary"])
        say(f"wrote {out}")


def register(app: typer.Typer) -> None:
    """Add ``effects``, ``report``, ``inspect``, ``export`` and ``demo`` to ``app``."""
    for command in (effects, report, inspect, export, demo):
        app.command()(command)
