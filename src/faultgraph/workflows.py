"""The workflows under the command line, the service and the fleet.

Each function is one thing a user asks for – read metrics, learn a graph, fit a model,
load one, detect, explain a window or a case, render the report – as
``(inputs, config) -> result``. The CLI makes one call per command, the service one per
route and the fleet one per entity, so all three do the same work with the same
defaults (:mod:`faultgraph.config`).

The rca.json document is :class:`RcaDocument` (``to_dict``/``from_dict``); detected alarm
periods are :class:`Incident` s.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace as _replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faultgraph.config import DetectorConfig, ExplainConfig, FitConfig, LearnConfig, RankingScales, values
from faultgraph.errors import InvalidInputError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from faultgraph.detect import CausalDetector, FaultIdentifier
    from faultgraph.discovery import LearnedGraph, PriorKnowledge
    from faultgraph.rca import Explanation

__all__ = [
    "ENSEMBLE_HOLDS",
    "Detection",
    "EnsembleGraphResult",
    "GraphResult",
    "Incident",
    "RcaDocument",
    "detect",
    "detection_summary",
    "detector_from_config",
    "effects_document",
    "effects_report",
    "explain_case",
    "explain_window",
    "export_graph",
    "find_incidents",
    "fit_label_model",
    "fit_limits",
    "fit_model",
    "fit_summary",
    "incident_window",
    "incident_windows",
    "incidents_table",
    "learn_graph",
    "learn_graph_ensemble",
    "load_metrics",
    "load_model",
    "load_prior",
    "model_summary",
    "model_task",
    "redo_explanation",
    "render_report",
    "score_against",
    "service_names",
    "write_explanation",
]


# --- reading ------------------------------------------------------------------------------

def load_metrics(path: str | Path, *, resample: str | float | None = None, model: Any = None,
                 max_gap: int | None = None) -> pd.DataFrame:
    """Read a metrics file (CSV or Parquet, wide or long; :func:`faultgraph.io.read_metrics`).

    With ``resample`` the metrics are put on a grid causally (the last value at or before
    each grid time, :func:`faultgraph.encode.align`), and the reader's advice to resample
    (a ``SamplingWarning``) is silenced. Without it, given the ``model`` the data are for:
    time-stamped data at another step than the model's training data (its encoder's
    ``step_``) are put on the model's step, with a ``SamplingWarning`` that says so (its
    lags and windows count rows: at another step they would mean other durations).

    Parameters
    ----------
    path : str or Path
        The metrics file.
    resample : str or float, optional
        A grid step (``"1min"``, ``"30s"``, or a number: seconds for a time column, index
        units for a numeric one). None: as read, or the model's step.
    model : CausalDetector or FaultIdentifier, optional
        The fitted model that will read the data.
    max_gap : int, optional
        The longest run of missing steps the data will be filled over (a fit's
        ``max_gap``); default the model's, else the encoder's default. With ``resample``,
        a step so fine that the grid's empty runs would be longer is refused
        (:func:`faultgraph.encode.align.check_step`).

    Returns
    -------
    DataFrame
        The metrics frame, one column per metric, in time order.

    Raises
    ------
    InvalidInputError
        When the file cannot be read as metrics, or ``resample`` is not a valid step for
        its index (see :func:`faultgraph.encode.align`) or is finer than its samples
        (:func:`faultgraph.encode.align.check_step`).
    """
    from faultgraph.encode import align
    from faultgraph.encode.align import check_step, index_step, same_step
    from faultgraph.errors import SamplingWarning
    from faultgraph.io import read_metrics

    if resample is None:
        frame = read_metrics(path)
        fitted = getattr(getattr(model, "encoder_", None), "step_", None)
        step = index_step(frame.index)
        if same_step(fitted, step):
            return frame
        warnings.warn(f"{path}: its rows are {step:g} s apart, the model's training rows {fitted:g} s: put on the "
                      f"model's step of {fitted:g} s (another step: --resample STEP, resample= in Python)",
                      SamplingWarning, stacklevel=2)
        # each grid time repeats the last sample before it (nothing from the future), for up
        # to two of the data's own steps: coarser data left NaN beyond 2 model steps were filled
        # by interpolating towards the next sample, an incident starting before its fault
        return _whole_steps(align(frame, float(fitted), max_gap=2.0 * max(float(fitted), float(step))))

    with warnings.catch_warnings():  # the advice "resample it" is being followed
        warnings.simplefilter("ignore", SamplingWarning)
        frame = read_metrics(path)
    if max_gap is None:
        max_gap = getattr(getattr(model, "encoder_", None), "max_gap", None)
    check_step(frame, resample, max_gap)  # not so fine that the grid's empty runs outlast the fill
    return _whole_steps(align(frame, resample))


def _whole_steps(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with a numeric index of whole numbers (row positions put on a grid of whole
    steps, which :func:`faultgraph.encode.align` returns as floats) as integers, as the reader
    gives untimed rows: steps print and are written as ``1519``, not ``1519.0``. A time index,
    or one with a fractional step, is returned as it is."""
    import numpy as np
    import pandas as pd

    index = frame.index
    if isinstance(index, pd.DatetimeIndex) or not pd.api.types.is_float_dtype(index) or len(index) == 0:
        return frame
    values = index.to_numpy(dtype=float)
    if not (np.isfinite(values).all() and (values == np.round(values)).all() and np.abs(values).max() < 2 ** 53):
        return frame
    return frame.set_axis(pd.Index(values.astype(np.int64), name=index.name), axis=0)


def load_prior(path: str | Path | None, *, graph: str | Path | None = None,
               metrics: Any = None) -> PriorKnowledge | None:
    """A YAML prior and/or a known graph read from an edge-list file; None when neither is given.

    The YAML file is read by :meth:`faultgraph.PriorKnowledge.from_yaml`; the graph by
    :meth:`~faultgraph.PriorKnowledge.read_graph` and used as given (its edges and no
    other).

    Parameters
    ----------
    path : str, Path or None
        The YAML prior file.
    graph : str, Path or None, default None
        A CSV of ``cause,effect`` rows or a graph.json.
    metrics : iterable of str, optional
        The data's metrics (a graph CSV whose header row names two of them is refused).

    Returns
    -------
    PriorKnowledge or None

    Raises
    ------
    InvalidInputError
        When a file cannot be read or is invalid, or both name a graph (the YAML's
        ``graph:`` and ``graph``: which one is meant is the user's to say).
    """
    if path is None and graph is None:
        return None
    from faultgraph.discovery import PriorKnowledge

    prior = PriorKnowledge.from_yaml(path) if path is not None else PriorKnowledge()
    if graph is not None and prior.graph is not None:
        raise InvalidInputError(f"the prior {str(path)!r} gives a graph (graph:) and so does --graph {str(graph)!r}: "
                                "give the graph in one of them")
    names = None if metrics is None else [str(m) for m in metrics]
    return prior.with_graph(PriorKnowledge.read_graph(graph, names) if graph is not None else None)


def service_names(metrics: Any, service_map: str | Path | None = None) -> dict[str, str] | None:
    """``{metric: service}`` from a service map file (:func:`faultgraph.services.services_for`:
    Prometheus labels first, then the map's rules, then the name rule); ``None`` without a
    map (``explain`` then uses the labels and the name rule alone). A rule that matches none
    of ``metrics`` is named in a warning, with the file (a map written for other names
    would otherwise change nothing, silently).

    Parameters
    ----------
    metrics : iterable of str
        The metric names.
    service_map : str or Path, optional
        A YAML file of ``pattern: service`` rules (globs, or ``re:`` regexes).
    """
    if service_map is None:
        return None
    from faultgraph._validation import describe_names
    from faultgraph.services import load_service_map, services_for

    names = [str(m) for m in metrics]
    rules = load_service_map(service_map)
    unmatched = rules.unmatched(names)
    if unmatched:  # a map written for other names (a typo, labels left off) would change nothing, silently
        what = (f"none of its {len(rules.rules)} rules matches a metric of the data, so it names no service (the "
                "labels and the name rule name them all)" if len(unmatched) == len(rules.rules) else
                f"{len(unmatched)} of its {len(rules.rules)} rules match{'es' if len(unmatched) == 1 else ''} no "
                "metric of the data")
        shown = describe_names(unmatched, 6, lambda rule: f"{rule[0]!r} -> {rule[1]}")
        warnings.warn(f"service map {str(service_map)!r}: {what}: {shown}; a glob must match a whole metric name, "
                      f"labels included, and a re: pattern is searched in it; the metrics are named like "
                      f"{describe_names(names, 3)}", UserWarning, stacklevel=2)
    return services_for(names, service_map=rules)


def fit_limits(force: bool = False) -> Any:
    """The context in which fits run: the time and memory budget of
    :mod:`faultgraph._budget` (refusing, up front, fits that cannot finish).

    Parameters
    ----------
    force : bool, default False
        Lift the budget but for memory.

    Returns
    -------
    context manager
        ``with fit_limits(force): ...``
    """
    from faultgraph._budget import limits

    return limits(force=True) if force else limits()


# --- learning -----------------------------------------------------------------------------

@dataclass(frozen=True)
class GraphResult:
    """A learned graph and what the encoder dropped on the way (metric → reason)."""

    graph: LearnedGraph
    dropped: Mapping[str, str]
    accuracy: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """graph.json: the graph's fields, plus ``accuracy`` when a truth was given."""
        result = self.graph.to_dict()
        if self.accuracy is not None:
            result["accuracy"] = dict(self.accuracy)
        return result


def learn_graph(frame: pd.DataFrame, config: LearnConfig = LearnConfig(), *, prior: PriorKnowledge | None = None,
                truth: str | Path | None = None, callback: Callable[[dict[str, Any]], None] | None = None,
                force: bool = False) -> GraphResult:
    """Encode ``frame`` and learn its causal graph.

    The metrics go through :class:`~faultgraph.MetricEncoder` (robust scaling when
    ``config.standardize``, else none) and then :class:`~faultgraph.StructureLearner`
    (NOTEARS or DAGMA, ``config.method``); the learned graph is scored against ``truth``
    when given.

    Parameters
    ----------
    frame : DataFrame
        Metrics, one column each.
    config : LearnConfig, default LearnConfig()
        The learner's options (:class:`~faultgraph.config.LearnConfig`).
    prior : PriorKnowledge, optional
        Forbidden/required edges, tiers, sinks, sources, a known graph.
    truth : str or Path, optional
        A truth.json (``nodes``, ``edges``) to score the learned graph against.
    callback : callable, optional
        Called with the learner's progress (``step``, ``steps``, ``h``, …).
    force : bool, default False
        Fit even where the budget check (:mod:`faultgraph._budget`) refuses: fewer rows than
        candidate parents, or an estimated time past the limit; never past the memory limit.

    Returns
    -------
    GraphResult
        The graph, the metrics the encoder dropped and, with ``truth``, the accuracy.

    Raises
    ------
    InvalidInputError
        When ``frame`` or ``config`` is invalid, or ``truth`` is unreadable or names
        metrics the graph lacks.
    """
    from faultgraph.detect.unsupervised import _modelled_prior
    from faultgraph.discovery import PriorKnowledge, StructureLearner
    from faultgraph.encode import MetricEncoder

    encoder = MetricEncoder(max_gap=config.max_gap, scale="robust" if config.standardize else None)
    encoded = encoder.fit_transform(frame)
    # what the prior says of metrics the encoder dropped (constant, empty) is left out, as fit does
    prior = _modelled_prior(PriorKnowledge.coerce(prior), list(encoded.columns), dict(encoder.dropped_), stacklevel=3)
    learner = StructureLearner(str(config.method), lambda1=config.lambda1, threshold=config.threshold,
                               standardize=config.standardize, prior=prior, lags=config.lags,
                               refine=config.refine, callback=callback, screen=config.screen, device=config.device)
    with fit_limits(force):
        learner.fit(encoded)
    accuracy = score_against(truth, learner.graph_).to_dict() if truth is not None else None
    return GraphResult(learner.graph_, dict(encoder.dropped_), accuracy)


def score_against(truth_path: str | Path, graph: LearnedGraph) -> Any:
    """The accuracy (:func:`faultgraph.graph_accuracy`) of ``graph`` against a truth.json.

    Parameters
    ----------
    truth_path : str or Path
        A truth.json with ``nodes`` and ``edges`` (each with ``source`` and ``target``), as
        ``faultgraph simulate graph`` writes it.
    graph : LearnedGraph
        The learned graph; must hold every node of the truth.

    Returns
    -------
    GraphAccuracy
        SHD, TPR, FDR, FPR and edge counts.

    Raises
    ------
    InvalidInputError
        When the file is unreadable, lacks a field, names metrics the graph lacks, or its
        graph has a cycle (``NotADAGError``).
    """
    import numpy as np

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


def detector_from_config(config: DetectorConfig = DetectorConfig(), *, prior: PriorKnowledge | None = None
                         ) -> CausalDetector:
    """An unfitted :class:`~faultgraph.detect.CausalDetector` with ``config``'s options.

    Parameters
    ----------
    config : DetectorConfig, default DetectorConfig()
        The detector's options; string choices are passed as plain strings.
    prior : PriorKnowledge, optional
        Prior knowledge about the graph.

    Returns
    -------
    CausalDetector
        Not fitted.
    """
    from faultgraph.detect import CausalDetector

    return CausalDetector(prior=prior, **{k: (str(v) if isinstance(v, str) else v)
                                          for k, v in config.to_dict().items()})


def fit_model(frame: pd.DataFrame, config: FitConfig = FitConfig(), *, prior: PriorKnowledge | None = None,
              force: bool = False, scheduler: str | None = None, n_workers: int | None = None,
              block: int | None = None, random_state: int | None = 0) -> CausalDetector | FaultIdentifier:
    """Fit a model on ``frame``.

    Without ``config.label`` a causal detector of normal behaviour (anomaly detection);
    with it a fault identifier of that 0/1 label (the paper's supervised setting, CGL-BFI
    eqs. 3–5; it reads ``method``, ``lambda1``, ``threshold`` and ``max_gap`` of
    ``config.detector``).

    Parameters
    ----------
    frame : DataFrame
        The training metrics (a healthy period for detection; with the label column for a
        label model).
    config : FitConfig, default FitConfig()
        ``label`` and the detector's options.
    prior : PriorKnowledge, optional
        Prior knowledge about the graph.
    force : bool, default False
        Fit even where the budget check (:mod:`faultgraph._budget`) refuses: fewer rows than
        candidate parents, or an estimated time past the limit; never past the memory limit.

    scheduler : str, optional
        A label model's ensemble (``config.bootstrap``) on this Dask scheduler; default a
        LocalCluster (or ``$FAULTGRAPH_SCHEDULER``).
    n_workers : int, optional
        Local workers for that ensemble; 0 runs it in this process.
    block : int, optional
        Rows per block of that ensemble's bootstrap; default chosen from the number of rows.
    random_state : int, optional, default 0
        Seed of that ensemble's resampling.

    Returns
    -------
    CausalDetector or FaultIdentifier
        The fitted estimator; ``save(folder)`` writes it.

    Raises
    ------
    InvalidInputError
        When ``frame`` or an option is invalid (see the estimators' ``fit``).
    """
    if config.label is None:
        with fit_limits(force):
            return detector_from_config(config.detector, prior=prior).fit(frame)
    with fit_limits(force):
        return fit_label_model(frame, config, prior=prior, lags=config.label_lags, bootstrap=config.bootstrap,
                               block=block, random_state=random_state, scheduler=scheduler, n_workers=n_workers)


def model_task(path: str | Path) -> str:
    """The task a model folder was fitted for.

    Parameters
    ----------
    path : str or Path
        The model folder.

    Returns
    -------
    str
        ``"unsupervised-detection"`` or ``"supervised-fault-identification"``.

    Raises
    ------
    InvalidInputError
        When the folder is missing, damaged or too new.
    """
    from faultgraph.io.model import load_model_meta

    return str(load_model_meta(path).get("task"))


def load_model(path: str | Path, *, task: str | None = None) -> CausalDetector | FaultIdentifier:
    """Read a model folder written by ``fit`` (either kind; with ``task``, only that kind).

    Parameters
    ----------
    path : str or Path
        The model folder.
    task : str, optional
        The task the model must have been fitted for (see :func:`model_task`).

    Returns
    -------
    CausalDetector or FaultIdentifier
        The fitted model.

    Raises
    ------
    InvalidInputError
        When the folder is missing, damaged or too new, or is a model of another ``task``.
    """
    from faultgraph.detect import CausalDetector, FaultIdentifier
    from faultgraph.detect.supervised import TASK as SUPERVISED

    found = model_task(path)
    if task is not None and found != task:
        from faultgraph.io.model import load_model_meta

        load_model_meta(path, task=task)  # raises the message for a model of another kind
    return FaultIdentifier.load(path) if found == SUPERVISED else CausalDetector.load(path)


# --- detection ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Incident:
    """One alarm period: its first and last step, the step and value of its highest score,
    and the metrics whose residuals deviated most in it (largest first)."""

    start: Any
    end: Any
    peak: Any
    peak_score: float
    steps: int
    top_metrics: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        from faultgraph.rca.ranking import _bound

        return {"start": _bound(self.start), "end": _bound(self.end), "peak": _bound(self.peak),
                "peak_score": float(self.peak_score), "steps": int(self.steps),
                "top_metrics": list(self.top_metrics)}


def find_incidents(scores: pd.DataFrame, *, merge_gap: int = 0, top: int = 5) -> list[Incident]:
    """The alarm periods of a detector's score table, oldest first.

    Runs of ``anomaly`` 1s (from :meth:`~faultgraph.detect.CausalDetector.score_samples`)
    at most ``merge_gap`` quiet steps apart are one incident; its peak is the step of its
    highest ``score`` (the first step when there is no ``score`` column).

    Parameters
    ----------
    scores : DataFrame
        The score table (``anomaly``, and optionally ``score`` and ``residual:<metric>``
        columns).
    merge_gap : int, default 0
        Runs of alarms at most this many quiet steps apart are one incident.
    top : int, default 5
        Metrics to name per incident, by their largest absolute residual in it.

    Returns
    -------
    list of Incident

    Raises
    ------
    InvalidInputError
        When ``scores`` has no ``anomaly`` column.
    """
    import numpy as np

    from faultgraph.evaluate.detection import label_segments

    if "anomaly" not in scores.columns:
        raise InvalidInputError("scores need an 'anomaly' column (a detector's score table)")
    runs: list[list[int]] = []
    for first, last in label_segments(scores["anomaly"].to_numpy()):
        if runs and first - runs[-1][1] - 1 <= merge_gap:
            runs[-1][1] = last
        else:
            runs.append([first, last])
    residuals = scores.filter(like="residual:")
    names = [c.removeprefix("residual:") for c in residuals.columns]
    R = np.abs(residuals.to_numpy(dtype=float))
    score = scores["score"].to_numpy(dtype=float) if "score" in scores.columns else np.zeros(len(scores))
    incidents = []
    for first, last in runs:
        peak = first + int(np.argmax(score[first:last + 1]))
        worst = np.nanmax(R[first:last + 1], axis=0) if R.size else np.zeros(0)
        order = [j for j in np.argsort(-np.nan_to_num(worst, nan=-1.0), kind="stable")[:top]]
        incidents.append(Incident(scores.index[first], scores.index[last], scores.index[peak], float(score[peak]),
                                  last - first + 1, tuple(names[j] for j in order)))
    return incidents


@dataclass(frozen=True)
class Detection:
    """What ``detect`` found: the score table as ``detect`` writes it, the model's task,
    the threshold, and (unsupervised) the alarm periods."""

    table: pd.DataFrame
    task: str
    threshold: float
    incidents: tuple[Incident, ...] = ()
    labels: Any = field(default=None, repr=False)
    constants: Mapping[str, float] = field(default_factory=dict, repr=False)

    @property
    def alarms(self) -> int:
        """Steps (unsupervised) or rows (supervised) flagged."""
        column = "anomaly" if "anomaly" in self.table.columns else "decision"
        return int(self.table[column].sum())

    def moved_constants(self, limit: int = 10) -> list[str]:
        """One phrase per metric constant in training that left its value, most steps first.

        Reads the ``constant:<metric>`` columns (see
        :func:`faultgraph.encode.constant_moves`).

        Parameters
        ----------
        limit : int, default 10
            Most phrases listed; the rest are counted in a last ``"and N more"``.

        Returns
        -------
        list of str
            Phrases such as ``"disk (at 0 in training; off it at 12 steps, by up to 3)"``;
            empty when none moved.
        """
        import numpy as np

        from faultgraph.encode import constant_moves

        departures = self.table.filter(like="constant:")
        metrics = [c.removeprefix("constant:") for c in departures.columns]
        if not metrics:
            return []
        values = np.array([self.constants[m] for m in metrics])
        steps = constant_moves(departures.to_numpy(), values).sum(axis=0)
        phrases = [f"{metrics[j]} (at {values[j]:g} in training; off it at {int(steps[j])} steps, by up to "
                   f"{departures.iloc[:, j].abs().max():g})" for j in np.argsort(-steps, kind="stable") if steps[j]]
        return phrases[:limit] + ([f"and {len(phrases) - limit} more"] if len(phrases) > limit else [])


def detect(model: CausalDetector | FaultIdentifier, frame: pd.DataFrame, *, merge_gap: int = 0) -> Detection:
    """Score every row of ``frame`` with a fitted model.

    Unsupervised models give ``score``, ``anomaly`` (0/1), ``background``, one
    ``residual:<metric>`` column per metric and one ``constant:<metric>`` column per metric
    constant in training, and the alarm periods (:func:`find_incidents`); label models give
    ``probability`` and ``decision`` (and ``labels``, the label column, when ``frame``
    holds it).

    Parameters
    ----------
    model : CausalDetector or FaultIdentifier
        A fitted model (:func:`load_model`).
    frame : DataFrame
        The metrics to score; it must hold the model's metrics.
    merge_gap : int, default 0
        Alarm runs at most this many quiet steps apart are one incident (unsupervised).

    Returns
    -------
    Detection
        The table, the task, the threshold and the incidents.

    Raises
    ------
    InvalidInputError
        When ``frame`` lacks the model's metrics or is malformed.
    """
    import pandas as pd

    from faultgraph.detect import FaultIdentifier

    if isinstance(model, FaultIdentifier):
        proba = model.predict_proba(frame)
        decision = (proba >= model.decision_threshold_).astype(int)
        table = pd.DataFrame({"probability": proba, "decision": decision}, index=frame.index)
        labels = frame[model.label].to_numpy() if model.label in frame.columns else None
        from faultgraph.detect.supervised import TASK

        return Detection(table, TASK, float(model.decision_threshold_), labels=labels)
    from faultgraph.detect.unsupervised import TASK

    table = model.score_samples(frame)
    return Detection(table, TASK, float(model.threshold_), tuple(find_incidents(table, merge_gap=merge_gap)),
                     constants=dict(model.encoder_.constants_))


def incident_window(incident: Incident, index: pd.Index, min_steps: int = ExplainConfig().min_steps
                    ) -> tuple[Any, Any]:
    """``incident``'s first and last step, widened to ``min_steps`` rows of ``index``.

    A short alarm is widened forwards, then backwards where the data ends, so it can be
    explained.

    Parameters
    ----------
    incident : Incident
        An alarm period from :func:`find_incidents`.
    index : pandas.Index
        The index of the frame the incident was found in.
    min_steps : int, default ``ExplainConfig().min_steps``
        The fewest rows of the window.

    Returns
    -------
    tuple of (object, object)
        ``(start, end)``, values of ``index``.

    Raises
    ------
    InvalidInputError
        When the incident's start or end is not in ``index``.
    """
    first, last = index.get_indexer([incident.start])[0], index.get_indexer([incident.end])[0]
    if first < 0 or last < 0:
        raise InvalidInputError(f"incident {incident.start} .. {incident.end} is not in the data")
    short = min_steps - (last - first + 1)
    if short > 0:
        last = min(len(index) - 1, last + short)
        first = max(0, last - min_steps + 1)
    return index[first], index[last]


# --- explaining ---------------------------------------------------------------------------

@dataclass(frozen=True)
class RcaDocument:
    """rca.json: an explanation (:class:`~faultgraph.rca.Explanation`) with where it came
    from (``data``, ``normal``, ``resample``, ``reference_window``), so ``report`` can redo
    it (with the explanation's ``method`` and ``scales``)."""

    explanation: Explanation
    data: str | None = None
    normal: str | None = None
    resample: str | None = None
    reference_window: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The rca.json fields (the explanation's, then the provenance given); a step that
        is a whole number (a row position on a float index) is written as an integer."""
        payload = {**self.explanation.to_dict()}
        for key in ("window", "reference"):
            if payload.get(key) is not None:
                payload[key] = [_whole(v) for v in payload[key]]
        payload["causes"] = [{**c, "onset": _whole(c.get("onset"))} for c in payload["causes"]]
        if self.data is not None:
            payload["data"] = self.data
        if self.normal is not None:
            payload["normal"] = self.normal
        if self.resample is not None:
            payload["resample"] = self.resample
        if self.reference_window is not None:
            payload["reference_window"] = self.reference_window
        return payload

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any], where: str = "rca.json") -> RcaDocument:
        """The document ``to_dict`` wrote (read back from rca.json): ``to_dict`` of the result
        equals ``spec`` (one written before rca.json recorded ``scales`` gains
        ``"scales": "model"``). ``None`` scores are infinite for a metric constant in training (its
        any move is news) and missing (NaN) otherwise, as ``to_dict`` wrote them.

        Parameters
        ----------
        spec : mapping
            The parsed rca.json.
        where : str, default "rca.json"
            What ``spec`` is called in error messages.

        Returns
        -------
        RcaDocument

        Raises
        ------
        InvalidInputError
            When ``spec`` is not an rca.json ``explain`` wrote.
        """
        from faultgraph.rca import Cause, Explanation

        request = cls.request_from_dict(spec, where)

        def number(value: Any, missing: float = float("nan")) -> float:
            return missing if value is None else float(value)

        def moment(value: Any) -> Any:
            """An onset as explain had it: a time written as text is a time again (a report
            compares it with the data's index); a whole number written as ``1519.0`` (an
            rca.json written before steps were kept whole) is ``1519``."""
            if not isinstance(value, str):
                return _whole(value)
            import pandas as pd

            try:
                return pd.Timestamp(value)
            except ValueError:
                return value

        try:
            causes = tuple(Cause(
                c["metric"], c["service"],
                number(c["score"], float("inf") if c.get("constant_value") is not None else float("nan")),
                number(c["noise_z"]), float(c["effect_on_target"]), tuple(c["path"]),
                number(c.get("innovation_z")),  # absent from rca.json written before they were kept: NaN
                number(c.get("deviation_z")), c.get("constant_value"), c.get("largest_departure"),
                moment(c.get("onset")), bool(c.get("onset_censored", False))) for c in spec["causes"])
            services = tuple((str(e["service"]), number(e["score"], float("inf"))) for e in spec["services"])
            reference = tuple(spec["reference"]) if spec.get("reference") is not None else None
            flagged = tuple((str(m), str(why)) for m, why in dict(spec.get("flagged") or {}).items())
            explanation = Explanation(causes, request["target"], tuple(request["window"]), request["method"],
                                      services, float(spec.get("elapsed_s", 0.0)), reference,  # type: ignore[arg-type]
                                      int(request["reference_window"] or 0), flagged,
                                      tuple((str(m), str(why)) for m, why in dict(spec.get("caveats") or {}).items()),
                                      request["scales"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"{where} is not an rca.json written by `faultgraph explain`: a cause or service "
                                    f"lacks a field or holds a bad value ({type(exc).__name__}: {exc})") from None
        return cls(explanation, spec.get("data"), spec.get("normal"), spec.get("resample"),
                   spec.get("reference_window"))

    @staticmethod
    def request_from_dict(spec: Any, where: str = "rca.json") -> dict[str, Any]:
        """What an rca.json asks to be explained again.

        Parameters
        ----------
        spec : dict
            The parsed rca.json.
        where : str, default "rca.json"
            What ``spec`` is called in error messages (its path, say).

        Returns
        -------
        dict
            ``window`` (a ``(start, end)`` pair), ``target``, ``method``, ``data``,
            ``resample`` and ``reference_window`` (the last three None when absent), and
            ``scales`` (``"model"`` when absent: an rca.json written before it recorded its
            scales was ranked on the model's, then the default).

        Raises
        ------
        InvalidInputError
            When ``spec`` lacks ``window``, ``target`` or ``method``, or ``window`` is not a
            two-element list.
        """
        if not isinstance(spec, dict):
            raise InvalidInputError(f"{where} is not an rca.json written by `faultgraph explain`: it holds a "
                                    f"{type(spec).__name__}, not an object")
        missing = [key for key in ("window", "target", "method") if key not in spec]
        if missing:
            raise InvalidInputError(f"{where} is not an rca.json written by `faultgraph explain`: it lacks the "
                                    f"field{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
        window, target, method = spec["window"], spec["target"], spec["method"]
        if not isinstance(window, list) or len(window) != 2:
            raise InvalidInputError(f"{where} is not an rca.json written by `faultgraph explain`: window must be a "
                                    f"[start, end] pair, got {window!r}")
        scales = spec.get("scales", "model")
        if scales not in values(RankingScales):
            raise InvalidInputError(f"{where} is not an rca.json written by `faultgraph explain`: scales must be one "
                                    f"of {', '.join(values(RankingScales))}, got {scales!r}")
        return {"window": (window[0], window[1]), "target": target, "method": method, "data": spec.get("data"),
                "resample": spec.get("resample"), "reference_window": spec.get("reference_window"),
                "scales": scales}


def _whole(value: Any) -> Any:
    """A step for rca.json: a float that is a whole number as an int (``1519.0`` -> ``1519``);
    anything else as it is."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 53:
        return int(value)
    return value


def explain_window(model: CausalDetector, frame: pd.DataFrame, window: tuple[Any, Any] | None = None,
                   config: ExplainConfig = ExplainConfig(), *, services: Any = None) -> Explanation:
    """Rank the root causes of the anomaly in ``window`` (:func:`faultgraph.rca.explain`).

    Parameters
    ----------
    model : CausalDetector
        A fitted causal detector.
    frame : DataFrame
        Metrics covering the window (and the rows before it that give its past).
    window : tuple of (object, object), optional
        ``(start, end)`` in ``frame``'s index, inclusive; a bound that is None (or no
        window) is the first or last row.
    config : ExplainConfig, default ExplainConfig()
        Target, method, reference window, paths, fewest steps.
    services : mapping or callable, optional
        Metric → service; default: from the names.

    Returns
    -------
    Explanation
        The ranked root causes and their propagation paths.

    Raises
    ------
    InvalidInputError
        When the window is not in ``frame``, too short, or an option is invalid, or
        ``config.target`` is a metric the model left out (constant in training, say).

    Warns
    -----
    UserWarning
        When the symptom held one value over the window and the step before it (a
        ``--target`` that did not move): the explanation is about a flat symptom, and its
        ``caveats`` say so.
    """
    from faultgraph.rca import explain
    from faultgraph.rca.ranking import check_target

    first, last = window if window is not None else (None, None)
    bounds = (frame.index[0] if first is None else first, frame.index[-1] if last is None else last)
    check_target(model, config.target)  # before any work
    return explain(model, frame, bounds, config.target,
                   method=str(config.method) if config.method is not None else None, services=services,
                   n_paths=config.n_paths, min_steps=config.min_steps, reference_window=config.reference_window,
                   scales=str(config.scales) if config.scales is not None else None)


def explain_case(normal: pd.DataFrame, anomalous: pd.DataFrame, window: tuple[Any, Any] | None = None,
                 config: ExplainConfig = ExplainConfig(), *, detector: DetectorConfig = DetectorConfig(),
                 prior: PriorKnowledge | None = None, force: bool = False, services: Any = None
                 ) -> tuple[CausalDetector, Explanation]:
    """Case mode: fit a causal detector on ``normal`` and explain ``window`` of ``anomalous``.

    Parameters
    ----------
    normal : DataFrame
        The normal period, to fit on.
    anomalous : DataFrame
        The anomalous period; the same metrics as ``normal``.
    window : tuple of (object, object), optional
        ``(start, end)`` in ``anomalous``'s index; default all of it.
    config : ExplainConfig, default ExplainConfig()
        Target, method, reference window, paths, fewest steps.
    detector : DetectorConfig, default DetectorConfig()
        The detector's options.
    prior : PriorKnowledge, optional
        Prior knowledge about the graph.
    force : bool, default False
        Fit even where the budget check (:mod:`faultgraph._budget`) refuses: fewer rows than
        candidate parents, or an estimated time past the limit; never past the memory limit.
    services : mapping or callable, optional
        Metric → service (:func:`service_names`); default from the labels and names.

    Returns
    -------
    tuple of (CausalDetector, Explanation)
        The fitted detector and the explanation.

    Raises
    ------
    InvalidInputError
        When the two periods have different metrics, or as :func:`fit_model` and
        :func:`explain_window`.
    """
    from faultgraph.datasets import check_same_metrics

    check_same_metrics(normal, anomalous)
    with fit_limits(force):
        model = detector_from_config(detector, prior=prior).fit(normal)
    return model, explain_window(model, anomalous, window, config, services=services)


def render_report(model: CausalDetector, frame: pd.DataFrame, explanation: Explanation, *,
                  normal: pd.DataFrame | None = None) -> str:
    """The incident report, a self-contained HTML page.

    Parameters
    ----------
    model : CausalDetector
        The fitted detector that gave ``explanation``.
    frame : DataFrame
        The metrics the explanation was computed on.
    explanation : Explanation
        From :func:`explain_window`.
    normal : DataFrame, optional
        A normal period to draw beside the incident (case mode).

    Returns
    -------
    str
        The HTML document.
    """
    from faultgraph.report import render_incident_report

    return render_incident_report(model, frame, explanation, normal=normal)


# --- model folders ------------------------------------------------------------------------

def model_summary(path: str | Path) -> dict[str, Any]:
    """What a model folder is.

    Parameters
    ----------
    path : str or Path
        The model folder.

    Returns
    -------
    dict
        ``task``, ``schema_version``, ``metrics`` (count), ``label``, ``edges``,
        ``lagged_edges``, ``method``, ``params`` (with the ``lambda1`` the learner used when
        it was chosen automatically), ``decision_threshold`` and ``dropped_metrics``.

    Raises
    ------
    InvalidInputError
        When the folder is missing, damaged or too new.
    """
    from faultgraph.io import load_model_dir

    load_model(path)  # a damaged field is refused here, as every command that uses the model would
    meta, arrays = load_model_dir(path)
    A = arrays.get("graph/adjacency")
    lagged = arrays.get("graph/lagged")
    try:
        graph = meta.get("graph") or {}
        params = {**(meta.get("params") or {})}
        if params.get("lambda1") is None and "lambda1" in (graph.get("params") or {}):
            params["lambda1"] = graph["params"]["lambda1"]  # the value the learner used
        return {
            "task": meta.get("task"), "schema_version": meta.get("schema_version"),
            "metrics": len(meta.get("metrics", [])), "label": meta.get("label"),
            "edges": int((A != 0).sum()) if A is not None else 0,
            "lagged_edges": int((lagged != 0).sum()) if lagged is not None and lagged.size else 0,
            "method": graph.get("method"), "params": params,
            "decision_threshold": meta.get("decision_threshold"),
            "dropped_metrics": (meta.get("encoder") or {}).get("dropped", {}),
        }
    except (AttributeError, TypeError, ValueError) as exc:
        raise InvalidInputError(f"model {str(path)!r} is damaged: bad field ({exc})") from None


def export_graph(path: str | Path, format: str = "graphml") -> tuple[str, int, int]:
    """A model's causal graph (same-step and lagged edges) as GraphML or DOT text.

    Parameters
    ----------
    path : str or Path
        The model folder.
    format : {"graphml", "dot"}, default "graphml"
        The output format (:func:`faultgraph.io.to_graphml`, :func:`faultgraph.io.to_dot`).

    Returns
    -------
    tuple of (str, int, int)
        The text, the number of nodes and the number of edges.

    Raises
    ------
    InvalidInputError
        When ``format`` is not a choice, or the folder is missing or damaged.
    """
    from faultgraph.io import graph_to_networkx, load_model_dir, to_dot, to_graphml

    if format not in ("graphml", "dot"):
        raise InvalidInputError(f"format must be 'graphml' or 'dot', got {format!r}")
    meta, arrays = load_model_dir(path)
    try:
        nodes = [str(n) for n in (meta.get("graph") or {}).get("nodes", meta.get("metrics", []))]
        G = graph_to_networkx(nodes, arrays["graph/adjacency"], arrays.get("graph/lagged"))
    except (KeyError, AttributeError, TypeError, ValueError, IndexError) as exc:
        raise InvalidInputError(f"model {str(path)!r} is damaged: missing or bad graph ({exc})") from None
    text = to_graphml(G) if format == "graphml" else to_dot(G)
    return text, G.number_of_nodes(), G.number_of_edges()


# --- what the commands say and write ------------------------------------------------------

#: ``fit`` names each dropped metric on a line of its own up to this many; beyond, one line
#: per reason (the first six names and how many more).
DROPPED_LINES = 10


def _dropped_lines(dropped: Mapping[str, str], constants: Mapping[str, float], constant_note: str,
                   constants_note: str) -> list[str]:
    """``fit``'s lines about the metrics the encoder dropped: one each, a training constant's
    with ``constant_note``, or one per reason beyond :data:`DROPPED_LINES` of them, the
    constants' with ``constants_note``."""
    if len(dropped) <= DROPPED_LINES:
        return [f"dropped metric {name!r}: " + (f"constant at {constants[name]:g} in training: {constant_note}"
                                                 if name in constants else reason)
                for name, reason in dropped.items()]
    # hundreds of metrics (a Train Ticket) would print hundreds of lines: one per reason
    by_reason: dict[str, list[str]] = {}
    for name, reason in dropped.items():
        by_reason.setdefault(f"constant in training: {constants_note}"
                             if name in constants else reason, []).append(name)
    return [f"dropped {len(names)} metric(s), {reason}: "
            + ", ".join(repr(n) for n in names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
            + "; model.json's encoder 'dropped' lists them" for reason, names in by_reason.items()]


def fit_summary(model: CausalDetector | FaultIdentifier, out: str | Path) -> list[str]:
    """What ``fit`` reports of a fitted model.

    Parameters
    ----------
    model : CausalDetector or FaultIdentifier
        The fitted model.
    out : str or Path
        Where it was written (named in the last line).

    Returns
    -------
    list of str
        One line per dropped metric (one per reason beyond :data:`DROPPED_LINES` of
        them); for a detector then one naming the flagged metrics (``flagged_``) if any,
        then the graph's size and the alarm threshold; for a label model one line with the
        label's parents, the edges among the metrics and the decision threshold.
    """
    from faultgraph.detect import FaultIdentifier

    label_model = isinstance(model, FaultIdentifier)
    notes = (("left out of the graph and the effects",) * 2 if label_model else
             ("not scored; detect names it if it moves", "not scored; detect names one if it moves"))
    lines = _dropped_lines(model.encoder_.dropped_, model.encoder_.constants_, *notes)
    if label_model:
        info = model.describe()
        parents = info["label_parents"]
        return [*lines, f"label {model.label!r} <- {', '.join(parents) or '(no parent found)'}; "
                f"{info['n_metric_edges']} edges among {info['n_metrics']} metrics; decision threshold "
                f"{info['decision_threshold']:.3f} (train F1 {info['train_f1']:.2f}); wrote {out}"]
    flagged = sorted(getattr(model, "flagged_", {}) or {})
    if flagged:  # near-duplicate, near-deterministic or nearly always at one value (model.json says why)
        how = ("their scales floored" if float(model.scale_floor) > 0
               else "not floored, so their scores can run large (fit --scale-floor floors them)")
        shown = ", ".join(flagged[:6]) + (f" and {len(flagged) - 6} more" if len(flagged) > 6 else "")
        lines.append(f"flagged {len(flagged)} metric(s) as near-duplicate, near-deterministic or nearly always "
                     f"at one value, {how}: {shown}; model.json's 'flagged' says why")
    g = model.graph_
    lines.append(f"{int((g.adjacency != 0).sum())} edges and {len(g.lagged_edges)} lagged edges among "
                 f"{len(g.nodes)} metrics; alarm threshold {model.threshold_:.3g} (POT, risk {model.risk:g}); "
                 f"wrote {out}")
    return lines


def detection_summary(found: Detection) -> list[str]:
    """What ``detect`` reports: alarms, incidents, a noisier background, constants that moved.

    Parameters
    ----------
    found : Detection
        From :func:`detect`.

    Returns
    -------
    list of str
        Lines for a person: one for a label model; for a detector the alarms and
        incidents, then (where they apply) the steps whose background was noisier and the
        constants that moved.
    """
    table = found.table
    if "decision" in table.columns:
        return [f"{found.alarms} of {len(table)} rows flagged (threshold {found.threshold:.3f})"]
    n = len(found.incidents)
    lines = [f"{found.alarms} of {len(table)} steps above the alarm threshold {found.threshold:.3g}: "
             + (f"{n} incident{'s' if n != 1 else ''} (explain the latest with `faultgraph explain MODEL_DIR "
                f"DATA`, another with --incident N)" if n else "no incident")]
    unscored = int(table["score"].isna().sum())
    if unscored:
        lines.append(f"the first {unscored} step(s) were not scored (score empty): some metrics had no value yet at "
                     "the start, and a value filled in from later (or a score that still reads one) is no evidence")
    noisy = table["background"] > 1.0
    if noisy.any():
        lines.append(f"{int(noisy.sum())} steps' score background ran above twice the training's (a noisier "
                     f"regime, or a level that stays): their scores were divided by up to "
                     f"{table['background'].max():.3g} (column background; fit with --background-window 0 to turn "
                     f"this off)")
    moved = found.moved_constants()
    if moved:
        lines.append("constant in training, not scored, but moved here (columns constant:<metric>): "
                     + "; ".join(moved))
    return lines


def incidents_table(incidents: tuple[Incident, ...] | list[Incident]) -> str:
    """The incidents as a numbered plain-text table (the numbers ``explain --incident`` takes).

    Parameters
    ----------
    incidents : sequence of Incident
        Oldest first, as :func:`find_incidents` returns them.

    Returns
    -------
    str
        A header and one row per incident: number, start, end, steps, peak score and up to
        three top metrics.
    """
    rows = [("#", "start", "end", "steps", "peak score", "top metrics")]
    for k, inc in enumerate(incidents, 1):
        rows.append((str(k), str(inc.start), str(inc.end), str(inc.steps), f"{inc.peak_score:.3g}",
                     ", ".join(inc.top_metrics[:3])))
    widths = [max(len(r[j]) for r in rows) for j in range(len(rows[0]) - 1)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1] for r in rows)


def incident_windows(model: CausalDetector, frame: pd.DataFrame, number: int | None = None, every: bool = False,
                     min_steps: int = ExplainConfig().min_steps) -> list[tuple[int | None, tuple[Any, Any]]]:
    """The windows to explain when none is given.

    The latest incident :func:`detect` finds in ``frame``, or the one numbered ``number``,
    or each; a short incident is widened to ``min_steps`` rows (:func:`incident_window`).

    Parameters
    ----------
    model : CausalDetector
        A fitted causal detector.
    frame : DataFrame
        The metrics.
    number : int, optional
        The incident to explain, from 1, oldest first; default the latest.
    every : bool, default False
        Explain each incident, with its number.
    min_steps : int, default ``ExplainConfig().min_steps``
        The fewest rows of a window.

    Returns
    -------
    list of (int or None, (object, object))
        ``(number, (start, end))`` pairs; the number is None unless ``every``. With
        ``every``, empty when no incident is found (none to explain is an answer).

    Raises
    ------
    InvalidInputError
        When no incident is found (but with ``every``), or ``number`` is out of range.
    """
    found = detect(model, frame).incidents
    if not found and every:
        return []
    if not found:
        raise InvalidInputError("no incident in the data: no step is above the model's alarm threshold "
                                f"({float(model.threshold_):.3g}); give the window with --start and --end")
    if number is not None and not 1 <= number <= len(found):
        raise InvalidInputError(f"--incident must be between 1 and {len(found)} (the incidents `detect` lists), "
                                f"got {number}")
    if every:
        return [(k, incident_window(inc, frame.index, min_steps)) for k, inc in enumerate(found, 1)]
    return [(None, incident_window(found[(number or len(found)) - 1], frame.index, min_steps))]


def write_explanation(doc: RcaDocument, model: CausalDetector, frame: pd.DataFrame, out: Path | None, *,
                      html: Path | None = None, steps: Path | None = None, normal: pd.DataFrame | None = None
                      ) -> list[str]:
    """Write what ``explain`` was asked for: rca.json, the HTML report and the per-step scores.

    Parameters
    ----------
    doc : RcaDocument
        The explanation with its provenance.
    model : CausalDetector
        The fitted detector that gave it.
    frame : DataFrame
        The metrics it was computed on.
    out : Path or None
        Where to write rca.json.
    html : Path, optional
        Where to write the HTML report (:func:`render_report`).
    steps : Path, optional
        Where to write the per-step scores as CSV (:func:`faultgraph.rca.step_scores`).
    normal : DataFrame, optional
        A normal period for the report (case mode).

    Returns
    -------
    list of str
        The paths written, in the order rca.json, report, steps.
    """
    from faultgraph.io import write_csv_atomic, write_json_atomic, write_text_atomic
    from faultgraph.rca import step_scores

    result = doc.explanation
    if out is not None:
        write_json_atomic(out, doc.to_dict())
    if html is not None:
        write_text_atomic(html, render_report(model, frame, result, normal=normal))
    if steps is not None:
        write_csv_atomic(steps, step_scores(model, frame, result.window, result.target, method=result.method,
                                            reference_window=doc.reference_window, scales=result.scales))
    return [str(p) for p in (out, html, steps) if p is not None]


def redo_explanation(model_dir: str | Path, rca_json: str | Path, *, data: str | Path | None = None,
                     resample: str | None = None) -> tuple[CausalDetector, pd.DataFrame, Explanation]:
    """What an rca.json explained, with the model and data to draw it, for ``report``.

    The ranking is rca.json's own (read back by :meth:`RcaDocument.from_dict`: the service
    map, fewest steps and seed it was made with stay as they were); the data are its data and
    resample step unless given. An rca.json without causes (a request) is explained, with its
    window, target, method, reference window and scales.

    Parameters
    ----------
    model_dir : str or Path
        An anomaly-detection model folder.
    rca_json : str or Path
        The rca.json written by ``faultgraph explain``.
    data : str or Path, optional
        The metrics file; default the one rca.json names.
    resample : str, optional
        The grid step; default the one rca.json names.

    Returns
    -------
    tuple of (CausalDetector, DataFrame, Explanation)
        The model, the metrics and the new explanation.

    Raises
    ------
    InvalidInputError
        When rca.json is unreadable or not one ``explain`` wrote, names no data and none is
        given, or the model is not an anomaly-detection model.
    """
    try:
        spec = json.loads(Path(rca_json).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInputError(f"rca.json {str(rca_json)!r} cannot be read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise InvalidInputError(f"{str(rca_json)!r} is not an rca.json written by `faultgraph explain`: it is no "
                                f"JSON ({exc})") from None
    request = RcaDocument.request_from_dict(spec, repr(str(rca_json)))
    source = data or request["data"]
    if source is None:
        raise InvalidInputError(f"{str(rca_json)!r} does not name its data; pass --data")
    from faultgraph.detect.unsupervised import TASK

    model = load_model(model_dir, task=TASK)
    frame = load_metrics(source, resample=resample if resample is not None else request["resample"], model=model)
    first, last = request["window"]
    bounds = (_time_value(first), _time_value(last))
    if "causes" not in spec:  # a request without its answer: explain it
        config = ExplainConfig(target=request["target"], method=request["method"],
                               reference_window=request["reference_window"], scales=request["scales"])
        return model, frame, explain_window(model, frame, bounds, config)  # type: ignore[return-value]
    document = RcaDocument.from_dict(spec, repr(str(rca_json)))
    # the ranking as rca.json holds it (its service map, fewest steps and seed included),
    # with the window read as the data's index reads it
    from faultgraph.rca.ranking import _window_mask

    rows = frame.index[_window_mask(frame.index, bounds, 1)]
    return model, frame, _replace(document.explanation, window=(rows[0], rows[-1]))


def _time_value(value: Any) -> Any:
    """A window bound as written in rca.json or typed: a number if it parses as one."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def effects_document(model_dir: str | Path, target: str, *, n_paths: int = 3, n_bootstrap: int = 50,
                     random_state: int | None = 0, option_names: Mapping[str, str] | None = None,
                     efficient: bool = True) -> tuple[Any, dict[str, Any]]:
    """effects.json of a labelled model.

    Every node's ATE on ``target`` (CGL-BFI eq. 4) with its bootstrap interval, the causal
    scores ``S_i = |ATE_i| / Σ_j |ATE_j|`` (eq. 5) and each node's strongest ``n_paths``
    paths to it.

    Parameters
    ----------
    model_dir : str or Path
        A label-model folder (``fit --label``).
    target : str
        The node the effects are on (normally the label).
    n_paths : int, default 3
        Paths listed per node.
    n_bootstrap : int, default 50
        Bootstrap resamples for the intervals: 0 (none) or at least ``MIN_BOOTSTRAP``.
    random_state : int, optional, default 0
        Seed of the resampling.
    option_names : mapping of str to str, optional
        How the caller names the options (``{"n_bootstrap": "--bootstrap"}``), for messages.
    efficient : bool, default True
        Passed to :func:`effects_report`.

    Returns
    -------
    tuple of (CausalScores, dict)
        The scores and the document.

    Raises
    ------
    InvalidInputError
        When ``n_bootstrap`` is out of range (for a model without an ensemble), the folder
        is not a label model, or ``target`` is not a node.
    """
    from faultgraph.detect import FaultIdentifier
    from faultgraph.effects.ate import MIN_BOOTSTRAP

    from faultgraph.detect.supervised import TASK

    if model_task(model_dir) != TASK:
        raise InvalidInputError(f"{str(model_dir)!r} is an anomaly-detection model (fitted without --label): "
                                "effects on a label need `faultgraph fit DATA --label COLUMN --out MODEL_DIR`; "
                                "for the causes of an incident use `faultgraph explain`")
    model = FaultIdentifier.load(model_dir)
    if getattr(model, "ensemble_", None) is None and 0 < n_bootstrap < MIN_BOOTSTRAP:
        # the library's rule, named as the caller knows the option (a model with an ensemble
        # takes its intervals from its graphs and does not use it)
        name = (option_names or {}).get("n_bootstrap", "n_bootstrap")
        raise InvalidInputError(f"{name} must be 0 (no interval) or at least {MIN_BOOTSTRAP}, got {n_bootstrap}")
    return effects_report(model, target, n_paths=n_paths, n_bootstrap=n_bootstrap,
                          random_state=random_state, efficient=efficient)


# --- effects that say how sure they are; graph ensembles (issue 18) -----------------------

def fit_label_model(frame: pd.DataFrame, config: FitConfig, *, prior: PriorKnowledge | None = None, lags: int = 0,
                    bootstrap: int = 0, block: int | None = None, random_state: int | None = 0,
                    scheduler: str | None = None, n_workers: int | None = None) -> FaultIdentifier:
    """``fit --label``: a :class:`~faultgraph.detect.FaultIdentifier` of ``config.label``.

    Options as :func:`fit_model`, with ``lags`` past steps as candidate parents (time
    orients the same-step edges it can) and an ensemble of ``bootstrap`` graphs learned on
    block-bootstrap resamples, run by :mod:`faultgraph.parallel`.

    Parameters
    ----------
    frame : DataFrame
        The training metrics with the label column.
    config : FitConfig
        ``label`` (required) and the detector's options.
    prior : PriorKnowledge, optional
        Prior knowledge about the graph.
    lags : int, default 0
        Past steps offered as candidate parents.
    bootstrap : int, default 0
        Graphs in the ensemble; 0: none.
    block : int, optional
        Block length of the block bootstrap; default chosen from the number of rows.
    random_state : int, optional, default 0
        Seed of the resampling.
    scheduler : str, optional
        Address of an existing Dask scheduler.
    n_workers : int, optional
        Local workers; 0 runs in this process.

    Returns
    -------
    FaultIdentifier
        The fitted model.

    Raises
    ------
    InvalidInputError
        When ``config.label`` is None, the ensemble's options are invalid (as for
        :func:`learn_graph_ensemble`, checked before any work), or as the model's ``fit``.
    """
    from faultgraph.detect import FaultIdentifier

    if config.label is None:
        raise InvalidInputError("config.label must name the 0/1 label column for a label model, got None")
    if bootstrap:
        _check_ensemble_options(bootstrap, block=block, rows=len(frame) - int(lags or 0), scheduler=scheduler,
                                n_workers=n_workers, name="bootstrap")
    d = config.detector
    return FaultIdentifier(config.label, method=str(d.method), lambda1=d.lambda1, threshold=d.threshold,
                           prior=prior, max_gap=d.max_gap, lags=lags, bootstrap=bootstrap, block=block,
                           random_state=random_state, scheduler=scheduler, n_workers=n_workers).fit(frame)


def effects_report(model: FaultIdentifier, target: str | None = None, *, n_paths: int = 3, n_bootstrap: int = 50,
                   confidence: float = 0.95, random_state: int | None = 0, efficient: bool = True
                   ) -> tuple[Any, dict[str, Any]]:
    """effects.json of a label model, with identification, bounds and ensemble confidence.

    Computed by :func:`faultgraph.effects.identify.identified_scores`. Each entry of
    ``scores`` has ``node, ate, ci_low, ci_high, score, paths`` and then ``identified``,
    ``ate_bounds`` and ``confidence``. The intervals come from the model's graph ensemble
    (``bootstrap`` at fit time) or, without one, from ``n_bootstrap`` block-bootstrap
    resamples of the rows on its one graph (graph taken as known: ``confidence`` is then
    None). The document adds ``summary`` (certain causes and candidates, in words),
    ``identification`` (each edge's mark), ``n_graphs``, ``confidence_level`` and ``lags``.

    Parameters
    ----------
    model : FaultIdentifier
        A fitted label model.
    target : str, optional
        The node the effects are on; default the model's label.
    n_paths : int, default 3
        Paths listed per node.
    n_bootstrap : int, default 50
        Row resamples when the model has no ensemble: 0 (no interval: nothing is called
        certain) or at least ``MIN_BOOTSTRAP``; not used (nor checked) when it has one.
    confidence : float, default 0.95
        Level of the intervals.
    random_state : int, optional, default 0
        Seed of the resampling.
    efficient : bool, default True
        Adjust for the optimal sets of the graph that the order (tiers, or with lags the
        tested time order) allows (``identified_scores(efficient=)``); False: the earlier
        tiers and the learned graph's sets, the rule before.

    Returns
    -------
    tuple of (CausalScores, dict)
        The scores and the document.

    Raises
    ------
    InvalidInputError
        When ``target`` is not a node, ``n_bootstrap`` is not 0 or an integer of at
        least ``MIN_BOOTSTRAP`` (on a model without an ensemble), or ``n_paths`` is not a
        positive integer.
    """
    import numpy as np

    from faultgraph.discovery.ensemble import block_bootstrap_rows, default_block, resample_seeds
    from faultgraph.effects import propagation_paths
    from faultgraph.effects.ate import MIN_BOOTSTRAP
    from faultgraph.effects.identify import Resample, identified_scores

    target = model.label if target is None else target
    try:
        model.sem_.check_node(target, "target")
    except InvalidInputError:
        dropped = getattr(model.encoder_, "dropped_", {}) or {}
        if str(target) in dropped:  # say why it is not a node
            raise InvalidInputError(f"target {target!r} was dropped at fit ({dropped[str(target)]}): it has no "
                                    "effects to read") from None
        raise
    ens = getattr(model, "ensemble_", None)
    if isinstance(n_bootstrap, np.integer):
        n_bootstrap = int(n_bootstrap)
    if ens is None and (isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int)
                        or (0 < n_bootstrap < MIN_BOOTSTRAP) or n_bootstrap < 0):
        raise InvalidInputError(f"n_bootstrap must be 0 (no interval) or at least {MIN_BOOTSTRAP}, got {n_bootstrap!r}")
    if isinstance(n_paths, np.integer):
        n_paths = int(n_paths)
    if isinstance(n_paths, bool) or not isinstance(n_paths, int) or n_paths < 1:
        raise InvalidInputError(f"n_paths must be a positive integer (paths listed per node), got {n_paths!r}")
    data = model.sem_.data_[list(model.graph_.nodes)]
    A = model.graph_.adjacency
    lagged = model.graph_.lagged
    allowed, lag_allowed, tiers = model.prior_masks()  # the prior as the fit applied it
    if ens is not None:
        resamples = [Resample(ens.rows(b), ens.graphs[b], None if ens.lagged is None else ens.lagged[b],
                              None if ens.time_order is None else ens.time_order[b]) for b in range(ens.n_graphs)]
    else:
        n_rows = len(data) - (0 if lagged is None else lagged.shape[0])
        block = default_block(n_rows)
    order = getattr(model, "time_order_", None)
    if ens is None:
        resamples = [Resample(block_bootstrap_rows(n_rows, block, np.random.default_rng(int(s))), A, lagged, order)
                     for s in resample_seeds(n_bootstrap, random_state)]
    scores = identified_scores(data, A, target, lagged=lagged, time_order=order, allowed=allowed,
                               lagged_allowed=lag_allowed, tiers=tiers,
                               resamples=resamples, ensemble=ens is not None, confidence=confidence,
                               efficient=efficient)
    document = scores.to_dict()
    entries = []
    for entry in document["scores"]:
        paths = [p.to_dict() for p in propagation_paths(model.sem_, entry["node"], target, n_paths)]
        ordered = {k: entry[k] for k in ("node", "ate", "ci_low", "ci_high", "score")}
        ordered["paths"] = paths
        ordered.update({k: entry[k] for k in ("identified", "ate_bounds", "confidence")})
        entries.append(ordered)
    document["scores"] = entries
    return scores, document


@dataclass(frozen=True)
class EnsembleGraphResult:
    """``discover --bootstrap B``: the graph learned on all rows, the ensemble of ``B``
    graphs on resamples, and each edge's mark (oriented or not, :mod:`faultgraph.effects.identify`).
    Edges held in their direction by fewer than ``low_confidence`` of the graphs are
    listed as low-confidence."""

    result: GraphResult
    ensemble: Any
    orientation: Any
    low_confidence: float = 0.5
    random_state: int | None = 0

    def to_dict(self) -> dict[str, Any]:
        """graph.json, each edge with ``confidence`` and ``reversed`` (shares of the
        ensemble's graphs holding it in this direction and in the opposite one),
        ``oriented`` and ``by``; plus ``n_graphs``, ``bootstrap`` (block length, rows and
        seed), ``low_confidence_edges`` and ``identification``."""
        doc = self.result.to_dict()
        index = {n: i for i, n in enumerate(self.ensemble.nodes)}
        conf, rev = self.ensemble.confidence, self.ensemble.reversed
        marks = {(m.source, m.target): m for m in self.orientation.marks()}
        for edge in doc["edges"]:
            i, j = index[edge["source"]], index[edge["target"]]
            edge["confidence"], edge["reversed"] = float(conf[i, j]), float(rev[i, j])
            mark = marks.get((edge["source"], edge["target"])) or marks.get((edge["target"], edge["source"]))
            edge["oriented"], edge["by"] = (mark.oriented, mark.by) if mark else (False, "not identified")
            # which way the identified direction points: the knowledge may turn the learned edge round
            edge["direction"] = (None if not edge["oriented"] else
                                 "as learned" if (mark.source, mark.target) == (edge["source"], edge["target"])
                                 else "reversed")
        doc["n_graphs"] = self.ensemble.n_graphs
        doc["bootstrap"] = {"block": int(self.ensemble.block), "rows": int(self.ensemble.n_rows),
                            "seed": self.random_state}
        doc["low_confidence_edges"] = [e for e in doc["edges"] if e["confidence"] < self.low_confidence]
        doc["identification"] = self.orientation.to_dict()
        return doc


def learn_graph_ensemble(frame: pd.DataFrame, config: LearnConfig = LearnConfig(), *, n_graphs: int = 100,
                         prior: PriorKnowledge | None = None, block: int | None = None,
                         random_state: int | None = 0, scheduler: str | None = None, n_workers: int | None = None,
                         client: Any = None, progress: Callable[[int, int], None] | None = None,
                         low_confidence: float = 0.5, force: bool = False) -> EnsembleGraphResult:
    """``discover --bootstrap B``: :func:`learn_graph` on all rows, then an ensemble on resamples.

    The same learner runs on ``n_graphs`` block-bootstrap resamples of the encoded rows
    (:func:`faultgraph.discovery.ensemble.learn_graph_ensemble`, on Dask through
    :mod:`faultgraph.parallel`: a LocalCluster by default, ``scheduler`` for an existing
    one or ``$FAULTGRAPH_SCHEDULER``, ``n_workers=0`` in this process), and the graph's
    edges are marked as oriented or not (:func:`faultgraph.effects.identify.orient_graph`).

    Parameters
    ----------
    frame : DataFrame
        Metrics, one column each.
    config : LearnConfig, default LearnConfig()
        The learner's options.
    n_graphs : int, default 100
        Graphs in the ensemble.
    prior : PriorKnowledge, optional
        Prior knowledge about the graph.
    block : int, optional
        Block length of the bootstrap; default chosen from the number of rows.
    random_state : int, optional, default 0
        Seed of the resampling.
    scheduler : str, optional
        Address of an existing Dask scheduler.
    n_workers : int, optional
        Local workers; 0 runs in this process.
    client : dask.distributed.Client, optional
        An existing client to run on.
    progress : callable, optional
        Called as ``progress(done, total)``.
    low_confidence : float, default 0.5
        Edges held in their direction by fewer than this share of the graphs are listed as
        low-confidence.
    force : bool, default False
        Learn the graphs even when they would take longer than the limit
        (:func:`faultgraph._budget.check_ensemble`: the full-data fit's time times
        ``n_graphs`` over the workers).

    Returns
    -------
    EnsembleGraphResult
        The graph, the ensemble and the edges' orientation marks.

    Raises
    ------
    InvalidInputError
        As :func:`learn_graph`, or for invalid ensemble options.
    """
    import numpy as np

    from faultgraph._budget import check_ensemble, ensemble_workers
    from faultgraph.detect.unsupervised import _modelled_prior
    from faultgraph.discovery import PriorKnowledge
    from faultgraph.discovery.ensemble import learn_graph_ensemble as ensemble_of
    from faultgraph.effects.identify import orient_graph
    from faultgraph.encode import MetricEncoder

    address = _check_ensemble_options(n_graphs, block=block, rows=len(frame) - int(config.lags or 0),
                                      scheduler=scheduler, n_workers=n_workers, client=client)
    started = time.perf_counter()
    result = learn_graph(frame, config, prior=prior, force=force)
    # each resample is a fit as long as this one: refused, with the numbers, when they cannot finish
    with fit_limits(force):
        check_ensemble(n_graphs, time.perf_counter() - started, ensemble_workers(address, n_workers, client))
    encoder = MetricEncoder(max_gap=config.max_gap, scale="robust" if config.standardize else None)
    encoded = encoder.fit_transform(frame)
    prior = _modelled_prior(PriorKnowledge.coerce(prior), list(encoded.columns), dict(encoder.dropped_))
    ensemble = ensemble_of(encoded, n_graphs, method=str(config.method), lambda1=config.lambda1,
                           threshold=config.threshold, standardize=config.standardize, prior=prior, lags=config.lags,
                           refine=config.refine, block=block, random_state=random_state, scheduler=scheduler,
                           n_workers=n_workers, client=client, progress=progress, screen=bool(config.screen))
    graph = result.graph
    allowed = (prior or PriorKnowledge()).masks(list(graph.nodes))[0] if prior is not None else None
    # the data's v-structures (unshielded triples whose ends are independent), kept only where
    # the ensemble holds the direction: one graph's v-structures orient nothing, for its
    # skeleton may be wrong (on standardised data the learner's directions are arbitrary)
    values = encoded[list(graph.nodes)].to_numpy(dtype=float)
    orientation = orient_graph(graph.adjacency, graph.nodes, allowed=allowed, lagged=graph.lagged,
                               covariance=np.cov(values, rowvar=False), n_samples=len(values),
                               support=ensemble.confidence, min_support=ENSEMBLE_HOLDS)
    return EnsembleGraphResult(result, ensemble, orientation, low_confidence, random_state)


def _check_ensemble_options(n_graphs: int, *, block: int | None, rows: int, scheduler: str | None,
                            n_workers: int | None, client: Any = None, name: str = "n_graphs") -> str | None:
    """Check an ensemble's options before any work, for ``discover --bootstrap``
    (:func:`learn_graph_ensemble`) and a label model's ``fit --bootstrap``
    (:func:`fit_label_model`) alike.

    Parameters
    ----------
    n_graphs : int
        Graphs in the ensemble (:func:`faultgraph.discovery.ensemble.check_bootstrap`).
    block : int or None
        Rows per bootstrap block (:func:`faultgraph.discovery.ensemble.check_block`); None:
        the default.
    rows : int
        Rows resampled (the data's, less the lags).
    scheduler : str or None
        A Dask scheduler's address or file, checked when one is to be used (its
        reachability is tried when the graphs start).
    n_workers : int or None
        Local workers; 0 runs in this process (no scheduler is used).
    client : dask.distributed.Client, optional
        An open client (no scheduler is resolved).
    name : str, default "n_graphs"
        What ``n_graphs`` is called in messages.

    Returns
    -------
    str or None
        The scheduler resolved (:func:`faultgraph.parallel.resolve_scheduler`): None for a
        local cluster, or when ``n_workers`` is 0 or a client is given.

    Raises
    ------
    InvalidInputError
        When ``n_graphs`` is 1, negative or too many, ``block`` is no integer from 1 to
        ``rows - 1``, or the scheduler's address is none.
    """
    from faultgraph.discovery.ensemble import check_block, check_bootstrap
    from faultgraph.parallel.cluster import INLINE, check_address, resolve_scheduler

    check_bootstrap(n_graphs, name)
    address = resolve_scheduler(scheduler) if client is None and n_workers != 0 else None
    if address not in (None, INLINE):
        check_address(address)  # before the work: the reachability is tried when the graphs start
    if block is not None:
        check_block(block, rows)
    return address


#: A v-structure of the data (and what Meek's rules imply from it) stands in ``discover
#: --bootstrap``'s graph.json only where at least this share of the ensemble's graphs hold
#: both its arms (:func:`faultgraph.effects.identify.orient_graph`'s ``min_support``).
ENSEMBLE_HOLDS = 0.5


