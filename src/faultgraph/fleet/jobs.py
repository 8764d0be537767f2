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

__all__ = ["DetectTask", "EntityOutcome", "ExplainTask", "FitTask", "FleetResult", "Listing", "detect_entity",
           "explain_entity", "fingerprint", "fit_entity", "fleet_detect", "fleet_explain", "fleet_fit", "list_entities",
           "newest_first", "scan_source"]

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
    skipped : tuple of Mapping, default ()
        Metrics files of the source that were not taken (:class:`Listing`), each
        ``{"file", "entity", "reason"}``.
    ignored : tuple of str, default ()
        Files of the source that are no metrics files.
    explanations : tuple of Mapping, default ()
        Explain only: the index, one entry per incident (``error`` set where it failed).
    removed : tuple of str, default ()
        Outputs of the previous run into the same folder that this run did not write again
        (entities gone or failed, incidents no longer asked for), deleted so that the
        folder holds this run's outputs only; relative to the output folder.
    """

    job: str
    outcomes: tuple[EntityOutcome, ...]
    seconds: float
    incidents: tuple[Mapping[str, Any], ...] = ()
    skipped: tuple[Mapping[str, Any], ...] = ()
    ignored: tuple[str, ...] = ()
    explanations: tuple[Mapping[str, Any], ...] = ()
    removed: tuple[str, ...] = ()

    @property
    def failed(self) -> tuple[EntityOutcome, ...]:
        """The outcomes of the entities that failed."""
        return tuple(o for o in self.outcomes if not o.ok)

    @property
    def failed_incidents(self) -> tuple[Mapping[str, Any], ...]:
        """Explain only: the incidents that could not be explained although their entity did
        not fail as a whole (those of a failed entity are in :attr:`failed`)."""
        lost = {o.entity for o in self.failed}
        return tuple(e for e in self.explanations if e.get("error") and e.get("entity") not in lost)

    @property
    def ok(self) -> bool:
        """Whether everything asked for was done: no entity failed, no incident failed and no
        metrics file of the source was skipped (the command's exit status 0)."""
        return not self.failed and not self.failed_incidents and not self.skipped

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
        """``job``, ``ok``, ``seconds`` (rounded to ms), ``counts``, ``entities``, ``skipped``,
        ``ignored``, ``removed`` and, for detect, ``incidents``; for explain,
        ``failed_incidents``.

        Returns
        -------
        dict
            JSON-serialisable.
        """
        payload: dict[str, Any] = {"job": self.job, "ok": self.ok, "seconds": round(self.seconds, 3),
                                   "counts": self.counts(), "entities": [o.to_dict() for o in self.outcomes],
                                   "skipped": [dict(s) for s in self.skipped], "ignored": list(self.ignored),
                                   "removed": list(self.removed)}
        if self.job == "detect":
            payload["incidents"] = [dict(i) for i in self.incidents]
        if self.job == "explain":
            payload["failed_incidents"] = [dict(e) for e in self.failed_incidents]
        return payload

    def notes(self) -> list[str]:
        """The lines about the source and the output folder: one per skipped file, one for
        the ignored files, one for the removed outputs (none when there is nothing to say).

        Returns
        -------
        list of str
        """
        lines = [f"skipped {_what(s)}: {s['reason']}" for s in self.skipped]
        if self.ignored:
            shown = ", ".join(repr(_short(n)) for n in self.ignored[:5]) + (", ..." if len(self.ignored) > 5 else "")
            lines.append(f"ignored {len(self.ignored)} file{'s' * (len(self.ignored) != 1)} of SOURCE that "
                         f"{'are' if len(self.ignored) != 1 else 'is'} no metrics file ({shown}); metrics files end "
                         f"in {', '.join(sorted(storage.METRIC_SUFFIXES))}")
        if self.removed:
            shown = ", ".join(repr(_short(n)) for n in self.removed[:5]) + (", ..." if len(self.removed) > 5 else "")
            lines.append(f"removed {len(self.removed)} output{'s' * (len(self.removed) != 1)} of the previous run "
                         f"that this run did not write again (entities gone or failed, incidents no longer listed): "
                         f"{shown}")
        return lines

    def __str__(self) -> str:
        counts = ", ".join(f"{n} {status}" for status, n in sorted(self.counts().items()))
        lines = [f"fleet {self.job}: {len(self.outcomes)} entities ({counts}) in {self.seconds:.1f} s"]
        if self.job == "detect":
            lines.append(f"{len(self.incidents)} incidents across the fleet")
        if self.job == "explain" and self.failed_incidents:
            lines.append(f"{len(self.failed_incidents)} of {len(self.explanations)} incidents could not be "
                         "explained")
        lines += [f"  {o.entity}: {o.error}" for o in self.failed]
        lines += [f"  incident {e.get('incident')} of {e.get('entity')}: {e.get('error')}"
                  for e in self.failed_incidents]
        return "\n".join(lines + self.notes())


def _what(skipped: Mapping[str, Any]) -> str:
    """``file 'x.csv'`` or ``entity 'x'`` (of a split file), a long name cut, for a message."""
    if skipped.get("file") is not None:
        return f"file {_short(str(skipped['file']))!r}"
    return f"entity {_short(str(skipped.get('entity')))!r}"


def _short(text: str, size: int = 60) -> str:
    """``text``, or its start and end around ``...`` when it is longer than ``size``."""
    return text if len(text) <= size else f"{text[:size - 20]}...{text[-12:]}"


# --- sources ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Listing:
    """What a source holds: its entities, the data files left out and why, and the other files.

    Parameters
    ----------
    entities : tuple of (str, str)
        ``(entity, file path or URL)`` pairs, in name order.
    skipped : tuple of Mapping, default ()
        Metrics files (or, with ``entity_column``, entities) that were not taken, each
        ``{"file", "entity", "reason"}`` (``file`` None for an entity of a split file): a name
        that cannot name a folder or is too long, a link to no file. They count as failures.
    ignored : tuple of str, default ()
        Names of the files that are no metrics files (``README``, ``notes.txt``): not entities.
    """

    entities: tuple[tuple[str, str], ...]
    skipped: tuple[Mapping[str, Any], ...] = ()
    ignored: tuple[str, ...] = ()


def scan_source(source: str | Path, *, entity_column: str | None = None, split_to: str | Path | None = None
                ) -> Listing:
    """The entities of ``source`` and the file of each, with what was left out.

    ``source`` is a folder (path or fsspec URL) of metrics files, one per entity, named
    after it (``web-01.csv`` → ``web-01``; the extensions of
    :data:`~faultgraph.fleet.storage.METRIC_SUFFIXES`, CSV and Parquet, and a ``.json`` that is
    a Prometheus ``query_range`` export). A symbolic link
    to a file is followed (its own name names the entity). Hidden files and folders are
    passed over; other files are ``ignored``; a metrics file whose name cannot name an
    entity (:func:`~faultgraph.fleet.storage.entity_problem`), a link to no file, or one of
    two files for one entity (``web-01.csv`` beside ``web-01.parquet``: both) is
    ``skipped`` with the reason, and the others are listed. With ``entity_column`` it is
    one file (CSV or Parquet) holding every entity's rows: it is read once here and split
    into one CSV per entity under ``split_to`` (the entity column dropped, values written
    exactly), which the workers then read (columns empty for an entity, the other
    entities' metrics, are left out of its file); an entity value that cannot name a
    folder is skipped.

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
    Listing

    Raises
    ------
    InvalidInputError
        When ``source`` does not exist, is a file without ``entity_column`` (or no file with
        it), holds no usable metrics file, ``entity_column`` is given
        without ``split_to``, is no column or is empty in some rows, or the file cannot be
        read.
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
    files: dict[str, list[str]] = {}
    skipped: list[dict[str, Any]] = []
    ignored: list[str] = []
    for info in sorted(fs.ls(path, detail=True), key=lambda i: i["name"]):
        name = info["name"].rstrip("/").rsplit("/", 1)[-1]
        if name.startswith(".") or info.get("type") == "directory":
            continue
        entity = storage.entity_name(name)
        if (entity is None and name.lower().endswith(".json") and _not_a_file(fs, info) is None
                and _prometheus_export(fs, info["name"])):  # a regular file: a FIFO would block the read
            entity = name[:-len(".json")]
        if entity is None:
            ignored.append(name)
            continue
        why = _not_a_file(fs, info)
        problem = why or storage.entity_problem(entity)
        if problem is not None:
            skipped.append({"file": name, "entity": entity, "reason": problem})
            continue
        url = info["name"] if storage.is_local(source) else fs.unstrip_protocol(info["name"])
        files.setdefault(entity, []).append(name)
        found.setdefault(entity, url)
    for entity, names in files.items():  # which one is meant is not ours to guess: neither is read
        if len(names) > 1:
            del found[entity]
            reason = f"entity {entity!r} has {len(names)} files ({', '.join(map(repr, names))}); keep one"
            skipped.extend({"file": name, "entity": entity, "reason": reason} for name in names)
    if not found:
        why = f"; skipped {skipped[0]['file']!r}: {skipped[0]['reason']}" if skipped else ""
        raise InvalidInputError(f"source {str(source)!r} holds no metrics files (one per entity: "
                                f"{', '.join(storage.METRIC_SUFFIXES)}, or a Prometheus export .json){why}")
    return Listing(tuple(sorted(found.items())), tuple(skipped), tuple(ignored))


def _prometheus_export(fs: Any, path: str) -> bool:
    """Whether the ``.json`` file at ``path`` is a Prometheus ``query_range`` answer (its first
    64 KB name a ``resultType``), which :func:`faultgraph.io.read_metrics` reads, rather than a
    README, config or index that happens to be JSON."""
    try:
        with fs.open(path, "rb") as fh:
            head = fh.read(1 << 16)
    except OSError:
        return False
    return b'"resultType"' in head


def _not_a_file(fs: Any, info: Mapping[str, Any]) -> str | None:
    """Why a listed entry with a metrics file's name cannot be read as one (``None``: it can).
    A symbolic link to a regular file is read through (local filesystems list it as ``other``)."""
    if info.get("type") == "file":
        return None
    if info.get("islink"):
        target = info.get("destination", "?")
        if fs.isfile(info["name"]):
            return None
        what = "is a folder" if fs.isdir(info["name"]) else "does not exist"
        return f"it is a symbolic link to {str(target)!r}, which {what}; a metrics file is needed"
    return f"it is no regular file ({info.get('type', 'unknown type')}); a metrics file is needed"


def list_entities(source: str | Path, *, entity_column: str | None = None, split_to: str | Path | None = None
                  ) -> list[tuple[str, str]]:
    """The entities of ``source`` and the file of each, in name order (:func:`scan_source`'s
    ``entities``; what it skipped or ignored is not listed).

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
        As :func:`scan_source`.
    """
    return list(scan_source(source, entity_column=entity_column, split_to=split_to).entities)


def _split(source: str | Path, entity_column: str, split_to: str | Path) -> Listing:
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
    result, skipped = [], []
    for entity, rows in raw.groupby(raw[entity_column].astype(str), sort=True):
        problem = storage.entity_problem(entity)
        if problem is not None:
            skipped.append({"file": None, "entity": str(entity), "reason": f"{len(rows)} rows of entity_column "
                                                                           f"{entity_column!r}: {problem}"})
            continue
        url = storage.join(split_to, f"{entity}.csv")
        rows = rows.drop(columns=entity_column).dropna(axis=1, how="all")  # the other entities' metrics
        text = rows.to_csv(index=False, float_format="%.17g")
        storage.publish_file(lambda local, text=text: write_text_atomic(local, text), url)
        result.append((str(entity), url))
    if skipped and not result:
        raise InvalidInputError(f"entity_column {entity_column!r} of {str(source)!r} names no usable entity: "
                                f"{skipped[0]['reason']}")
    return Listing(tuple(result), tuple(skipped))


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


def _check_fit_config(config: FitConfig) -> None:
    """Refuse, before any work, the options every entity's fit would refuse (one error
    naming the option, not one per entity after the fleet has run)."""
    from faultgraph import workflows
    from faultgraph._validation import check_choice, check_nonnegative, check_whole
    from faultgraph.config import Learner, values
    from faultgraph.discovery.ensemble import check_bootstrap

    detector = config.detector
    check_choice("method", str(detector.method), values(Learner))
    check_nonnegative("threshold", detector.threshold)
    if detector.lambda1 is not None:
        check_nonnegative("lambda1", detector.lambda1)
    if config.label is None:
        workflows.detector_from_config(detector).validate_params()  # lags, max_gap, risk, windows, ...
    else:  # a label model reads the learner's options and max_gap of the detector
        check_whole("max_gap", detector.max_gap, 0, "steps")
        check_whole("label_lags", config.label_lags, 0, "past steps")
        check_bootstrap(config.bootstrap, "bootstrap")


def _check_resample(resample: Any) -> None:
    """Refuse a resampling step that no entity's data could take: neither a number > 0 (index
    units on a numeric index, seconds on a time one) nor a positive duration (``'1min'``);
    whether it suits each file's index is that file's (:func:`faultgraph.encode.align`)."""
    from faultgraph.encode.align import _as_timedelta

    if resample is None:
        return
    try:
        _as_timedelta(resample, "resample", numeric=True)
    except InvalidInputError:
        _as_timedelta(resample, "resample", numeric=False)  # not a number either: the duration's message


def _is_scores_file(name: str) -> bool:
    """Whether ``name`` (relative to a scores folder) is an ``<entity>.csv`` of ``fleet detect``."""
    return "/" not in name and name.endswith(".csv") and storage.entity_problem(name[:-4]) is None


def _is_rca_file(name: str) -> bool:
    """Whether ``name`` (relative to an explain folder) is an ``<entity>/incident-<n>.rca.json``."""
    import re

    parts = name.split("/")
    return (len(parts) == 2 and storage.entity_problem(parts[0]) is None
            and re.fullmatch(r"incident-[0-9]+\.rca\.json", parts[1]) is not None)


def _listed_files(out: str, index: str, entries: str | None = None) -> list[str]:
    """The outputs the previous run listed in ``out/index`` (its ``files``: names relative to
    ``out``); an index written before ``files`` existed: the ``file`` of its ``entries`` that
    lie in ``out``. Nothing when there is no such index."""
    document = storage.read_json(storage.join(out, index))
    if not isinstance(document, dict):
        return []
    if isinstance(document.get("files"), list):
        return [f for f in document["files"] if isinstance(f, str)]
    prefix = out.rstrip("/") + "/"
    listed = document.get(entries) if entries is not None else None
    return [e["file"][len(prefix):] for e in (listed if isinstance(listed, list) else [])
            if isinstance(e, dict) and isinstance(e.get("file"), str) and e["file"].startswith(prefix)]


def _remove_stale(out: str, previous: Sequence[str], written: set[str], ours: Callable[[str], bool]
                  ) -> tuple[list[str], list[str]]:
    """Delete the outputs the previous run listed that this run did not write again.

    Only names that have the form of this job's outputs (``ours``) are touched: a file the
    fleet did not write is never deleted, nor one that differs from a name written now only
    in case or Unicode form (the same file on many disks). Returns the removed names and those
    kept (not removable, or such a name): they stay listed, for the next run."""
    import unicodedata

    def folded(name: str) -> str:  # one file on a disk that ignores case or Unicode form (macOS, Windows)
        return unicodedata.normalize("NFC", name).casefold()

    fresh = {folded(w) for w in written}
    removed, kept = [], []
    for name in sorted(set(previous) - written):
        if not ours(name):
            continue
        if folded(name) in fresh:  # "Web.csv" may be this run's "web.csv": kept, and still listed
            kept.append(name)
            continue
        try:
            if storage.remove(storage.join(out, name)):
                removed.append(name)
        except OSError:
            kept.append(name)
            continue
        if "/" in name and storage.is_local(out):  # an entity's folder left empty goes too
            try:
                Path(storage.url_fs(storage.join(out, name.rsplit("/", 1)[0]))[1]).rmdir()
            except OSError:
                pass  # not empty: it holds this run's files (or someone else's)
    return removed, kept


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
        ``error``) and the others go on; so are the source's skipped and ignored files.
        Models of entities absent from ``source`` are left alone (a fit of part of the
        fleet keeps the others' models).

    Raises
    ------
    InvalidInputError
        Before any work: when ``config`` is not a FitConfig or holds an option no fit takes
        (a ``threshold`` or ``lambda1`` below 0, a ``risk`` outside (0, 1), an unknown
        ``method``, ...), ``resample`` is no step, ``prior`` is no prior (see
        :meth:`~faultgraph.discovery.PriorKnowledge.coerce`), or ``source`` holds
        no entities (see :func:`scan_source`).
    """
    t0 = time.perf_counter()
    if not isinstance(config, FitConfig):
        raise InvalidInputError(f"config must be a faultgraph.config.FitConfig, got {type(config).__name__}")
    _check_fit_config(config)
    _check_resample(resample)
    prior_obj = _coerce_prior(prior)
    source, out = _where(source), _where(out)
    listing = scan_source(source, entity_column=entity_column, split_to=storage.join(out, SPLIT_FOLDER))
    entities = listing.entities
    tasks = [FitTask(e, url, storage.join(out, e), config, prior_obj, resample, force) for e, url in entities]
    results = _run(fit_entity, tasks, [e for e, _ in entities], scheduler, n_workers, progress, client)
    return FleetResult("fit", _outcomes(results, "fitted"), time.perf_counter() - t0, skipped=listing.skipped,
                       ignored=listing.ignored)


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
    ``out/incidents.json``: every entity's alarm periods, newest first, the entities
    that failed, the source's skipped files and ``files``, the scores files of this run.
    An entity without a model, or whose data fails, is reported and the others go on.
    The scores files that the previous run into ``out`` listed and this run did not write
    (entities gone from ``source``, or failed this time) are deleted; no other file is.

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
        Before any work: when ``merge_gap`` is not an integer >= 0, ``resample`` is no step,
        or ``source`` holds no entities (see :func:`scan_source`).
    """
    from faultgraph._validation import check_whole
    from faultgraph.io import write_json_atomic

    check_whole("merge_gap", merge_gap, 0, "quiet steps")
    _check_resample(resample)
    t0 = time.perf_counter()
    models, source, out = _where(models), _where(source), _where(out)
    listing = scan_source(source, entity_column=entity_column, split_to=storage.join(out, SPLIT_FOLDER))
    entities = listing.entities
    tasks = [DetectTask(e, url, storage.join(models, e), storage.join(out, f"{e}.csv"), resample, merge_gap)
             for e, url in entities]
    results = _run(detect_entity, tasks, [e for e, _ in entities], scheduler, n_workers, progress, client)
    outcomes = _outcomes(results, "scored")
    incidents = newest_first([i for o in outcomes for i in o.info.get("_incidents", ())])
    outcomes = tuple(EntityOutcome(o.entity, o.status, o.error, {k: v for k, v in o.info.items()
                                                                if not k.startswith("_")}) for o in outcomes)
    written = {f"{o.entity}.csv" for o in outcomes if o.ok}
    removed, kept = _remove_stale(out, _listed_files(out, INCIDENTS), written, _is_scores_file)
    result = FleetResult("detect", outcomes, time.perf_counter() - t0, tuple(incidents), skipped=listing.skipped,
                         ignored=listing.ignored, removed=tuple(removed))
    document = {"incidents": incidents, "entities": len(outcomes),
                "failed": [{"entity": o.entity, "error": o.error} for o in result.failed],
                "skipped": [dict(s) for s in listing.skipped], "files": sorted(written | set(kept))}
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
    incidents.json's order, with ``files``, the rca.json files of this run. The rca.json
    files that the previous run into ``out`` listed and this run did not write (incidents
    no longer in incidents.json or beyond ``limit``, failed this time) are deleted, so that
    no explanation of another incident list is taken for this one's; no other file is.

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
        One outcome per entity with incidents (an entity without a metrics file fails) and
        the index as ``explanations``; an incident that could not be explained makes it not
        ``ok``.

    Raises
    ------
    InvalidInputError
        Before any work: when ``limit`` is not an integer >= 1, ``config`` is no
        ExplainConfig or holds an option no explanation takes (``min_steps`` below 1, an
        unknown ``method``), ``resample`` is no step, ``incidents`` is no incidents.json of
        ``fleet detect``, or ``source`` holds no entities.
    """
    from faultgraph._validation import check_choice, check_whole
    from faultgraph.config import RankingScales, RcaMethod, values
    from faultgraph.io import write_json_atomic

    check_whole("limit", limit, 1, "None: all incidents", optional=True)
    if not isinstance(config, ExplainConfig):
        raise InvalidInputError(f"config must be a faultgraph.config.ExplainConfig, got {type(config).__name__}")
    check_whole("min_steps", config.min_steps, 1, "steps of an explained window")
    if config.method is not None:
        check_choice("method", str(config.method), values(RcaMethod))
    if config.scales is not None:
        check_choice("scales", str(config.scales), values(RankingScales))
    _check_resample(resample)
    t0 = time.perf_counter()
    models, source, incidents, out = _where(models), _where(source), _where(incidents), _where(out)
    chosen = list(enumerate(_read_incidents(incidents)))[:limit]
    listing = scan_source(source, entity_column=entity_column, split_to=storage.join(out, SPLIT_FOLDER))
    files = dict(listing.entities)
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
    written = {f"{e['entity']}/incident-{e['incident']}.rca.json" for e in explained if e.get("file")}
    removed, kept = _remove_stale(out, _listed_files(out, EXPLANATIONS, "explanations"), written, _is_rca_file)
    document = {"explanations": explained, "files": sorted(written | set(kept))}
    storage.publish_file(lambda path: write_json_atomic(path, document), storage.join(out, EXPLANATIONS))
    return FleetResult("explain", tuple(outcomes), time.perf_counter() - t0, skipped=listing.skipped,
                       ignored=listing.ignored, explanations=tuple(explained), removed=tuple(removed))
