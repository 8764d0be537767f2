"""``faultgraph fleet fit|detect|explain``: one model per entity, on dask.distributed
(thin: parse, call :mod:`faultgraph.fleet`, print)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Optional

import typer

from faultgraph._cli import RESAMPLE_HELP, errors, progress, say, where_to_run
from faultgraph.config import Learner

__all__ = ["register"]

fleet_app = typer.Typer(help="A model per entity (host, pod, service) for a whole fleet, on a dask cluster.",
                        no_args_is_help=True)

SCHEDULER_HELP = ("The dask scheduler to run on: tcp://HOST:PORT or a scheduler file. Where it runs: --scheduler, "
                  "else --workers (a local cluster, 0: in this process), else $FAULTGRAPH_SCHEDULER, else a local "
                  "cluster of one worker per CPU, closed at the end; the command line wins over the environment, "
                  "and --scheduler with --workers is refused.")
WORKERS_HELP = ("Worker processes of a local cluster started for this command (0: in this process, no dask); "
                "$FAULTGRAPH_SCHEDULER is then not used. Default: --scheduler, else $FAULTGRAPH_SCHEDULER, else "
                "one per CPU.")
ENTITY_HELP = ("The column naming each row's entity, when SOURCE is one file for the whole fleet "
               "(it is split into one file per entity under the output folder's .inputs/).")
FleetWorkers = Annotated[Optional[int], typer.Option("--workers", min=0, help=WORKERS_HELP, show_default=False)]


@contextmanager
def _progress(description: str, enabled: bool = True) -> Iterator[Callable[[int, int], None] | None]:
    """The shared progress (:func:`faultgraph._cli.progress`: a bar on a terminal, lines with
    percent and ETA when piped) as the fleet's ``progress(done, total)`` callback."""
    with progress(description, enabled=enabled) as update:
        yield (lambda done, total: update(completed=done, total=total)) if enabled else None


def _check_paths(*, out: str, source: str, models: str | None = None, out_is_models: bool = False) -> None:
    """Refuse, before any work, local paths that cannot do: a models folder that does not
    exist, an output that is an existing file, or one that is (or lies in) the source the
    command reads. URLs (``s3://`` ...) are left to the run."""
    from pathlib import Path

    from faultgraph.errors import InvalidInputError

    def local(path: str | None) -> Path | None:
        if path is None or ("://" in path and not path.startswith("file://")):
            return None
        return Path(path[len("file://"):] if path.startswith("file://") else path)

    folder, target, read = local(models), local(out), local(source)
    if folder is not None and not folder.is_dir():
        raise InvalidInputError(f"MODELS_DIR {models!r} is no folder: give the --out folder of `fleet fit`")
    if target is not None and target.exists() and not target.is_dir():
        raise InvalidInputError(f"--out {out!r} is an existing file; give a folder "
                                f"({'OUT/<entity>/ are the models' if out_is_models else 'the results go in it'})")
    if target is not None and read is not None:
        src, dst = read.resolve(), target.resolve()
        if dst == src or src in dst.parents:
            raise InvalidInputError(f"--out {out!r} would write into SOURCE {source!r}, which this command reads; "
                                    f"write it elsewhere")


def _finish(result: Any, as_json: bool) -> None:
    """Print the summary (stderr) or the JSON (stdout, with the lines about skipped, ignored
    and removed files still on stderr); exit 1 when an entity or an incident failed or a
    metrics file was skipped."""
    if as_json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
        for line in result.notes():
            say(line)
    else:
        say(str(result))
    if not result.ok:
        raise typer.Exit(1)


@fleet_app.command("fit")
def _fit_cmd(
    source: Annotated[str, typer.Argument(metavar="SOURCE", help=(
        "Folder (path or fsspec URL: s3://, gs://, file://) with one metrics file per entity, named after it "
        "(web-01.csv -> entity web-01); or one file with --entity-column."))],
    out: Annotated[str, typer.Option("--out", help="Models folder: OUT/<entity>/ is a model folder as `fit` "
                                                    "writes it.")],
    scheduler: Annotated[Optional[str], typer.Option(help=SCHEDULER_HELP, show_default=False)] = None,
    workers: FleetWorkers = None,
    entity_column: Annotated[Optional[str], typer.Option(help=ENTITY_HELP)] = None,
    force: Annotated[bool, typer.Option("--force", help="Refit entities whose model is current (same data, "
                                                        "options and faultgraph version).")] = False,
    label: Annotated[Optional[str], typer.Option(help="0/1 fault-label column (as `fit --label`).")] = None,
    lags: Annotated[int, typer.Option(min=0, help="Past steps that may act as causes (unsupervised).")] = 1,
    method: Annotated[Learner, typer.Option(help="Structure learner.")] = Learner.DAGMA,
    lambda1: Annotated[Optional[float], typer.Option(help="L1 penalty, >= 0 (default: as `fit`).",
                                                     show_default=False)] = None,
    threshold: Annotated[float, typer.Option(help="Drop edges with |weight| below this (>= 0).")] = 0.3,
    max_gap: Annotated[int, typer.Option(min=0, help="Fill missing runs up to this many steps.")] = 5,
    risk: Annotated[float, typer.Option(help="False-alarm probability of the label-free threshold, in (0, 1)."
                                             )] = 1e-2,
    prior: Annotated[Optional[str], typer.Option(help="YAML prior, the same for every entity.")] = None,
    resample: Annotated[Optional[str], typer.Option(help=RESAMPLE_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome per entity as JSON on stdout.")] = False,
) -> None:
    """Fit one model per entity. A failed entity is reported and the rest go on. Options that no fit would take
    are refused before any work.

    Exit status: 0 everything done; 1 done, but an entity failed or a metrics file of SOURCE was skipped (each
    listed with why); 2 bad arguments, nothing done.
    """
    with errors():
        from faultgraph.config import DetectorConfig, FitConfig
        from faultgraph.fleet import fleet_fit

        detector = DetectorConfig(lags=lags, method=Learner(method),
                                  lambda1=lambda1, threshold=threshold, max_gap=max_gap, risk=risk)
        _check_paths(out=out, source=source, out_is_models=True)
        scheduler, workers = where_to_run(scheduler, workers)
        with _progress("fitting", enabled=not as_json) as progress:
            result = fleet_fit(source, out, config=FitConfig(label=label, detector=detector), prior=prior,
                               scheduler=scheduler, n_workers=workers, force=force, entity_column=entity_column,
                               resample=resample, progress=progress)
    _finish(result, as_json)


@fleet_app.command("detect")
def _detect_cmd(
    models: Annotated[str, typer.Argument(metavar="MODELS_DIR", help="Models folder of `fleet fit`.")],
    source: Annotated[str, typer.Argument(metavar="SOURCE", help="Metrics to score: a folder with one file per "
                                                                 "entity (path or URL), or one file with "
                                                                 "--entity-column.")],
    out: Annotated[str, typer.Option("--out", help="Scores folder: OUT/<entity>.csv as `detect` writes it, and "
                                                    "OUT/incidents.json (the fleet's incidents, newest first).")],
    scheduler: Annotated[Optional[str], typer.Option(help=SCHEDULER_HELP, show_default=False)] = None,
    workers: FleetWorkers = None,
    entity_column: Annotated[Optional[str], typer.Option(help=ENTITY_HELP)] = None,
    merge_gap: Annotated[int, typer.Option(min=0, help="Alarm runs at most this many quiet steps apart are one "
                                                       "incident.")] = 0,
    resample: Annotated[Optional[str], typer.Option(help=RESAMPLE_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome per entity and the incidents as JSON "
                                                         "on stdout.")] = False,
) -> None:
    """Score each entity with its model; write a scores file per entity and incidents.json. Scores files of the
    last run into --out that this run did not write again (entities gone from SOURCE or failed) are removed.

    Exit status: 0 everything done; 1 done, but an entity failed or a metrics file of SOURCE was skipped (each
    listed with why); 2 bad arguments, nothing done.
    """
    with errors():
        from faultgraph.fleet import fleet_detect

        _check_paths(models=models, out=out, source=source)
        scheduler, workers = where_to_run(scheduler, workers)
        with _progress("scoring", enabled=not as_json) as progress:
            result = fleet_detect(models, source, out, scheduler=scheduler, n_workers=workers,
                                  entity_column=entity_column, resample=resample, merge_gap=merge_gap,
                                  progress=progress)
    _finish(result, as_json)


@fleet_app.command("explain")
def _explain_cmd(
    models: Annotated[str, typer.Argument(metavar="MODELS_DIR", help="Models folder of `fleet fit`.")],
    source: Annotated[str, typer.Argument(metavar="SOURCE", help="The metrics `fleet detect` scored.")],
    incidents: Annotated[str, typer.Argument(metavar="SCORES_DIR", help="Scores folder of `fleet detect` (or "
                                                                        "its incidents.json).")],
    out: Annotated[str, typer.Option("--out", help="Folder for OUT/<entity>/incident-<n>.rca.json (as `explain` "
                                                    "writes rca.json) and OUT/explanations.json.")],
    limit: Annotated[Optional[int], typer.Option(min=1, help="Explain only the newest N incidents.",
                                                 show_default=False)] = None,
    target: Annotated[Optional[str], typer.Option(help="The symptom metric (default: as `explain`).")] = None,
    min_steps: Annotated[int, typer.Option(min=1, help="Widen a shorter incident to this many steps (as "
                                                       "`explain`).")] = 3,
    scheduler: Annotated[Optional[str], typer.Option(help=SCHEDULER_HELP, show_default=False)] = None,
    workers: FleetWorkers = None,
    entity_column: Annotated[Optional[str], typer.Option(help=ENTITY_HELP)] = None,
    resample: Annotated[Optional[str], typer.Option(help=RESAMPLE_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome per entity as JSON on stdout.")] = False,
) -> None:
    """Rank the root causes of each incident `fleet detect` found. The rca.json files of the last run into --out
    that this run did not write again (incidents no longer listed, or failed) are removed.

    Exit status: 0 everything done; 1 done, but an entity or an incident failed or a metrics file of SOURCE was
    skipped (each listed with why); 2 bad arguments, nothing done.
    """
    with errors():
        from faultgraph.config import ExplainConfig
        from faultgraph.fleet import fleet_explain

        _check_paths(models=models, out=out, source=source)
        scheduler, workers = where_to_run(scheduler, workers)
        with _progress("explaining", enabled=not as_json) as progress:
            result = fleet_explain(models, source, incidents, out, config=ExplainConfig(target=target,
                                                                                        min_steps=min_steps),
                                   limit=limit,
                                   scheduler=scheduler, n_workers=workers, entity_column=entity_column,
                                   resample=resample, progress=progress)
    _finish(result, as_json)


def register(app: typer.Typer) -> None:
    """Add ``fleet fit|detect|explain`` to ``app``."""
    app.add_typer(fleet_app, name="fleet")
