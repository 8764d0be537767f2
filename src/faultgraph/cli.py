"""The ``faultgraph`` command line: parse, call the library, print.

Exit codes: 0 success, 2 bad input or usage, 1 internal error (traceback with
``--debug``).
"""

from __future__ import annotations

import json
import sys
import warnings
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Iterator, Optional

import typer
from rich.console import Console
from rich.markup import escape as rich_escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from faultgraph import __version__
from faultgraph.errors import FaultgraphError

__all__ = ["app", "main"]

app = typer.Typer(
    name="faultgraph",
    help="Find the faults in a backend system and explain them with a learned causal graph.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
simulate_app = typer.Typer(help="Simulate systems with a known causal graph.", no_args_is_help=True)
app.add_typer(simulate_app, name="simulate")

err = Console(stderr=True, soft_wrap=True)  # long paths and lists stay on one line when piped
_state = {"debug": False}


class GraphKindOpt(str, Enum):
    er = "er"
    sf = "sf"


class NoiseOpt(str, Enum):
    gauss = "gauss"
    exp = "exp"
    gumbel = "gumbel"


class CombineOpt(str, Enum):
    mean_square = "mean-square"
    max_of_smoothed = "max-of-smoothed"
    max = "max"
    mean_square_max = "mean-square+max"


class ScoreOpt(str, Enum):
    residual_marginal = "residual+marginal"
    residual = "residual"
    residual_marginal_innovation = "residual+marginal+innovation"


class MethodOpt(str, Enum):
    dagma = "dagma"
    notears = "notears"


def _version(value: bool) -> None:
    if value:
        print(f"faultgraph {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show the full traceback of errors.")] = False,
) -> None:
    _state["debug"] = debug


@contextmanager
def _errors() -> Iterator[None]:
    """Bad input: one line and exit 2. A bug: one line and exit 1 (traceback with --debug).
    Warnings: one line each on stderr, once per message."""
    with warnings.catch_warnings(record=True) as caught:  # the filters in force decide what is shown
        try:
            with _errors_to_exit():
                yield
        finally:
            for message in dict.fromkeys(str(w.message) for w in caught):
                err.print(f"[yellow]warning:[/] {rich_escape(message)}", highlight=False, soft_wrap=True)


@contextmanager
def _errors_to_exit() -> Iterator[None]:
    try:
        yield
    except FaultgraphError as exc:
        if _state["debug"]:
            raise
        err.print(f"[bold red]error:[/] {rich_escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except (typer.Exit, typer.Abort, KeyboardInterrupt, BrokenPipeError):
        raise  # a closed pipe (`| head`) ends the command quietly: click handles it
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        if _state["debug"]:
            raise
        err.print(f"[bold red]internal error:[/] {type(exc).__name__}: {rich_escape(str(exc))} "
                  "(rerun as `faultgraph --debug COMMAND ...` for the traceback)", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


@contextmanager
def _bar(description: str, total: int | None, enabled: bool = True) -> Iterator[Any]:
    """A rich progress bar on stderr (description, bar, an info field, time); yields an
    ``update(**fields)`` callback for one task."""
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
                  TimeElapsedColumn(), console=err, transient=True, disable=not enabled) as bar:
        task = bar.add_task(description, total=total, info="")
        yield lambda **fields: bar.update(task, **fields)


@contextmanager
def _progress(description: str, total: int, enabled: bool = True) -> Iterator[Any]:
    """A progress bar for the learners; yields their callback (None when disabled)."""
    if not enabled:
        yield None
        return
    with _bar(description, total) as update:
        yield lambda info: update(completed=info["step"], total=info["steps"], info=f"h={info['h']:.2e}")


@simulate_app.command("graph")
def simulate_graph(
    out: Annotated[Path, typer.Option("--out", help="Folder to write data.csv and truth.json into.")],
    kind: Annotated[GraphKindOpt, typer.Option(help="er: Erdős–Rényi; sf: scale-free.")] = GraphKindOpt.er,
    nodes: Annotated[int, typer.Option(min=2, help="Number of variables.")] = 10,
    degree: Annotated[float, typer.Option(min=0.1, help="Expected edges per node (ER2: 2).")] = 2.0,
    samples: Annotated[int, typer.Option(min=2, help="Rows to draw.")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    noise: Annotated[NoiseOpt, typer.Option(help="Noise distribution.")] = NoiseOpt.gauss,
    unequal_variance: Annotated[bool, typer.Option(help="Draw each node's noise scale from U[0.5, 2].")] = False,
) -> None:
    """Simulate a random DAG with a linear SEM: writes DIR/data.csv and DIR/truth.json."""
    from faultgraph.simulate import simulate_graph_data

    with _errors():
        sim = simulate_graph_data(kind=kind.value, nodes=nodes, degree=degree, samples=samples,
                                  noise=noise.value, equal_variance=not unequal_variance, random_state=seed)
        data_path, truth_path = sim.write(out)
        err.print(f"wrote {data_path} ({samples} rows x {nodes} metrics) and {truth_path} "
                  f"({int((sim.W != 0).sum())} true edges)", highlight=False)


@simulate_app.command("faults")
def simulate_faults(
    out: Annotated[Path, typer.Option("--out", help="Folder to write data.csv and truth.json into.")],
    nodes: Annotated[int, typer.Option(min=3, help="Number of metrics.")] = 20,
    samples: Annotated[int, typer.Option(min=10, help="Rows to draw.")] = 2000,
    causes: Annotated[int, typer.Option(min=1, help="Metrics that cause the fault label.")] = 3,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Simulate metrics plus a 0/1 `fault` label caused by a few of them (known causes)."""
    from faultgraph.io import write_csv_atomic, write_json_atomic
    from faultgraph.simulate import simulate_labelled_faults

    with _errors():
        if causes >= nodes:
            from faultgraph.errors import InvalidInputError

            raise InvalidInputError(f"--causes must be below --nodes ({nodes}), got {causes}")
        data, sim, cause_names = simulate_labelled_faults(nodes=nodes, samples=samples, n_causes=causes,
                                                          random_state=seed)
        write_csv_atomic(out / "data.csv", data, "%.10g")
        write_json_atomic(out / "truth.json", {**sim.truth_dict(), "label": "fault", "causes": cause_names})
        err.print(f"wrote {out / 'data.csv'} ({samples} rows, {nodes} metrics + fault, "
                  f"{data['fault'].mean():.0%} faulty); causes: {', '.join(cause_names)}", highlight=False)


@simulate_app.command("incident")
def simulate_incident_cmd(
    out: Annotated[Path, typer.Option("--out", help="Case folder to write (normal.csv, anomalous.csv, truth.json).")],
    services: Annotated[int, typer.Option(min=3, max=200, help="Number of services.")] = 10,
    fault: Annotated[Optional[str], typer.Option(
        help="cpu_hog, memory_leak, network_delay or error_burst (default: drawn).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    delay: Annotated[str, typer.Option(
        help="Extra steps (20 ms each) before an effect crosses a service link: N, or LO:HI drawn per link.")] = "0",
    jitter: Annotated[float, typer.Option(
        min=0.0, max=0.5, help="Share of samples that arrive late and share that are lost (also per-metric scrape "
                               "phases); the files then hold raw timestamps: use --resample 1 downstream, with a "
                               "larger --max-gap above about 0.15, where lost and late samples leave longer "
                               "gaps.")] = 0.0,
) -> None:
    """Simulate a microservice incident with a known root cause."""
    from faultgraph.errors import InvalidInputError
    from faultgraph.simulate import simulate_incident

    with _errors():
        try:
            parts = [int(v) for v in delay.split(":")]
        except ValueError:
            raise InvalidInputError(f"--delay must be N or LO:HI in steps, got {delay!r}") from None
        if len(parts) not in (1, 2):
            raise InvalidInputError(f"--delay must be N or LO:HI in steps, got {delay!r}")
        link_delay = parts[0] if len(parts) == 1 else (parts[0], parts[1])
        inc = simulate_incident(services=services, fault_type=fault, link_delay=link_delay,  # type: ignore[arg-type]
                                jitter=jitter, random_state=seed)
        inc.write(out)
        err.print(f"wrote {out}/ ({services} services, {inc.normal.shape[1]} metrics): {inc.fault_type} at "
                  f"{inc.root_cause_service} from step {inc.fault_start}", highlight=False)


@app.command()
def discover(
    data: Annotated[Path, typer.Argument(metavar="DATA", help="Metrics file: CSV or Parquet, wide or long.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the learned graph (JSON).")],
    method: Annotated[MethodOpt, typer.Option(help="dagma (fast, default) or notears.")] = MethodOpt.dagma,
    lambda1: Annotated[Optional[float], typer.Option(help="L1 penalty (default 0.03 dagma, 0.1 notears).")] = None,
    threshold: Annotated[float, typer.Option(help="Drop edges with |weight| below this.")] = 0.3,
    standardize: Annotated[bool, typer.Option(help="Scale metrics robustly before learning.")] = True,
    prior: Annotated[Optional[Path], typer.Option(help="YAML prior: forbidden/required edges, tiers...")] = None,
    max_gap: Annotated[int, typer.Option(min=0, help="Fill missing runs up to this many steps.")] = 5,
    lags: Annotated[int, typer.Option(min=0, help="Past steps that may act as causes (time order).")] = 0,
    refine: Annotated[Optional[bool], typer.Option(
        "--refine/--no-refine", help="Greedy edge moves after the continuous solve (default: on for raw data, "
                                     "off with standardising; never with lags).")] = None,
    resample: Annotated[Optional[str], typer.Option(help=RESAMPLE_HELP)] = None,
    truth: Annotated[Optional[Path], typer.Option(help="truth.json to score the learned graph against.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")] = False,
) -> None:
    """Learn the causal graph of a metrics file and write it as JSON."""
    from faultgraph.discovery import PriorKnowledge, StructureLearner
    from faultgraph.encode import MetricEncoder
    from faultgraph.io import write_json_atomic

    with _errors():
        frame = _read(data, resample)
        encoder = MetricEncoder(max_gap=max_gap, scale="robust" if standardize else None)
        encoded = encoder.fit_transform(frame)
        for name, reason in encoder.dropped_.items():
            err.print(f"dropped metric {name!r}: {reason}", highlight=False)
        prior_obj = PriorKnowledge.from_yaml(prior) if prior is not None else None
        steps = 5 if method is MethodOpt.dagma else 100
        with _progress(f"learning ({method.value})", steps, enabled=not quiet) as callback:
            learner = StructureLearner(method.value, lambda1=lambda1, threshold=threshold,
                                       standardize=standardize, prior=prior_obj, lags=lags, refine=refine,
                                       callback=callback)
            learner.fit(encoded)
        result = learner.graph_.to_dict()
        if truth is not None:
            result["accuracy"] = _score_against(truth, learner.graph_).to_dict()
        write_json_atomic(out, result)
        if not quiet:
            lagged = f" and {len(result['lagged_edges'])} lagged edges" if result.get("lagged_edges") else ""
            err.print(f"{len(result['edges'])} edges{lagged} among {len(result['nodes'])} metrics in "
                      f"{result['elapsed_s']:.2f} s; wrote {out}", highlight=False)
            if "accuracy" in result:
                a = result["accuracy"]
                err.print(f"against {truth}: SHD {a['shd']}, TPR {a['tpr']:.2f}, FDR {a['fdr']:.2f}",
                          highlight=False)


def _score_against(truth_path: Path, graph: Any) -> Any:
    import numpy as np

    from faultgraph.errors import InvalidInputError
    from faultgraph.evaluate import graph_accuracy

    try:
        spec = json.loads(Path(truth_path).read_text(encoding="utf-8"))
        names = [str(n) for n in spec["nodes"]]
        edges = [(e["source"], e["target"]) for e in spec["edges"]]
    except KeyError as exc:
        raise InvalidInputError(f"truth file {str(truth_path)!r} lacks the field {exc}; it needs 'nodes' and "
                                "'edges' (each with 'source' and 'target')") from None
    except (OSError, ValueError, TypeError) as exc:
        raise InvalidInputError(f"truth file {str(truth_path)!r} is unreadable: {exc}") from None
    index = {n: i for i, n in enumerate(graph.nodes)}
    missing = sorted(set(names) - set(index))
    if missing:
        raise InvalidInputError(f"truth file names metrics the learned graph lacks: {', '.join(missing[:8])}")
    B = np.zeros((len(graph.nodes),) * 2)
    for s, t in edges:
        B[index[s], index[t]] = 1.0
    return graph_accuracy(B, graph.adjacency)


#: fit's options that only the unsupervised detector reads.
UNSUPERVISED_ONLY = ("lags", "risk", "combine", "score", "drift_window", "background_window")


@app.command()
def fit(
    ctx: typer.Context,
    data: Annotated[Path, typer.Argument(metavar="DATA",
        help="Training metrics (CSV or Parquet), mostly normal, in time order.")],
    out: Annotated[Path, typer.Option("--out", help="Model folder to write (model.json + arrays.npz).")],
    label: Annotated[Optional[str], typer.Option(
        help="0/1 fault-label column: learn to identify faults from labels (the paper's setting). "
             "Without it, learn what normal looks like and flag what the causal model cannot explain.")] = None,
    lags: Annotated[int, typer.Option(min=0, help="Past steps that may act as causes (unsupervised).")] = 1,
    method: Annotated[MethodOpt, typer.Option(help="Structure learner.")] = MethodOpt.dagma,
    lambda1: Annotated[Optional[float], typer.Option(
        help="L1 penalty of the structure learner (default without --label: max(0.03, sqrt(2 log k / n)) for n "
             "rows and k candidate parents).")] = None,
    threshold: Annotated[float, typer.Option(help="Drop edges with |weight| below this.")] = 0.3,
    prior: Annotated[Optional[Path], typer.Option(help="YAML prior (a label is always a sink).")] = None,
    max_gap: Annotated[int, typer.Option(min=0, help="Fill missing runs up to this many steps.")] = 5,
    risk: Annotated[float, typer.Option(help="False-alarm probability of the label-free threshold (POT).")] = 1e-2,
    combine: Annotated[CombineOpt, typer.Option(
        help="How metrics' deviations make one score: mean-square (default, chosen on SMD), max-of-smoothed "
             "(suits faults that start in one metric), max, mean-square+max.")] = CombineOpt.mean_square,
    score: Annotated[ScoreOpt, typer.Option(
        help="What each step's score adds up: residual+marginal (default, chosen on SMD), residual, or "
             "residual+marginal+innovation (holds up under scrape jitter in the simulated incidents; "
             "unsupervised).")] =
        ScoreOpt.residual_marginal,
    drift_window: Annotated[int, typer.Option(
        min=0, help="Measure each metric's deviations from their median over this many past steps, so a level "
                    "that shifts and stays stops alarming after about half of it (0: off; unsupervised).")] = 360,
    background_window: Annotated[int, typer.Option(
        min=0, help="Read the alarm threshold relative to the score's background over this many past steps, "
                    "once that runs above twice the training's (a noisier regime; 0: off, else at least 60; "
                    "unsupervised).")] = 1440,
    resample: Annotated[Optional[str], typer.Option(help=RESAMPLE_HELP)] = None,
) -> None:
    """Fit a model: with --label, fault identification from labels; without, anomaly detection."""
    from faultgraph.detect import CausalDetector, FaultIdentifier
    from faultgraph.discovery import PriorKnowledge
    from faultgraph.errors import InvalidInputError

    with _errors():
        given = [f"--{name.replace('_', '-')}" for name in UNSUPERVISED_ONLY  # typed, not defaulted
                 if getattr(ctx.get_parameter_source(name), "name", None) == "COMMANDLINE"]
        if label is not None and given:
            raise InvalidInputError(f"{', '.join(given)} apply to anomaly detection (fit without --label); "
                                    f"with --label {label!r}, leave them out")
        frame = _read(data, resample)
        prior_obj = PriorKnowledge.from_yaml(prior) if prior is not None else None
        if label is None:
            with err.status("learning the lagged causal graph of normal behaviour..."):
                det = CausalDetector(lags=lags, method=method.value, lambda1=lambda1, threshold=threshold,
                                     prior=prior_obj, max_gap=max_gap, risk=risk,
                                     combine=combine.value, score=score.value,
                                     drift_window=drift_window, background_window=background_window).fit(frame)
            det.save(out)
            for name, reason in det.encoder_.dropped_.items():
                what = (f"constant at {det.encoder_.constants_[name]:g} in training: not scored; detect names it "
                        f"if it moves" if name in det.encoder_.constants_ else reason)
                err.print(f"dropped metric {name!r}: {what}", highlight=False, soft_wrap=True)
            g = det.graph_
            err.print(f"{int((g.adjacency != 0).sum())} edges and {len(g.lagged_edges)} lagged edges among "
                      f"{len(g.nodes)} metrics; alarm threshold {det.threshold_:.3g} (POT, risk {risk:g}); "
                      f"wrote {out}", highlight=False, soft_wrap=True)
            return
        with err.status("learning the graph and the label's equation..."):
            model = FaultIdentifier(label, method=method.value, lambda1=lambda1, threshold=threshold,
                                    prior=prior_obj, max_gap=max_gap).fit(frame)
        model.save(out)
        info = model.describe()
        err.print(f"label {label!r} <- {', '.join(info['label_parents']) or '(no parent found)'}; "
                  f"{info['n_edges']} edges among {info['n_metrics']} metrics; decision threshold "
                  f"{info['decision_threshold']:.3f} (train F1 {info['train_f1']:.2f}); wrote {out}",
                  highlight=False, soft_wrap=True)


@app.command()
def effects(
    model_dir: Annotated[Path, typer.Argument(metavar="MODEL_DIR", help="Model folder written by `faultgraph fit`.")],
    target: Annotated[str, typer.Option(help="Node whose causes to quantify (usually the label).")],
    out: Annotated[Path, typer.Option("--out", help="Where to write effects.json.")],
    paths: Annotated[int, typer.Option(min=1, help="Strongest paths to report per node.")] = 3,
    bootstrap: Annotated[int, typer.Option(min=0, help="Bootstrap refits for the intervals (0: none; else at "
                                                          "least 10).")] = 50,
    seed: Annotated[int, typer.Option(help="Random seed (Monte Carlo and bootstrap).")] = 0,
) -> None:
    """ATE of every metric on TARGET with an interval, causal scores S_i and propagation paths."""
    from faultgraph.detect import FaultIdentifier
    from faultgraph.effects import causal_scores, propagation_paths
    from faultgraph.io import write_json_atomic

    with _errors():
        from faultgraph.effects.ate import MIN_BOOTSTRAP

        if 0 < bootstrap < MIN_BOOTSTRAP:  # the library's rule, named as the option the user typed
            from faultgraph.errors import InvalidInputError

            raise InvalidInputError(f"--bootstrap must be 0 (no interval) or at least {MIN_BOOTSTRAP}, "
                                    f"got {bootstrap}")
        model = FaultIdentifier.load(model_dir)
        with err.status("computing effects..."):
            scores = causal_scores(model.sem_, target, n_bootstrap=bootstrap, random_state=seed)
            result = scores.to_dict()
            for entry in result["scores"]:
                entry["paths"] = [p.to_dict() for p in propagation_paths(model.sem_, entry["node"], target, paths)]
        write_json_atomic(out, result)
        for s in scores.scores[:5]:
            print(f"{s.node:<28} S={s.score:.3f}  ATE={s.ate:+.4f} [{s.ci_low:+.4f}, {s.ci_high:+.4f}]")
        err.print(f"wrote {out}", highlight=False)


@app.command()
def detect(
    model_dir: Annotated[Path, typer.Argument(metavar="MODEL_DIR", help="Model folder written by `faultgraph fit`.")],
    data: Annotated[Path, typer.Argument(metavar="DATA", help="Metrics to score (CSV or Parquet).")],
    out: Annotated[Path, typer.Option("--out", help="Where to write scores.csv.")],
    resample: Annotated[Optional[str], typer.Option(help=RESAMPLE_HELP)] = None,
) -> None:
    """Score every row of DATA with a fitted model and write scores.csv.

    Unsupervised models write `score`, `anomaly` (0/1), `background` (what the score was
    divided by where the data ran noisier than twice the training's background), one
    `residual:<metric>` column per metric and one `constant:<metric>` column per metric that
    held one value in training (its departure from it: not scored, but named when it moves);
    label models write `probability` and `decision`.
    """
    import pandas as pd

    from faultgraph.detect import CausalDetector, FaultIdentifier
    from faultgraph.evaluate import classification_scores, table1
    from faultgraph.io import load_model_dir, write_csv_atomic

    with _errors():
        task = load_model_dir(model_dir)[0].get("task")
        frame = _read(data, resample)
        if task == "unsupervised-detection":
            det = CausalDetector.load(model_dir)
            table = det.score_samples(frame)
            write_csv_atomic(out, table)
            n = int(table["anomaly"].sum())
            err.print(f"{n} of {len(table)} steps above the alarm threshold {det.threshold_:.3g}; wrote {out}",
                      highlight=False)
            noisy = table["background"] > 1.0
            if noisy.any():
                err.print(f"{int(noisy.sum())} steps ran noisier than twice the training's background: their "
                          f"scores were divided by up to {table['background'].max():.3g} (column background; fit "
                          f"with --background-window 0 to turn this off)", highlight=False, soft_wrap=True)
            moved = _constants_that_moved(table.filter(like="constant:"), det.encoder_.constants_)
            if moved:
                err.print("constant in training, not scored, but moved here (columns constant:<metric>): "
                          + "; ".join(moved), highlight=False, soft_wrap=True)
            return
        model = FaultIdentifier.load(model_dir)
        proba = model.predict_proba(frame)
        decision = (proba >= model.decision_threshold_).astype(int)
        table = pd.DataFrame({"probability": proba, "decision": decision}, index=frame.index)
        write_csv_atomic(out, table)
        err.print(f"{int(decision.sum())} of {len(decision)} rows flagged (threshold "
                  f"{model.decision_threshold_:.3f}); wrote {out}", highlight=False)
        if model.label in frame.columns:
            y = frame[model.label].to_numpy()
            print(table1({"faultgraph": classification_scores(y, decision, proba)}))


def _constants_that_moved(departures: Any, constants: dict[str, float], limit: int = 10) -> list[str]:
    """One phrase per metric constant in training that left its value in ``departures``
    (the ``constant:<metric>`` columns of ``score_samples``), most steps first."""
    import numpy as np

    from faultgraph.encode import constant_moves

    metrics = [c.removeprefix("constant:") for c in departures.columns]
    steps = constant_moves(departures.to_numpy(), np.array([constants[m] for m in metrics])).sum(axis=0)
    phrases = [f"{metrics[j]} (at {constants[metrics[j]]:g} in training; off it at {int(steps[j])} steps, by up to "
               f"{departures.iloc[:, j].abs().max():g})" for j in np.argsort(-steps, kind="stable") if steps[j]]
    return phrases[:limit] + ([f"and {len(phrases) - limit} more"] if len(phrases) > limit else [])


class RcaMethodOpt(str, Enum):
    causal_innovation_nsigma = "causal+innovation+nsigma"
    causal_nsigma = "causal+nsigma"
    causal = "causal"
    innovation = "innovation"
    noise = "noise"
    baro = "baro"
    nsigma = "nsigma"
    random = "random"


def _read(path: Path, resample: Optional[str] = None) -> Any:
    """Read a metrics file; with ``resample``, put it on a grid of that step (causal)."""
    from faultgraph.errors import SamplingWarning
    from faultgraph.io import read_metrics

    if resample is None:
        return read_metrics(path)
    from faultgraph.encode import align

    with warnings.catch_warnings():  # "resample it": it is being resampled
        warnings.simplefilter("ignore", SamplingWarning)
        frame = read_metrics(path)
    return align(frame, resample)  # a number for a numeric index, a duration for times


RESAMPLE_HELP = ("Align asynchronous metrics on a grid of this step first ('1min', '30s', or a number: "
                 "seconds for a time column, index units for a numeric one; causal: the last value at or "
                 "before each grid time).")


def _and(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _time_value(text: Optional[str]) -> Any:
    """A window bound from the command line: a number if it parses as one, else a date string."""
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return text


#: explain's options that only its case mode (--normal/--anomalous, a model fitted there) reads.
CASE_MODE_ONLY = ("lags", "max_gap", "prior")


def _check_outputs(outputs: dict[str, Optional[Path]]) -> None:
    """Refuse output paths that cannot all be written, before any work (nothing is written
    when one of several outputs would fail): a folder, a path under a file, one path given
    twice, or one output inside another. ``outputs`` maps each option (as the user knows
    it) to its path."""
    from faultgraph.errors import InvalidInputError

    given = {name: path for name, path in outputs.items() if path is not None}
    for name, path in given.items():
        if path.is_dir():
            raise InvalidInputError(f"{name} {str(path)!r} is a folder; give a file name")
        parent = next((q for q in path.parents if q.exists()), None)
        if parent is not None and not parent.is_dir():
            raise InvalidInputError(f"{name} {str(path)!r} cannot be written: {str(parent)!r} is a file")
    names = list(given)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            pa, pb = given[a].resolve(), given[b].resolve()
            if pa == pb:
                raise InvalidInputError(f"{a} and {b} name the same file {str(given[a])!r}")
            if pa in pb.parents or pb in pa.parents:
                raise InvalidInputError(f"{a} {str(given[a])!r} and {b} {str(given[b])!r}: one would be written "
                                        "inside the other")


@app.command()
def explain(
    ctx: typer.Context,
    model_dir: Annotated[Optional[Path], typer.Argument(metavar="MODEL_DIR",
        help="Model folder from `faultgraph fit` (no label).")] = None,
    data: Annotated[Optional[Path], typer.Argument(metavar="DATA", help="Metrics covering the incident.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Where to write rca.json (default: rca.json, "
                                                "or nowhere with --json).", show_default=False)] = None,
    start: Annotated[Optional[str], typer.Option(
        help="First step of the incident window: a time, or a number (Unix seconds on time-stamped data).")] = None,
    end: Annotated[Optional[str], typer.Option(help="Last step of the incident window.")] = None,
    target: Annotated[Optional[str], typer.Option(
        help="The symptom metric (an SLO); default: the largest robust z in the window.")] = None,
    normal: Annotated[Optional[Path], typer.Option(help="Case mode: metrics of a normal period (fit on it).")] = None,
    anomalous: Annotated[Optional[Path], typer.Option(help="Case mode: metrics of the anomalous period.")] = None,
    method: Annotated[Optional[RcaMethodOpt], typer.Option(
        help="causal+innovation+nsigma (default; causal+nsigma for a model saved before innovations), "
             "causal+nsigma, causal, innovation, noise, baro, nsigma, random.", show_default=False)] = None,
    lags: Annotated[int, typer.Option(min=0, help="Case mode: past steps that may act as causes.")] = 1,
    max_gap: Annotated[int, typer.Option(min=0, help="Case mode: fill missing runs up to this many steps.")] = 5,
    prior: Annotated[Optional[Path], typer.Option(
        help="Case mode: YAML prior; glob patterns allowed, e.g. tiers [\"*_traffic\"], [\"*_cpu\"].")] = None,
    html: Annotated[Optional[Path], typer.Option(help="Also write the incident report (self-contained HTML).")] = None,
    steps: Annotated[Optional[Path], typer.Option(
        help="Also write each metric's score at each step of the window (CSV: a row per step, a column per "
             "metric; the same method, not aggregated over the window; a metric constant in training that moves "
             "is inf where it is off its value).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print rca.json to stdout instead of a summary "
                                          "(and write it only if --out is given).")] = False,
    resample: Annotated[Optional[str], typer.Option(help=RESAMPLE_HELP)] = None,
    reference_window: Annotated[Optional[int], typer.Option(
        min=0, help="Steps before the window that give its recent normal (a level the system settled at since "
                    "training is not blamed), at least 60; default: the model's drift window (360); 0: the "
                    "training period alone.", show_default=False)] = None,
) -> None:
    """Rank the root causes of an incident and the path by which it spread.

    Either MODEL_DIR DATA --start T0 --end T1 (a fitted model), or --normal normal.csv
    --anomalous anomalous.csv (fit on the normal period, explain the whole anomalous one
    unless --start/--end narrow it).
    """
    from faultgraph.datasets import check_same_metrics
    from faultgraph.detect import CausalDetector
    from faultgraph.discovery import PriorKnowledge
    from faultgraph.errors import InvalidInputError
    from faultgraph.io import write_csv_atomic, write_json_atomic, write_text_atomic
    from faultgraph.rca import explain as explain_incident
    from faultgraph.rca import step_scores

    with _errors():
        out_name = "--out" if out is not None else "--out (default)"
        if out is None and not as_json:
            out = Path("rca.json")
        _check_outputs({out_name: out, "--html": html, "--steps": steps})
        if normal is not None or anomalous is not None:
            if normal is None or anomalous is None or model_dir is not None:
                raise InvalidInputError("case mode needs both --normal and --anomalous, and no MODEL_DIR")
            normal_frame, frame = _read(normal, resample), _read(anomalous, resample)
            check_same_metrics(normal_frame, frame)
            prior_obj = PriorKnowledge.from_yaml(prior) if prior is not None else None
            with err.status("learning normal behaviour..."):
                model = CausalDetector(lags=lags, prior=prior_obj, max_gap=max_gap).fit(normal_frame)
        else:
            if model_dir is None or data is None or start is None or end is None:
                raise InvalidInputError("give MODEL_DIR DATA --start T0 --end T1, or --normal and --anomalous")
            given = [f"--{name.replace('_', '-')}" for name in CASE_MODE_ONLY  # typed, not defaulted
                     if getattr(ctx.get_parameter_source(name), "name", None) == "COMMANDLINE"]
            if given:
                raise InvalidInputError(f"{', '.join(given)} apply to case mode (--normal/--anomalous, which fits a "
                                        f"model); MODEL_DIR was fitted with its own: leave them out")
            model = CausalDetector.load(model_dir)
            frame = _read(data, resample)
        window = (_time_value(start) if start is not None else frame.index[0],
                  _time_value(end) if end is not None else frame.index[-1])
        result = explain_incident(model, frame, window, target, method=method.value if method else None,
                                  reference_window=reference_window)
        payload = {**result.to_dict(), "data": str((anomalous or data).resolve())}  # type: ignore[union-attr]
        if normal is not None:
            payload["normal"] = str(normal.resolve())
        if resample is not None:
            payload["resample"] = resample  # `report` aligns the data the same way
        if reference_window is not None:
            payload["reference_window"] = reference_window  # and compares with the same recent normal
        if out is not None:
            write_json_atomic(out, payload)
        if html is not None:
            from faultgraph.report import render_incident_report

            write_text_atomic(html, render_incident_report(
                model, frame, result, normal=normal_frame if normal is not None else None))
        if steps is not None:
            table = step_scores(model, frame, window, target, method=result.method, reference_window=reference_window)
            write_csv_atomic(steps, table)
        if as_json:
            print(json.dumps(payload, indent=2))
        else:
            print(result)
        written = [str(p) for p in (out, html, steps) if p is not None]
        if written:
            err.print(f"wrote {_and(written)}", highlight=False)


@app.command()
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
    from faultgraph.detect import CausalDetector
    from faultgraph.errors import InvalidInputError
    from faultgraph.io import write_text_atomic
    from faultgraph.rca import explain as explain_incident
    from faultgraph.report import render_incident_report

    with _errors():
        try:
            spec = json.loads(rca_json.read_text(encoding="utf-8"))
            window, target, method = spec["window"], spec["target"], spec["method"]
            if not isinstance(window, list) or len(window) != 2:
                raise ValueError(f"window must be a [start, end] pair, got {window!r}")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InvalidInputError(f"{str(rca_json)!r} is not an rca.json written by `faultgraph explain`: {exc}"
                                    ) from None
        source = data or (Path(spec["data"]) if spec.get("data") else None)
        if source is None:
            raise InvalidInputError(f"{str(rca_json)!r} does not name its data; pass --data")
        model = CausalDetector.load(model_dir)
        frame = _read(source, resample if resample is not None else spec.get("resample"))
        bounds = (_time_value(window[0]), _time_value(window[1]))
        result = explain_incident(model, frame, bounds, target, method=method,
                                  reference_window=spec.get("reference_window"))
        write_text_atomic(out, render_incident_report(model, frame, result))
        err.print(f"wrote {out}", highlight=False)


@app.command()
def inspect(
    model_dir: Annotated[Path, typer.Argument(metavar="MODEL_DIR", help="Model folder from `faultgraph fit`.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Summarise a model folder: what it is, its metrics, its graph and its threshold."""
    from faultgraph.errors import InvalidInputError
    from faultgraph.io import load_model_dir

    with _errors():
        meta, arrays = load_model_dir(model_dir)
        A = arrays.get("graph/adjacency")
        lagged = arrays.get("graph/lagged")
        try:
            graph = meta.get("graph") or {}
            params = {**(meta.get("params") or {})}
            if params.get("lambda1") is None and "lambda1" in (graph.get("params") or {}):
                params["lambda1"] = graph["params"]["lambda1"]  # the value the learner used
            summary = {
                "task": meta.get("task"), "schema_version": meta.get("schema_version"),
                "metrics": len(meta.get("metrics", [])), "label": meta.get("label"),
                "edges": int((A != 0).sum()) if A is not None else 0,
                "lagged_edges": int((lagged != 0).sum()) if lagged is not None and lagged.size else 0,
                "method": graph.get("method"), "params": params,
                "decision_threshold": meta.get("decision_threshold"),
                "dropped_metrics": (meta.get("encoder") or {}).get("dropped", {}),
            }
        except (AttributeError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"model {str(model_dir)!r} is damaged: bad field ({exc})") from None
        if as_json:
            print(json.dumps(summary, indent=2, default=str))
            return
        for key, value in summary.items():
            if isinstance(value, dict):
                value = ", ".join(f"{k}={_plain_value(v)}" for k, v in value.items()) or "none"
            print(f"{key:<20} {_plain_value(value)}")


def _plain_value(value: Any) -> str:
    """A value as a person reads it: no Python reprs (``None`` is ``-``)."""
    return "-" if value is None else str(value)


class ExportFormat(str, Enum):
    graphml = "graphml"
    dot = "dot"


@app.command()
def export(
    model_dir: Annotated[Path, typer.Argument(metavar="MODEL_DIR", help="Model folder from `faultgraph fit`.")],
    format: Annotated[ExportFormat, typer.Option("--format", help="graphml or dot.")] = ExportFormat.graphml,
    out: Annotated[Optional[Path], typer.Option("--out", help="Output file (default: stdout).")] = None,
) -> None:
    """Export a model's causal graph (same-step and lagged edges) to GraphML or DOT."""
    from faultgraph.errors import InvalidInputError
    from faultgraph.io import graph_to_networkx, load_model_dir, to_dot, to_graphml, write_text_atomic

    with _errors():
        meta, arrays = load_model_dir(model_dir)
        try:
            nodes = [str(n) for n in (meta.get("graph") or {}).get("nodes", meta.get("metrics", []))]
            G = graph_to_networkx(nodes, arrays["graph/adjacency"], arrays.get("graph/lagged"))
        except (KeyError, AttributeError, TypeError, ValueError, IndexError) as exc:
            raise InvalidInputError(f"model {str(model_dir)!r} is damaged: missing or bad graph ({exc})") from None
        text = to_graphml(G) if format is ExportFormat.graphml else to_dot(G)
        if out is None:
            print(text, end="")
        else:
            write_text_atomic(out, text)
            err.print(f"wrote {out} ({G.number_of_nodes()} nodes, {G.number_of_edges()} edges)", highlight=False)


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for report.html and report.json.")] = Path(
        "faultgraph-demo"),
    services: Annotated[int, typer.Option(min=3, max=50, help="Services in the simulated system.")] = 10,
    seed: Annotated[int, typer.Option(help="Random seed of the simulated incident (7: an error burst whose spread the graph shows).")] = 7,
) -> None:
    """Simulate a microservice incident, detect it, explain it and write a report."""
    from faultgraph.report import incident_demo

    with _errors():
        with err.status("starting...") as status:
            result = incident_demo(out, services=services, seed=seed,
                                   progress=lambda message: status.update(message + "..."))
        top = result.explanation.causes[0]
        print(f"Injected: {result.fault_type} at {result.injected_service} ({result.injected_metric}).")
        print(f"Detected an anomaly in steps {result.window[0]} .. {result.window[1]}.")
        print(f"Most likely root cause: {top.metric} (service {top.service}), score {top.score:.2f}.")
        print(f"How it spread, and when: {result.explanation.timed_path(top)}")
        verdict = "found" if top.service == result.injected_service else "missed"
        print(f"The injected service was {verdict} first. Report: {result.report_html} "
              f"({result.seconds:.1f} s in all).")


@app.command()
def download(
    names: Annotated[Optional[list[str]], typer.Argument(metavar="NAMES",
        help="Datasets to fetch: smd, asd, petshop, nezha, sachs (default: list them).", show_default=False)] = None,
    to: Annotated[Path, typer.Option("--to", help="Data folder; each dataset goes where the loaders and the "
                                     "benchmarks read it.")] = Path("data"),
    only: Annotated[Optional[str], typer.Option("--only", help="Keep only files whose local path matches "
                                                "this shell pattern, e.g. '*machine-1-1*'.")] = None,
    ref: Annotated[str, typer.Option("--ref", help="Branch, tag or commit of the source repository.")] = "HEAD",
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Fetch again files already there.")] = False,
    mirror: Annotated[Optional[str], typer.Option(
        "--mirror", help="Fetch from a mirror of GitHub at this address (MIRROR/api, MIRROR/raw, "
        "MIRROR/media) instead.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Fetch public datasets (SMD, ASD, PetShop, Nezha, Sachs) from their authors' repositories."""
    from faultgraph.datasets.download import DATASETS, mirror_urls
    from faultgraph.datasets.download import download as fetch

    if not names:
        for source in DATASETS.values():
            print(f"{source.name:<8} {source.description} ({source.repo}, {source.licence})")
        return
    with _errors():
        for name in names:
            with _bar(f"{name}: listing", None, enabled=not quiet) as update:
                result = fetch(name, to, only=only, ref=ref, overwrite=overwrite, **mirror_urls(mirror),
                               progress=lambda done, total, path: update(description=name, completed=done,
                                                                         total=total, info=path))
            source = DATASETS[name]
            print(f"{name}: {len(result.written)} files written ({result.bytes_written / 1e6:.1f} MB), "
                  f"{len(result.kept)} already there, in {result.folder} "
                  f"(from {source.repo}, licence {source.licence})")


# --- commands defined in other modules: each module's `register(app)` adds its own (keep them light to
# import: heavy imports go inside the command functions) ---
from faultgraph.fleet.cli import register as _register_fleet  # noqa: E402
_register_fleet(app)


def main() -> None:
    """Entry point of the ``faultgraph`` script."""
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
