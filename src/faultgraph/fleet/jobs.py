"""The fleet's three jobs – fit, detect, explain one model per entity – run with
:func:`faultgraph.parallel.run_tasks`.

Each task is one entity and runs on a worker: it reads the entity's metrics from its path
or URL, does the same work as the single-entity command (:mod:`faultgraph.workflows`)
and writes its own outputs (a model folder, a scores file, rca.json files). Only a
small dict describing what was done travels back to the client.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faultgraph.config import ExplainConfig, FitConfig
from faultgraph.errors import FaultgraphError, InvalidInputError
from faultgraph.fleet import storage
from faultgraph.parallel import TaskResult, run_tasks

if TYPE_CHECKING:  # pragma: no cover
    from distributed import Client

    from faultgraph.discovery import PriorKnowledge

__all__ = ["DetectTask", "EntityOutcome", "ExplainTask", "FitTask", "FleetResult", "detect_entity", "explain_entity",
           "fingerprint", "fit_entity", "fleet_detect", "fleet_explain", "fleet_fit", "list_entities", "newest_first"]

#: The folder, inside the output, where a long file split by ``entity_column`` is written.
SPLIT_FOLDER = ".inputs"
#: The fleet's incidents, newest first, in the scores folder.
INCIDENTS = "incidents.json"
#: The index of the explanations, in the explain folder.
EXPLANATIONS = "explanations.json"


# --- results ------------------------------------------------------------------------------

@dataclass(frozen=True)
class EntityOutcome:
    """One entity's part of a fleet job.

    Parameters
    ----------
    entity : str
        The entity's name.
    status : str
        ``fitted``, ``current`` (its model was up to date, not refitted), ``scored``,
        ``explained`` or ``failed``.
    error : str or None, default None
        Why it failed; ``None`` when it did not.
    info : Mapping
        The small facts the worker sent back (rows, seconds, ...).
    """

    entity: str
    status: str
    error: str | None = None
    info: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the entity did not fail (``error`` is None)."""
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        """``entity``, ``status``, ``error`` and the ``info`` entries in one flat dict.

        Returns
        -------
        dict
        """
        return {"entity": self.entity, "status": self.status, "error": self.error, **dict(self.info)}


@dataclass(frozen=True)
class FleetResult:
    """A fleet job's outcome, one entry per entity in name order.

    Parameters
    ----------
    job : {"fit", "detect", "explain"}
        The job.
    outcomes : tuple of EntityOutcome
        One per entity.
    seconds : float
        Wall time of the whole job.
    incidents : tuple of Mapping, default ()
        Detect only: the fleet's alarm periods, newest first.
    """

    job: str
    outcomes: tuple[EntityOutcome, ...]
    seconds: float
    incidents: tuple[Mapping[str, Any], ...] = ()

    @property
    def failed(self) -> tuple[EntityOutcome, ...]:
        """The outcomes of the entities that failed."""
        return tuple(o for o in self.outcomes if not o.ok)

    @property
    def ok(self) -> bool:
        """Whether no entity failed."""
        return not self.failed

    def counts(self) -> dict[str, int]:
        """Entities per status.

        Returns
        -------
        dict of str to int
        """
        result: dict[str, int] = {}
        for o in self.outcomes:
            result[o.status] = result.get(o.status, 0) + 1
        return result

    def to_dict(self) -> dict[str, Any]:
        """``job``, ``seconds`` (rounded to ms), ``counts``, ``entities`` and, for detect,
        ``incidents``.

        Returns
        -------
        dict
            JSON-serialisable.
        """
        payload: dict[str, Any] = {"job": self.job, "seconds": round(self.seconds, 3), "counts": self.counts(),
                                   "entities": [o.to_dict() for o in self.outcomes]}
        if self.job == "detect":
            payload["incidents"] = [dict(i) for i in self.incidents]
        return payload

    def __str__(self) -> str:
        counts = ", ".join(f"{n} {status}" for status, n in sorted(self.counts().items()))
        lines = [f"fleet {self.job}: {len(self.outcomes)} entities ({counts}) in {self.seconds:.1f} s"]
        if self.job == "detect":
            lines.append(f"{len(self.incidents)} incidents across the fleet")
        lines += [f"  {o.entity}: {o.error}" for o in self.failed]
        return "\n".join(lines)


# --- sources ------------------------------------------------------------------------------

def list_entities(source: str | Path, *, entity_column: str | None = None, split_to: str | Path | None = None
                  ) -> list[tuple[str, str]]:
    """The entities of ``source`` and the file of each, in name order.

    ``source`` is a folder (path or fsspec URL) of metrics files, one per entity, named
    after it (``web-01.csv`` → ``web-01``). With ``entity_column`` it is one file (CSV or
    Parquet) holding every entity's rows: it is read once here and split into one CSV per
    entity under ``split_to`` (the entity column dropped, values written exactly), which
    the workers then read (columns empty for an entity, the other entities' metrics, are
    left out of its file).

    Parameters
    ----------
    source : str or Path
        A folder of metrics files, or with ``entity_column`` one file.
    entity_column : str or None, default None
        The column of ``source`` that names each row's entity.
    split_to : str or Path or None, default None
        Where the per-entity files are written; required with ``entity_column``.

    Returns
    -------
    list of (str, str)
        ``(entity, file path or URL)`` pairs.

    Raises
    ------
    InvalidInputError
        When ``source`` does not exist, is a file without ``entity_column`` (or no file with
        it), holds no metrics files or two for one entity, an entity name cannot name a
        folder, ``entity_column`` is given without ``split_to``, is no column or is empty
        in some rows, or the file cannot be read.
    """
    fs, path = storage.url_fs(source)
    if entity_column is not None:
        if split_to is None:
            raise InvalidInputError("entity_column needs split_to, the folder to write each entity's rows into")
        return _split(source, entity_column, split_to)
    if not fs.exists(path):
        raise InvalidInputError(f"source {str(source)!r} does not exist")
    if not fs.isdir(path):
        raise InvalidInputError(f"source {str(source)!r} is a file; give a folder with one metrics file per entity, "
                                "or name the column that tells the entities apart (entity_column, --entity-column)")
    found: dict[str, str] = {}
    for info in sorted(fs.ls(path, detail=True), key=lambda i: i["name"]):
        if info.get("type") != "file":
            continue
        name = info["name"].rstrip("/").rsplit("/", 1)[-1]
        entity = storage.entity_name(name)
        if entity is None:
            continue
        storage.check_entity_name(entity, f"file {name!r}")
        url = info["name"] if storage.is_local(source) else fs.unstrip_protocol(info["name"])
        if entity in found:
            raise InvalidInputError(f"source {str(source)!r} holds two files for entity {entity!r}: "
                                    f"{found[entity].rsplit('/', 1)[-1]!r} and {name!r}; keep one")
        found[entity] = url
    if not found:
        raise InvalidInputError(f"source {str(source)!r} holds no metrics files (one per entity: "
                                f"{', '.join(storage.METRIC_SUFFIXES)})")
    return sorted(found.items())


def _split(source: str | Path, entity_column: str, split_to: str | Path) -> list[tuple[str, str]]:
    import pandas as pd

    from faultgraph.io import write_text_atomic

    fs, path = storage.url_fs(source)
    if not fs.isfile(path):
        raise InvalidInputError(f"source {str(source)!r} is no file; with entity_column give one file holding "
                                "every entity's rows")
    lower = path.lower()
    try:
        with fs.open(path, "rb") as fh:
            if lower.endswith((".parquet", ".pq")):
                raw = pd.read_parquet(fh)
            elif lower.endswith((".csv", ".csv.gz", ".csv.bz2", ".tsv", ".txt")):
                compression = "gzip" if lower.endswith(".gz") else "bz2" if lower.endswith(".bz2") else None
                raw = pd.read_csv(fh, sep="\t" if lower.endswith(".tsv") else ",", compression=compression,
                                  dtype={entity_column: str})
            else:
                raise InvalidInputError(f"source {str(source)!r}: a file split by entity_column must be CSV or "
                                        "Parquet")
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        if isinstance(exc, InvalidInputError):
            raise
        raise InvalidInputError(f"source {str(source)!r} cannot be read: {exc}") from None
    if entity_column not in raw.columns:
        raise InvalidInputError(f"entity_column {entity_column!r} is not a column of {str(source)!r}; its columns: "
                                f"{', '.join(map(str, raw.columns[:12]))}")
    if raw[entity_column].isna().any():
        raise InvalidInputError(f"entity_column {entity_column!r} of {str(source)!r} is empty in "
                                f"{int(raw[entity_column].isna().sum())} rows; every row needs its entity")
    result = []
    for entity, rows in raw.groupby(raw[entity_column].astype(str), sort=True):
        storage.check_entity_name(entity, f"entity_column {entity_column!r}")
        url = storage.join(split_to, f"{entity}.csv")
        rows = rows.drop(columns=entity_column).dropna(axis=1, how="all")  # the other entities' metrics
        text = rows.to_csv(index=False, float_format="%.17g")
        storage.publish_file(lambda local, text=text: write_text_atomic(local, text), url)
        result.append((str(entity), url))
    return result


# --- fit ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class FitTask:
    """What a worker needs to fit one entity (small, picklable).

    Parameters
    ----------
    entity : str
        The entity's name.
    data : str
        Its metrics file (path or URL).
    model : str
        The model folder to write (path or URL).
    config : FitConfig
        The fit's options.
    prior : PriorKnowledge or None, default None
        Known edges.
    resample : str or None, default None
        The resampling step (as for :func:`faultgraph.workflows.load_metrics`).
    force : bool, default False
        Refit even when the stored model is current.
    """

    entity: str
    data: str
    model: str
    config: FitConfig
    prior: Any = None
    resample: str | None = None
    force: bool = False


def _plain(value: Any) -> Any:
    """JSON's view of ``value`` (enums as their strings, tuples as lists)."""
    return json.loads(json.dumps(value, default=str))


def fingerprint(task: FitTask, data_sha256: str) -> dict[str, Any]:
    """What makes a fitted model current: the data's content, the options, the prior,
    the resampling step and faultgraph's version.

    Parameters
    ----------
    task : FitTask
        The fit.
    data_sha256 : str
        The SHA-256 of the entity's metrics file (:func:`~faultgraph.fleet.storage.digest`).

    Returns
    -------
    dict
        As JSON sees it (enums as strings, tuples as lists): ``data_sha256``, ``config``,
        ``prior``, ``resample``, ``faultgraph``.
    """
    from faultgraph import __version__

    return _plain({"data_sha256": data_sha256, "config": task.config.to_dict(),
                   "prior": task.prior.to_dict() if task.prior is not None else None,
                   "resample": task.resample, "faultgraph": __version__})


def fit_entity(task: FitTask) -> dict[str, Any]:
    """Fit one entity's model (on a worker).

    Skipped when ``task.model`` holds a model fitted from the same data and options
    (unless ``task.force``); else the data are read, fitted and the model folder published
    with its fingerprint (``fleet.json``).

    Parameters
    ----------
    task : FitTask
        The entity to fit.

    Returns
    -------
    dict
        ``{"status": "current", "seconds"}`` when skipped; else ``status`` ``fitted``,
        ``rows``, ``metrics``, ``edges``, ``read_s``, ``fit_s``, ``seconds``.
    """
    from faultgraph import workflows
    from faultgraph.io import write_json_atomic

    t0 = time.perf_counter()
    wanted = fingerprint(task, storage.digest(task.data))
    if not task.force:
        stored = storage.read_json(storage.join(task.model, storage.FINGERPRINT))
        if (isinstance(stored, dict) and {k: stored.get(k) for k in wanted} == wanted
                and _intact_model(task.model)):
            return {"status": "current", "seconds": time.perf_counter() - t0}
    with storage.local_file(task.data) as local:
        frame = workflows.load_metrics(local, resample=task.resample)
    t_read = time.perf_counter()
    model = workflows.fit_model(frame, task.config, prior=task.prior)
    t_fit = time.perf_counter()

    def build(folder: Path) -> None:
        model.save(folder)
        write_json_atomic(folder / storage.FINGERPRINT, {"entity": task.entity, "data": task.data, **wanted})

    storage.publish_folder(build, task.model)
    graph = getattr(model, "graph_", None)
    return {"status": "fitted", "rows": int(frame.shape[0]), "metrics": int(frame.shape[1]),
            "edges": int((graph.adjacency != 0).sum()) if graph is not None else None,
            "read_s": round(t_read - t0, 4), "fit_s": round(t_fit - t_read, 4),
            "seconds": round(time.perf_counter() - t0, 4)}


def _has_model(folder: str) -> bool:
    """Whether the model folder ``folder`` (path or URL) holds a readable model.json."""
    return storage.read_json(storage.join(folder, "model.json")) is not None


def _intact_model(folder: str) -> bool:
    """Whether the model folder ``folder`` (path or URL) holds a readable model.json whose
    ``arrays_sha256`` is its arrays.npz's: a damaged model is not current (a rerun fits it
    again; ``detect`` would refuse it)."""
    meta = storage.read_json(storage.join(folder, "model.json"))
    if not isinstance(meta, dict) or not meta.get("arrays_sha256"):
        return False
    try:
        return meta["arrays_sha256"] == storage.digest(storage.join(folder, "arrays.npz"))
    except (OSError, FaultgraphError):
        return False


def _coerce_prior(prior: PriorKnowledge | str | Path | None) -> Any:
    from faultgraph.discovery import PriorKnowledge

    return PriorKnowledge.coerce(prior)


def _outcomes(results: Sequence[TaskResult], done: str) -> tuple[EntityOutcome, ...]:
    outcomes = []
    for r in results:
        if r.ok:
            info = dict(r.value or {})
            status = info.pop("status", done)
            outcomes.append(EntityOutcome(r.key, status, None, info))
        else:
            outcomes.append(EntityOutcome(r.key, "failed", r.error))
    return tuple(outcomes)


def _where(url: str | Path) -> str:
    """A local path made absolute (workers may run elsewhere), a URL as it is."""
    if storage.is_local(url):
        return str(Path(storage.url_fs(url)[1]).resolve())
    return str(url)


def _run(fn: Callable[[Any], Any], tasks: list[Any], keys: list[str], scheduler: str | None, n_workers: int | None,
         progress: Callable[[int, int], None] | None, client: Client | None) -> list[TaskResult]:
    return run_tasks(fn, tasks, scheduler=scheduler, n_workers=n_workers, keys=keys, progress=progress,
                     client=client)


def fleet_fit(source: str | Path, out: str | Path, *, config: FitConfig = FitConfig(),
              prior: PriorKnowledge | str | Path | None = None, scheduler: str | None = None,
              n_workers: int | None = None, force: bool = False, entity_column: str | None = None,
              resample: str | None = None, progress: Callable[[int, int], None] | None = None,
              client: Client | None = None) -> FleetResult:
    """Fit one model per entity of ``source`` into ``out/<entity>/``.

    Parameters
    ----------
    source : str or Path
        A folder (path or fsspec URL) with one metrics file per entity, or one file with
        ``entity_column``.
    out : str or Path
        The models folder (path or URL); ``out/<entity>/`` is a model folder exactly as
        ``faultgraph fit`` writes it, plus ``fleet.json`` (what it was fitted from).
    config : FitConfig, default FitConfig()
        As for ``faultgraph fit`` (:func:`faultgraph.workflows.fit_model`).
    prior : PriorKnowledge or str or Path or None, default None
        Known edges, or the file holding them.
    scheduler : str or None, default None
        Where to run (:func:`faultgraph.parallel.run_tasks`): by default a ``LocalCluster``
        sized to the machine.
    n_workers : int or None, default None
        Workers of the local cluster; ``0`` runs in this process.
    force : bool, default False
        Refit entities whose model is current (same data content, options, prior,
        resampling and faultgraph version); by default they are skipped.
    entity_column : str or None, default None
        With one ``source`` file: the column naming each row's entity (the split files go
        to ``out/.inputs``).
    resample : str or None, default None
        As for ``faultgraph fit``.
    progress : callable or None, default None
        ``progress(done, total)`` as entities finish.
    client : distributed.Client or None, default None
        An open client to run on.

    Returns
    -------
    FleetResult
        One outcome per entity; a failed entity is reported there (``status='failed'``,
        ``error``) and the others go on.

    Raises
    ------
    InvalidInputError
        When ``config`` is not a FitConfig, ``prior`` is no prior (see
        :meth:`~faultgraph.discovery.PriorKnowledge.coerce`), or ``source`` holds
        no entities (see :func:`list_entities`).
    """
    t0 = time.perf_counter()
    if not isinstance(config, FitConfig):
        raise InvalidInputError(f"config must be a faultgraph.config.FitConfig, got {type(config).__name__}")
    prior_obj = _coerce_prior(prior)
    source, out = _where(source), _where(out)
    entities = list_entities(source, entity_column=entity_column, split_to=storage.join(out, SPLIT_FOLDER))
    tasks = [FitTask(e, url, storage.join(out, e), config, prior_obj, resample, force) for e, url in entities]
    results = _run(fit_entity, tasks, [e for e, _ in entities], scheduler, n_workers, progress, client)
    return FleetResult("fit", _outcomes(results, "fitted"), time.perf_counter() - t0)


# --- detect -------------------------------------------------------------------------------

@dataclass(frozen=True)
class DetectTask:
    """What a worker needs to score one entity.

    Parameters
    ----------
    entity : str
        The entity's name.
    data : str
        Its metrics file (path or URL).
    model : str
        Its model folder (path or URL).
    scores : str
        The scores file to write (path or URL).
    resample : str or None, default None
        The resampling step.
    merge_gap : int, default 0
        Passed to :func:`faultgraph.workflows.detect`.
    """

    entity: str
    data: str
    model: str
    scores: str
    resample: str | None = None
    merge_gap: int = 0


def detect_entity(task: DetectTask) -> dict[str, Any]:
    """Score one entity (on a worker): load its model and metrics, detect, write ``scores``
    as ``faultgraph detect`` does; return the counts and the incidents.

    Parameters
    ----------
    task : DetectTask
        The entity to score.

    Returns
    -------
    dict
        ``status`` ``scored``, ``task``, ``steps``, ``alarms``, ``threshold``, ``incidents``
        (their number), ``_incidents`` (each incident with its ``entity``) and ``seconds``.

    Raises
    ------
    InvalidInputError
        When the entity has no model.
    """
    from faultgraph import workflows
    from faultgraph.io import write_csv_atomic

    t0 = time.perf_counter()
    if not _has_model(task.model):
        raise InvalidInputError(f"no model for entity {task.entity!r} at {task.model!r}; fit it first "
                                "(faultgraph fleet fit)")
    with storage.local_folder(task.model) as folder:
        model = workflows.load_model(folder)
    with storage.local_file(task.data) as local:
        frame = workflows.load_metrics(local, resample=task.resample)
    found = workflows.detect(model, frame, merge_gap=task.merge_gap)
    storage.publish_file(lambda path: write_csv_atomic(path, found.table), task.scores)
    incidents = [{"entity": task.entity, **i.to_dict()} for i in found.incidents]
    return {"status": "scored", "task": found.task, "steps": int(len(found.table)), "alarms": found.alarms,
            "threshold": float(found.threshold), "incidents": len(incidents), "_incidents": incidents,
            "seconds": round(time.perf_counter() - t0, 4)}


def _time_key(value: Any) -> float:
    """A window bound as a number for ordering: numbers as they are, times as Unix seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    try:
        import pandas as pd

        stamp = pd.Timestamp(value)
        return stamp.timestamp() if not pd.isna(stamp) else -math.inf
    except (ValueError, TypeError):
        return -math.inf


def newest_first(incidents: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Incidents ordered by start, newest first (ties: by end, newest first, then entity
    name).

    Parameters
    ----------
    incidents : Sequence of Mapping
        Incidents with ``start``, ``end`` (numbers or times) and ``entity``; a bound that
        is no time sorts last.

    Returns
    -------
    list of dict
        Copies, in order.
    """
    ordered = sorted(incidents, key=lambda i: (i.get("entity", ""),))
    ordered.sort(key=lambda i: (_time_key(i.get("start")), _time_key(i.get("end"))), reverse=True)
    return [dict(i) for i in ordered]


def fleet_detect(models: str | Path, source: str | Path, out: str | Path, *, scheduler: str | None = None,
                 n_workers: int | None = None, entity_column: str | None = None, resample: str | None = None,
                 merge_gap: int = 0, progress: Callable[[int, int], None] | None = None,
                 client: Client | None = None) -> FleetResult:
    """Score each entity of ``source`` with its model ``models/<entity>/``.

    Writes ``out/<entity>.csv`` (as ``faultgraph detect`` writes scores) and
    ``out/incidents.json``: every entity's alarm periods, newest first, and the entities
    that failed. An entity without a model, or whose data fails, is reported and the
    others go on.

    Parameters
    ----------
    models : str or Path
        The models folder of :func:`fleet_fit`.
    source : str or Path
        A folder with one metrics file per entity, or one file with ``entity_column``.
    out : str or Path
        The scores folder.
    scheduler, n_workers, client
        Where to run, as for :func:`fleet_fit`.
    entity_column : str or None, default None
        With one ``source`` file: the column naming each row's entity.
    resample : str or None, default None
        The resampling step.
    merge_gap : int, default 0
        Passed to :func:`faultgraph.workflows.detect`.
    progress : callable or None, default None
        ``progress(done, total)`` as entities finish.

    Returns
    -------
    FleetResult
        One outcome per entity, with the fleet's incidents.

    Raises
    ------
    InvalidInputError
        When ``source`` holds no entities (see :func:`list_entities`).
    """
    from faultgraph.io import write_json_atomic

    t0 = time.perf_counter()
    models, source, out = _where(models), _where(source), _where(out)
    entities = list_entities(source, entity_column=entity_column, split_to=storage.join(out, SPLIT_FOLDER))
    tasks = [DetectTask(e, url, storage.join(models, e), storage.join(out, f"{e}.csv"), resample, merge_gap)
             for e, url in entities]
    results = _run(detect_entity, tasks, [e for e, _ in entities], scheduler, n_workers, progress, client)
    outcomes = _outcomes(results, "scored")
    incidents = newest_first([i for o in outcomes for i in o.info.get("_incidents", ())])
    outcomes = tuple(EntityOutcome(o.entity, o.status, o.error, {k: v for k, v in o.info.items()
                                                                if not k.startswith("_")}) for o in outcomes)
    result = FleetResult("detect", outcomes, time.perf_counter() - t0, tuple(incidents))
    document = {"incidents": incidents, "entities": len(outcomes),
                "failed": [{"entity": o.entity, "error": o.error} for o in result.failed]}
    storage.publish_file(lambda path: write_json_atomic(path, document), storage.join(out, INCIDENTS))
    return result


# --- explain ------------------------------------------------------------------------------

@dataclass(frozen=True)
class ExplainTask:
    """What a worker needs to explain one entity's incidents.

    Parameters
    ----------
    entity : str
        The entity's name.
    data : str
        Its metrics file (path or URL).
    model : str
        Its model folder (path or URL).
    out : str
        The explain folder; files go to ``out/<entity>/``.
    windows : tuple of (int, start, end)
        The incidents: their place in incidents.json and their window.
    config : ExplainConfig, default ExplainConfig()
        How windows are explained.
    resample : str or None, default None
        The resampling step.
    """

    entity: str
    data: str
    model: str
    out: str
    windows: tuple[tuple[int, Any, Any], ...]
    config: ExplainConfig = ExplainConfig()
    resample: str | None = None


def _widened(index: Any, start: Any, end: Any, min_steps: int) -> tuple[Any, Any]:
    """An incident's window as ``faultgraph explain`` takes it: its bounds (as incidents.json
    wrote them) on ``index``, widened to ``min_steps`` rows
    (:func:`faultgraph.workflows.incident_window`); as given where they are no steps of
    ``index`` (explaining then says why)."""
    import pandas as pd

    from faultgraph import workflows

    try:
        if isinstance(index, pd.DatetimeIndex):
            bounds = [pd.Timestamp(b) for b in (start, end)]
            if index.tz is not None:
                bounds = [b.tz_localize(index.tz) if b.tzinfo is None else b.tz_convert(index.tz) for b in bounds]
        else:
            bounds = [start, end]
        found = workflows.Incident(bounds[0], bounds[1], bounds[0], 0.0, 0)
        return workflows.incident_window(found, index, min_steps)
    except (InvalidInputError, ValueError, TypeError):
        return start, end


def explain_entity(task: ExplainTask) -> dict[str, Any]:
    """Explain one entity's incidents (on a worker): ``out/<entity>/incident-<n>.rca.json``
    each, exactly the rca.json of ``faultgraph explain``; a window that cannot be explained
    is reported in the list and the others go on.

    Parameters
    ----------
    task : ExplainTask
        The entity and its windows.

    Returns
    -------
    dict
        ``status`` ``explained``, ``incidents``, ``failed_incidents``, ``_explained`` (one
        entry per window: incident number, entity, window, file, top three causes, error)
        and ``seconds``.

    Raises
    ------
    InvalidInputError
        When no window of the entity could be explained.
    """
    from faultgraph import workflows
    from faultgraph.io import write_json_atomic

    t0 = time.perf_counter()
    with storage.local_folder(task.model) as folder:
        model = workflows.load_model(folder, task="unsupervised-detection")
    with storage.local_file(task.data) as local:
        frame = workflows.load_metrics(local, resample=task.resample)
    done = []
    for number, start, end in task.windows:
        entry: dict[str, Any] = {"incident": number, "entity": task.entity, "start": start, "end": end}
        try:
            window = _widened(frame.index, start, end, task.config.min_steps)  # a short alarm, as `explain` does
            explanation = workflows.explain_window(model, frame, window, task.config)
            document = workflows.RcaDocument(explanation, data=task.data, resample=task.resample,
                                             reference_window=task.config.reference_window).to_dict()
            url = storage.join(task.out, task.entity, f"incident-{number}.rca.json")
            storage.publish_file(lambda path, document=document: write_json_atomic(path, document), url)
            entry.update(file=url, causes=[c["metric"] for c in document.get("causes", [])[:3]], error=None)
        except Exception as exc:  # noqa: BLE001 - one window's failure is reported, the others go on
            entry.update(file=None, causes=[], error=f"{type(exc).__name__}: {exc}")
        done.append(entry)
    failed = [e for e in done if e["error"]]
    if failed and len(failed) == len(done):
        raise InvalidInputError(f"no incident of {task.entity!r} could be explained: {failed[0]['error']}")
    return {"status": "explained", "incidents": len(done), "failed_incidents": len(failed), "_explained": done,
            "seconds": round(time.perf_counter() - t0, 4)}


def _read_incidents(incidents: str | Path) -> list[dict[str, Any]]:
    url = str(incidents)
    fs, path = storage.url_fs(url)
    if fs.isdir(path):
        url = storage.join(url, INCIDENTS)
    spec = storage.read_json(url)
    if not isinstance(spec, dict) or not isinstance(spec.get("incidents"), list):
        raise InvalidInputError(f"incidents {url!r} is not an incidents.json written by `faultgraph fleet detect`")
    for k, entry in enumerate(spec["incidents"]):
        missing = [key for key in ("entity", "start", "end") if not isinstance(entry, dict) or key not in entry]
        if missing:
            raise InvalidInputError(f"incidents {url!r}: entry {k + 1} lacks {', '.join(missing)}; it is not an "
                                    "incidents.json written by `faultgraph fleet detect`")
    return [dict(i) for i in spec["incidents"]]


def fleet_explain(models: str | Path, source: str | Path, incidents: str | Path, out: str | Path, *,
                  config: ExplainConfig = ExplainConfig(), limit: int | None = None, scheduler: str | None = None,
                  n_workers: int | None = None, entity_column: str | None = None, resample: str | None = None,
                  progress: Callable[[int, int], None] | None = None, client: Client | None = None) -> FleetResult:
    """Explain the fleet's incidents, the newest ``limit`` of them.

    Writes one rca.json per incident under ``out/<entity>/`` and ``out/explanations.json``,
    the index (incident number, entity, window, file, top three causes, error), in
    incidents.json's order.

    Parameters
    ----------
    models : str or Path
        The models folder of :func:`fleet_fit`.
    source : str or Path
        A folder with one metrics file per entity, or one file with ``entity_column``.
    incidents : str or Path
        The scores folder of :func:`fleet_detect` or its incidents.json.
    out : str or Path
        The explain folder.
    config : ExplainConfig, default ExplainConfig()
        How windows are explained.
    limit : int or None, default None
        Explain only the first ``limit`` incidents of incidents.json (the newest); ``None``:
        all.
    scheduler, n_workers, client
        Where to run, as for :func:`fleet_fit`.
    entity_column : str or None, default None
        With one ``source`` file: the column naming each row's entity.
    resample : str or None, default None
        The resampling step.
    progress : callable or None, default None
        ``progress(done, total)`` as entities finish.

    Returns
    -------
    FleetResult
        One outcome per entity with incidents; an entity without a metrics file fails.

    Raises
    ------
    InvalidInputError
        When ``limit`` is not an integer >= 1, ``incidents`` is no incidents.json of
        ``fleet detect``, or ``source`` holds no entities.
    """
    from faultgraph.io import write_json_atomic

    from faultgraph._validation import check_whole

    check_whole("limit", limit, 1, "None: all incidents", optional=True)
    t0 = time.perf_counter()
    models, source, incidents, out = _where(models), _where(source), _where(incidents), _where(out)
    chosen = list(enumerate(_read_incidents(incidents)))[:limit]
    files = dict(list_entities(source, entity_column=entity_column, split_to=storage.join(out, SPLIT_FOLDER)))
    by_entity: dict[str, list[tuple[int, Any, Any]]] = {}
    for number, incident in chosen:
        by_entity.setdefault(str(incident.get("entity")), []).append((number, incident["start"], incident["end"]))
    outcomes: list[EntityOutcome] = []
    tasks, keys = [], []
    for entity in sorted(by_entity):
        if entity not in files:
            outcomes.append(EntityOutcome(entity, "failed", f"InvalidInputError: no metrics file for entity "
                                                            f"{entity!r} in {str(source)!r}"))
            continue
        tasks.append(ExplainTask(entity, files[entity], storage.join(models, entity), str(out),
                                 tuple(by_entity[entity]), config, resample))
        keys.append(entity)
    results = _run(explain_entity, tasks, keys, scheduler, n_workers, progress, client) if tasks else []
    outcomes += _outcomes(results, "explained")
    # every incident asked for has its entry, those of a failed entity with its error (they were left out)
    explained = [e for o in outcomes for e in o.info.get("_explained", ())]
    explained += [{"incident": number, "entity": o.entity, "start": start, "end": end, "file": None, "causes": [],
                   "error": o.error}
                  for o in outcomes if not o.ok for number, start, end in by_entity.get(o.entity, ())]
    explained.sort(key=lambda e: e["incident"])
    outcomes = sorted((EntityOutcome(o.entity, o.status, o.error, {k: v for k, v in o.info.items()
                                                                  if not k.startswith("_")}) for o in outcomes),
                      key=lambda o: o.entity)
    storage.publish_file(lambda path: write_json_atomic(path, {"explanations": explained}),
                         storage.join(out, EXPLANATIONS))
    return FleetResult("explain", tuple(outcomes), time.perf_counter() - t0)


