"""The ``faultgraph`` command line: parse, make one workflow call, print.

Every command calls :mod:`faultgraph.workflows`; choices and defaults come from
:mod:`faultgraph.config`. Exit codes: 0 success, 2 bad input or usage, 1 internal error
(traceback with ``--debug``). Only typer and rich are imported at start-up.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from faultgraph import __version__
from faultgraph._cli import (RESAMPLE_HELP, Workers, check_ensemble_given, check_outputs, errors,
                             given_options, join_and, lags_value, learner_progress, numbered, progress, say, state,
                             time_value, where_to_run)
from faultgraph.config import (DEFAULTS, Calibration, Combine, ExplainConfig, Learner, LearnConfig, RankingScales,
                               RcaMethod, Score)

__all__ = ["app", "main"]

app = typer.Typer(
    name="faultgraph",
    help="Find the faults in a backend system and explain them with a learned causal graph.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

Resample = Annotated[Optional[str], typer.Option(help=RESAMPLE_HELP)]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or summary on stderr.")]
MaxGap = Annotated[int, typer.Option(min=0, help="Fill missing runs up to this many steps.")]
Threshold = Annotated[float, typer.Option(help="Drop edges with |weight| below this.")]
ModelDir = Annotated[Path, typer.Argument(metavar="MODEL_DIR", help="Model folder written by `faultgraph fit`.")]
Force = Annotated[bool, typer.Option(
    "--force", help="Fit even with fewer rows than candidate parents or an estimated time past the limit "
                    "(never past the memory limit); for `fit`, the full graph solve where the detector would "
                    "otherwise screen each metric's candidate parents.")]
Bootstrap = Annotated[int, typer.Option(
    min=0, help="Also learn this many graphs on block-bootstrap resamples (on Dask): each edge's confidence, "
                "and effects whose intervals carry the graph's uncertainty (0: one graph).")]
Scheduler = Annotated[Optional[str], typer.Option(
    envvar="FAULTGRAPH_SCHEDULER", help="Dask scheduler (tcp://HOST:PORT) for the resamples; default a local "
                                        "cluster.")]
Block = Annotated[Optional[int], typer.Option(
    min=1, show_default=False,
    help="Block length of the bootstrap, in rows (default: the cube root of the rows, rounded up).")]
Seed = Annotated[int, typer.Option(min=0, help="Seed of the resampling (the same seed, the same graphs).")]
Graph = Annotated[Optional[Path], typer.Option(
    help="A known graph, used as given (its edges and no other, a metric's own past aside): a CSV of "
         "cause,effect rows or a graph.json; names may be glob patterns.")]


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
    state["debug"] = debug


@app.command()
def discover(
    ctx: typer.Context,
    data: Annotated[Path, typer.Argument(metavar="DATA", help="Metrics file: CSV or Parquet, wide or long.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the learned graph (JSON).")],
    method: Annotated[Learner, typer.Option(help="dagma (fast, default) or notears.")] = LearnConfig.method,
    lambda1: Annotated[Optional[float], typer.Option(help="L1 penalty (default 0.03 dagma, 0.1 notears).")] = None,
    threshold: Threshold = DEFAULTS.threshold,
    standardize: Annotated[bool, typer.Option(help="Scale metrics robustly before learning.")] = True,
    prior: Annotated[Optional[Path], typer.Option(help="YAML prior: forbidden/required edges, tiers...")] = None,
    graph: Graph = None,
    max_gap: MaxGap = DEFAULTS.max_gap,
    lags: Annotated[int, typer.Option(min=0, help="Past steps that may act as causes (time order).")] = 0,
    refine: Annotated[Optional[bool], typer.Option(
        "--refine/--no-refine", help="Greedy edge moves after the continuous solve (default: on for raw data, "
                                     "off with standardising; never with lags).")] = None,
    screen: Annotated[bool, typer.Option(
        "--screen", help="Thousands of metrics: screened candidate parents and an order by conditional variance "
                         "instead of the continuous solve (raw data, no lags; docs/large_graphs.md).")] = False,
    device: Annotated[Optional[str], typer.Option(help="cuda or cpu: second moments (and the screen) with "
                                                       "PyTorch there (the torch extra).")] = None,
    resample: Resample = None,
    truth: Annotated[Optional[Path], typer.Option(help="truth.json to score the learned graph against.")] = None,
    bootstrap: Bootstrap = 0,
    block: Block = None,
    seed: Seed = 0,
    workers: Workers = None,
    scheduler: Scheduler = None,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Learn the causal graph of a metrics file and write it as JSON."""
    from faultgraph import workflows as wf
    from faultgraph.io import write_json_atomic

    with errors():
        check_outputs({"--out": out}, {"DATA": data, "--prior": prior, "--graph": graph, "--truth": truth})
        check_ensemble_given(ctx, bootstrap)
        scheduler, workers = where_to_run(scheduler if given_options(ctx, ("scheduler",)) else None, workers)
        frame = wf.load_metrics(data, resample=resample, max_gap=max_gap)
        config = LearnConfig(method=method, lambda1=lambda1, threshold=threshold, standardize=standardize,
                             max_gap=max_gap, lags=lags, refine=refine, screen=screen, device=device)
        steps = 5 if method is Learner.DAGMA else 100
        knowledge = wf.load_prior(prior, graph=graph, metrics=frame.columns)
        if bootstrap:  # the graph on all rows, then one on each resample
            with progress(f"learning 1 + {bootstrap} graphs", bootstrap, enabled=not quiet) as update:
                ensemble = wf.learn_graph_ensemble(frame, config, n_graphs=bootstrap, prior=knowledge,
                                                   block=block, random_state=seed, scheduler=scheduler,
                                                   n_workers=workers, force=force, progress=lambda done, total: update(
                                                       completed=done, total=total))
            learned, result = ensemble.result, ensemble.to_dict()
        else:
            with progress(f"learning ({method.value})", steps, enabled=not quiet) as update:
                learned = wf.learn_graph(frame, config, prior=knowledge, truth=truth,
                                         callback=learner_progress(update), force=force)
            result = learned.to_dict()
        if truth is not None and learned.accuracy is None:
            result["accuracy"] = wf.score_against(truth, learned.graph).to_dict()
        for name, reason in learned.dropped.items():
            say(f"dropped metric {name!r}: {reason}")
        write_json_atomic(out, result)
        if not quiet:
            lagged = f" and {len(result['lagged_edges'])} lagged edges" if result.get("lagged_edges") else ""
            say(f"{len(result['edges'])} edges{lagged} among {len(result['nodes'])} metrics in "
                f"{result['elapsed_s']:.2f} s; wrote {out}")
            if "accuracy" in result:
                a = result["accuracy"]
                say(f"against {truth}: SHD {a['shd']}, TPR {a['tpr']:.2f}, FDR {a['fdr']:.2f}")
            if bootstrap:
                say(f"{len(result['low_confidence_edges'])} edges held by fewer than half of the {bootstrap} "
                    "resampled graphs (low_confidence_edges)")


@app.command()
def fit(
    ctx: typer.Context,
    data: Annotated[Path, typer.Argument(metavar="DATA",
        help="Training metrics (CSV or Parquet), mostly normal, in time order.")],
    out: Annotated[Path, typer.Option("--out", help="Model folder to write (model.json + arrays.npz).")],
    label: Annotated[Optional[str], typer.Option(
        help="0/1 fault-label column: learn to identify faults from labels (the paper's setting). "
             "Without it, learn what normal looks like and flag what the causal model cannot explain.")] = None,
    lags: Annotated[Optional[str], typer.Option(
        metavar="N|auto", parser=lags_value,
        help=f"Past steps that may act as causes (default {DEFAULTS.lags} without --label, 0 with it); auto "
             "(without --label): the shortest window whose one-step prediction of held-back training rows is "
             "within 2 % of the best (docs/robustness.md).", show_default=False)] = None,
    method: Annotated[Learner, typer.Option(help="Structure learner.")] = Learner.DAGMA,
    lambda1: Annotated[Optional[float], typer.Option(
        help="L1 penalty of the structure learner (default without --label: max(0.03, sqrt(2 log k / n)) for n "
             "rows and k candidate parents).")] = None,
    threshold: Threshold = DEFAULTS.threshold,
    prior: Annotated[Optional[Path], typer.Option(help="YAML prior (a label is always a sink).")] = None,
    graph: Graph = None,
    max_gap: MaxGap = DEFAULTS.max_gap,
    risk: Annotated[float, typer.Option(help="False-alarm probability of the label-free threshold (POT).")] =
        DEFAULTS.risk,
    combine: Annotated[Combine, typer.Option(
        help="How metrics' deviations make one score: mean-square (default), max-of-smoothed "
             "(suits faults that start in one metric), max, mean-square+max.")] = Combine.MEAN_SQUARE,
    score: Annotated[Score, typer.Option(
        help="What each step's score adds up: auto (default: residual+marginal+innovation where the metrics' "
             "changes lead each other by two steps or more, else residual+marginal), residual+marginal, residual, "
             "or residual+marginal+innovation (holds up under link delays and scrape jitter; unsupervised).")] =
        Score.AUTO,
    drift_window: Annotated[int, typer.Option(
        min=0, help="Measure each metric's deviations from their median over this many past steps, so a level "
                    "that shifts and stays within the training range stops alarming after about half of it (0: "
                    "off; unsupervised).")] =
        DEFAULTS.drift_window,
    background_window: Annotated[int, typer.Option(
        min=0, help="Read the alarm threshold relative to the score's background over this many past steps, "
                    "once that runs above twice the training's (a noisier regime; 0: off, else at least 60; "
                    "unsupervised).")] = DEFAULTS.background_window,
    scale_floor: Annotated[float, typer.Option(
        min=0.0, help="Calibration (off at 0): no metric's or residual's scale below this share of its own "
                      "spread; near-duplicate and near-deterministic metrics flagged (docs/calibration.md).")] =
        DEFAULTS.scale_floor,
    soft_cap: Annotated[float, typer.Option(
        min=0.0, help="Calibration (off at 0): each z enters the score as c*asinh(z/c), so one broken relation "
                      "cannot own a step's score.")] = DEFAULTS.soft_cap,
    holdout: Annotated[float, typer.Option(
        min=0.0, max=0.9, help="Calibration (off at 0): read the alarm threshold on this held-back share of the "
                               "training rows, not on the rows fitted.")] = DEFAULTS.holdout,
    calibration: Annotated[Calibration, typer.Option(
        help="Calibration: each metric's score parts as their rarity on the training rows (rank, normal, ...) or "
             "over a tail-aware scale (band); off: the robust z as it is (docs/calibration.md).")] =
        Calibration(DEFAULTS.calibration),
    lasting: Annotated[bool, typer.Option(
        "--lasting/--no-lasting", help="Also score each step without the drift window's adjustment, on its own "
                                       "alarm threshold, so a fault that lasts keeps alarming (unsupervised).")] =
        DEFAULTS.lasting,
    bootstrap: Bootstrap = 0,
    block: Block = None,
    seed: Seed = 0,
    workers: Workers = None,
    scheduler: Scheduler = None,
    resample: Resample = None,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Fit a model: with --label, fault identification from labels; without, anomaly detection."""
    from faultgraph import workflows as wf
    from faultgraph.config import UNSUPERVISED_ONLY, DetectorConfig, FitConfig
    from faultgraph.errors import InvalidInputError

    with errors():
        given = given_options(ctx, tuple(n if n != "scoring" else "score" for n in UNSUPERVISED_ONLY))
        if label is not None and given:
            raise InvalidInputError(f"{', '.join(given)} apply to anomaly detection (fit without --label); "
                                    f"with --label {label!r}, leave them out")
        if label is not None and lags == "auto":
            raise InvalidInputError("--lags auto applies to anomaly detection (fit without --label); with --label, "
                                    "give a whole number of past steps")
        ensemble = (["--bootstrap"] if bootstrap else []) + given_options(ctx, ("block", "seed", "workers",
                                                                                "scheduler"))
        if label is None and ensemble:
            raise InvalidInputError(f"{join_and(ensemble)} appl{'ies' if len(ensemble) == 1 else 'y'} to a label "
                                    "model (fit with --label); an anomaly-detection model learns one graph")
        check_ensemble_given(ctx, bootstrap)
        scheduler, workers = where_to_run(scheduler if given_options(ctx, ("scheduler",)) else None, workers)
        from faultgraph.io.model import check_model_path

        check_model_path(out)  # before the work of fitting
        frame = wf.load_metrics(data, resample=resample, max_gap=max_gap)
        config = FitConfig(label=label, label_lags=int(lags or 0) if label is not None else 0, bootstrap=bootstrap,
                           detector=DetectorConfig(
            lags=DEFAULTS.lags if lags is None else lags, method=method, lambda1=lambda1, threshold=threshold,
            max_gap=max_gap, risk=risk, combine=combine, scoring=score, drift_window=drift_window,
            background_window=background_window, scale_floor=scale_floor, soft_cap=soft_cap, holdout=holdout,
            calibration=calibration.value, lasting=lasting))
        what = ("learning the lagged causal graph of normal behaviour" if label is None
                else "learning the graph and the label's equation")
        with progress(what, enabled=not quiet):
            model = wf.fit_model(frame, config, prior=wf.load_prior(prior, graph=graph, metrics=frame.columns),
                                 force=force, scheduler=scheduler, n_workers=workers, block=block, random_state=seed)
        model.save(out)
        for line in [] if quiet else wf.fit_summary(model, out):
            say(line)


@app.command()
def detect(
    model_dir: ModelDir,
    data: Annotated[Path, typer.Argument(metavar="DATA", help="Metrics to score (CSV or Parquet).")],
    out: Annotated[Path, typer.Option("--out", help="Where to write scores.csv.")],
    incidents: Annotated[Optional[Path], typer.Option(
        help="Also write the alarm periods as incidents.json (start, end, peak, peak score, top metrics).")] = None,
    resample: Resample = None,
) -> None:
    """Score every row of DATA with a fitted model, write scores.csv and list the incidents.

    Unsupervised models write `score`, `anomaly` (0/1), `background` (what the score was
    divided by where the score's background ran above twice the training's: a noisier regime,
    or a level that stays), one
    `residual:<metric>` column per metric and one `constant:<metric>` column per metric that
    held one value in training (its departure from it: not scored, but named when it moves),
    and print each alarm period (an incident: explain it with `faultgraph explain MODEL_DIR
    DATA`, the latest by default); label models write `probability` and `decision`.
    """
    from faultgraph import workflows as wf
    from faultgraph.io import write_csv_atomic, write_json_atomic

    with errors():
        check_outputs({"--out": out, "--incidents": incidents}, {"DATA": data, "MODEL_DIR": model_dir})
        model = wf.load_model(model_dir)
        found = wf.detect(model, wf.load_metrics(data, resample=resample, model=model))
        write_csv_atomic(out, found.table)
        if incidents is not None:
            write_json_atomic(incidents, {"threshold": found.threshold,
                                          "incidents": [i.to_dict() for i in found.incidents]})
        for line in wf.detection_summary(found):
            say(line)
        if found.incidents:
            print(wf.incidents_table(found.incidents))
        if found.labels is not None:
            from faultgraph.evaluate import classification_scores, table1

            print(table1({"faultgraph": classification_scores(found.labels, found.table["decision"].to_numpy(),
                                                              found.table["probability"].to_numpy())}))
        say(f"wrote {join_and([str(p) for p in (out, incidents) if p is not None])}")


@app.command()
def explain(
    ctx: typer.Context,
    model_dir: Annotated[Optional[Path], typer.Argument(metavar="MODEL_DIR",
        help="Model folder from `faultgraph fit` (no label).")] = None,
    data: Annotated[Optional[Path], typer.Argument(metavar="DATA", help="Metrics covering the incident.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Where to write rca.json (default: rca.json, "
                                                "or nowhere with --json).", show_default=False)] = None,
    start: Annotated[Optional[str], typer.Option(
        help="First step of the incident window: a time, or a number (Unix seconds on time-stamped data). "
             "Default: the latest incident `detect` finds in DATA.")] = None,
    end: Annotated[Optional[str], typer.Option(help="Last step of the incident window.")] = None,
    incident: Annotated[Optional[int], typer.Option(
        min=1, help="Explain this incident of DATA (numbered as `detect` lists them) instead of the latest.")]
        = None,
    all_incidents: Annotated[bool, typer.Option(
        "--all", help="Explain every incident of DATA: rca-N.json (and report-N.html, steps-N.csv) for each; "
                      "none is an answer (exit 0).")]
        = False,
    target: Annotated[Optional[str], typer.Option(
        help="The symptom metric (an SLO); default: the largest robust z in the window among the metrics that "
             "moved (a target that did not move is explained with a warning).")] = None,
    normal: Annotated[Optional[Path], typer.Option(help="Case mode: metrics of a normal period (fit on it).")] = None,
    anomalous: Annotated[Optional[Path], typer.Option(help="Case mode: metrics of the anomalous period.")] = None,
    method: Annotated[Optional[RcaMethod], typer.Option(
        help="causal+innovation+nsigma (default; causal+nsigma for a model saved before innovations), "
             "causal+nsigma, causal, innovation, noise, baro, nsigma, random, mechanism (CIRCA-like mechanism "
             "test), context (the anomalous period as a context variable: its coefficient given each metric's "
             "learned parents), context+innovation+nsigma (the default with context in place of the noise "
             "part); docs/mechanism.md.", show_default=False)] = None,
    scales: Annotated[Optional[RankingScales], typer.Option(
        help="What each metric's residual is divided by: calibrated (default: never below 1 % of the metric's "
             "own variation, never counted beyond the metric's own move; near-deterministic equations listed "
             "under \"flagged\" in rca.json) or model (the model's training residuals); docs/mechanism.md.",
        show_default=False)] = None,
    lags: Annotated[str, typer.Option(
        metavar="N|auto", parser=lags_value,
        help="Case mode: past steps that may act as causes, or auto (chosen from the normal period).")] =
        DEFAULTS.lags,  # type: ignore[assignment]
    max_gap: Annotated[int, typer.Option(min=0, help="Case mode: fill missing runs up to this many steps.")] =
        DEFAULTS.max_gap,
    prior: Annotated[Optional[Path], typer.Option(
        help="Case mode: YAML prior; glob patterns allowed, e.g. tiers [\"*_traffic\"], [\"*_cpu\"].")] = None,
    graph: Annotated[Optional[Path], typer.Option(
        help="Case mode: a known graph, used as given (CSV of cause,effect rows, or a graph.json).")] = None,
    html: Annotated[Optional[Path], typer.Option(help="Also write the incident report (self-contained HTML).")] = None,
    steps: Annotated[Optional[Path], typer.Option(
        help="Also write each metric's score at each step of the window (CSV: a row per step, a column per "
             "metric; the same method, not aggregated over the window; a metric constant in training that moves "
             "is inf where it is off its value).")] = None,
    service_map: Annotated[Optional[Path], typer.Option(
        help="YAML of pattern: service rules (globs, or re: regexes) naming each metric's service, after its "
             "Prometheus labels (service, job, app, container, pod, instance) and before the name rule.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Case mode: fit even where the budget check refuses "
                                                        "(never past the memory limit).")] = False,
    min_steps: Annotated[int, typer.Option(
        min=1, help="The fewest steps a window may hold (1: explain a single anomalous row against its normal "
                    "history).")] = DEFAULTS.min_steps,
    as_json: Annotated[bool, typer.Option("--json", help="Print rca.json to stdout instead of a summary "
                                          "(and write it only if --out is given); with --all, a JSON array "
                                          "of them, one per incident ([] for none).")] = False,
    resample: Resample = None,
    reference_window: Annotated[Optional[int], typer.Option(
        min=0, help="Steps before the window that give its recent normal (a level the system settled at since "
                    "training is not blamed), at least 60; default: the model's drift window (360); 0: the "
                    "training period alone.", show_default=False)] = None,
) -> None:
    """Rank the root causes of an incident and the path by which it spread.

    Either MODEL_DIR DATA (a fitted model; the window is --start/--end, or the latest
    incident `detect` finds in DATA, --incident N for another, --all for each), or
    --normal normal.csv --anomalous anomalous.csv (fit on the normal period, explain the
    whole anomalous one unless --start/--end narrow it).
    """
    from faultgraph import workflows as wf
    from faultgraph.config import CASE_MODE_ONLY, DetectorConfig
    from faultgraph.errors import InvalidInputError

    with errors():
        if out is None and not as_json:
            out = Path("rca.json")
        check_outputs({"--out" if ctx.get_parameter_source("out").name == "COMMANDLINE" else "--out (default)": out,
                       "--html": html, "--steps": steps},
                      {"DATA": data, "MODEL_DIR": model_dir, "--normal": normal, "--anomalous": anomalous,
                       "--prior": prior, "--graph": graph, "--service-map": service_map})
        config = ExplainConfig(target=target, method=method, reference_window=reference_window,
                               min_steps=min_steps, scales=scales)
        window = (time_value(start), time_value(end))
        chosen = start is not None or end is not None
        if (incident is not None or all_incidents) and (chosen or normal is not None or anomalous is not None):
            raise InvalidInputError("--incident and --all choose among the incidents of MODEL_DIR DATA; leave out "
                                    "--start/--end and case mode's --normal/--anomalous")
        if normal is not None or anomalous is not None:
            if normal is None or anomalous is None or model_dir is not None:
                raise InvalidInputError("case mode needs both --normal and --anomalous, and no MODEL_DIR")
            normal_frame, frame = (wf.load_metrics(normal, resample=resample, max_gap=max_gap),
                                   wf.load_metrics(anomalous, resample=resample, max_gap=max_gap))
            with progress("learning normal behaviour"):
                model, result = wf.explain_case(normal_frame, frame, window, config, force=force,
                                                services=wf.service_names(frame.columns, service_map),
                                                prior=wf.load_prior(prior, graph=graph, metrics=normal_frame.columns),
                                                detector=DetectorConfig(lags=lags, max_gap=max_gap))
            runs = [(None, result)]
        else:
            if model_dir is None or data is None:
                raise InvalidInputError("give MODEL_DIR DATA (and --start T0 --end T1, or let it explain the "
                                        "latest incident it detects), or --normal and --anomalous")
            given = given_options(ctx, CASE_MODE_ONLY)
            if given:
                raise InvalidInputError(f"{', '.join(given)} apply to case mode (--normal/--anomalous, which fits a "
                                        f"model); MODEL_DIR was fitted with its own: leave them out")
            model, normal_frame = wf.load_model(model_dir, task="unsupervised-detection"), None
            frame = wf.load_metrics(data, resample=resample, model=model)
            windows = ([(None, window)] if chosen
                       else wf.incident_windows(model, frame, incident, all_incidents, min_steps=min_steps))
            if not windows:  # --all on data without an incident: an answer (an empty array with --json), not an error
                say(f"no incident in {data}: no step is above the model's alarm threshold "
                    f"({float(model.threshold_):.3g}); nothing explained (--start and --end explain a window anyway)")
            services = wf.service_names(frame.columns, service_map)
            runs = [(k, wf.explain_window(model, frame, w, config, services=services)) for k, w in windows]
        documents = []  # with --all --json: one JSON array of them, printed at the end
        for k, result in runs:
            doc = wf.RcaDocument(result, data=str((anomalous or data).resolve()),  # type: ignore[union-attr]
                                 normal=str(normal.resolve()) if normal is not None else None,
                                 resample=resample, reference_window=reference_window)
            written = wf.write_explanation(doc, model, frame, numbered(out, k), html=numbered(html, k),
                                           steps=numbered(steps, k), normal=normal_frame)
            if as_json and all_incidents:
                documents.append(doc.to_dict())
            else:
                print(json.dumps(doc.to_dict(), indent=2) if as_json else result)
            if written:
                say(f"wrote {join_and(written)}")
        if as_json and all_incidents:
            print(json.dumps(documents, indent=2))


# --- commands defined in other modules: each module's `register(app)` adds its own (keep them light to
# import: heavy imports go inside the command functions) ---
from faultgraph.commands.download import register as _register_download  # noqa: E402
from faultgraph.commands.models import register as _register_models  # noqa: E402
from faultgraph.commands.simulate import register as _register_simulate  # noqa: E402
from faultgraph.fleet.cli import register as _register_fleet  # noqa: E402
from faultgraph.service.cli import register as _register_service  # noqa: E402

_register_models(app)
_register_simulate(app)
_register_download(app)
_register_fleet(app)
_register_service(app)


def main() -> None:
    """Entry point of the ``faultgraph`` script."""
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
