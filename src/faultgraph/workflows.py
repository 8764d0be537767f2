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
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faultgraph.config import DetectorConfig, ExplainConfig, FitConfig, LearnConfig
from faultgraph.errors import InvalidInputError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from faultgraph.detect import CausalDetector, FaultIdentifier
    from faultgraph.discovery import LearnedGraph, PriorKnowledge
    from faultgraph.rca import Explanation

__all__ = [
    "Detection",
    "GraphResult",
    "Incident",
    "RcaDocument",
    "detect",
    "explain_case",
    "explain_window",
    "find_incidents",
    "fit_model",
    "learn_graph",
    "load_metrics",
    "load_model",
    "load_prior",
    "model_task",
    "render_report",
]


# --- reading ------------------------------------------------------------------------------

def load_metrics(path: str | Path, *, resample: str | float | None = None) -> pd.DataFrame:
    """Read a metrics file (CSV or Parquet, wide or long; :func:`faultgraph.io.read_metrics`).

    Parameters
    ----------
    path : the file.
    resample : a grid step ('1min', '30s', or a number: seconds for a time column, index
        units for a numeric one); the metrics are put on it causally (the last value at or
        before each grid time, :func:`faultgraph.encode.align`). ``None``: as read.

    Returns
    -------
    The metrics frame, one column per metric, in time order.
    """
    from faultgraph.errors import SamplingWarning
    from faultgraph.io import read_metrics

    if resample is None:
        return read_metrics(path)
    from faultgraph.encode import align

    with warnings.catch_warnings():  # the advice "resample it" is being followed
        warnings.simplefilter("ignore", SamplingWarning)
        frame = read_metrics(path)
    return align(frame, resample)


def load_prior(path: str | Path | None) -> PriorKnowledge | None:
    """A YAML prior (:meth:`faultgraph.PriorKnowledge.from_yaml`), or ``None`` for none."""
    if path is None:
        return None
    from faultgraph.discovery import PriorKnowledge

    return PriorKnowledge.from_yaml(path)


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
                truth: str | Path | None = None, callback: Callable[[dict[str, Any]], None] | None = None
                ) -> GraphResult:
    """Encode ``frame`` (:class:`~faultgraph.MetricEncoder`) and learn its causal graph
    (:class:`~faultgraph.StructureLearner`).

    Parameters
    ----------
    frame : metrics, one column each.
    config : the learner's options (:class:`~faultgraph.config.LearnConfig`).
    prior : forbidden/required edges, tiers.
    truth : a truth.json (``nodes``, ``edges``) to score the learned graph against.
    callback : called with the learner's progress (``step``, ``steps``, ``h``).
    """
    from faultgraph.discovery import StructureLearner
    from faultgraph.encode import MetricEncoder

    encoder = MetricEncoder(max_gap=config.max_gap, scale="robust" if config.standardize else None)
    encoded = encoder.fit_transform(frame)
    learner = StructureLearner(str(config.method), lambda1=config.lambda1, threshold=config.threshold,
                               standardize=config.standardize, prior=prior, lags=config.lags,
                               refine=config.refine, callback=callback)
    learner.fit(encoded)
    accuracy = score_against(truth, learner.graph_).to_dict() if truth is not None else None
    return GraphResult(learner.graph_, dict(encoder.dropped_), accuracy)


def score_against(truth_path: str | Path, graph: LearnedGraph) -> Any:
    """The accuracy (:func:`faultgraph.graph_accuracy`) of ``graph`` against a truth.json."""
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
    """An unfitted :class:`~faultgraph.detect.CausalDetector` with ``config``'s options."""
    from faultgraph.detect import CausalDetector

    return CausalDetector(prior=prior, **{k: (str(v) if isinstance(v, str) else v)
                                          for k, v in config.to_dict().items()})


def fit_model(frame: pd.DataFrame, config: FitConfig = FitConfig(), *, prior: PriorKnowledge | None = None
              ) -> CausalDetector | FaultIdentifier:
    """Fit a model on ``frame``: without ``config.label`` a causal detector of normal
    behaviour (anomaly detection), with it a fault identifier of that 0/1 label (the
    paper's supervised setting; it reads ``method``, ``lambda1``, ``threshold`` and
    ``max_gap`` of ``config.detector``).

    Returns
    -------
    The fitted estimator; ``save(folder)`` writes it.
    """
    if config.label is None:
        return detector_from_config(config.detector, prior=prior).fit(frame)
    from faultgraph.detect import FaultIdentifier

    d = config.detector
    return FaultIdentifier(config.label, method=str(d.method), lambda1=d.lambda1, threshold=d.threshold,
                           prior=prior, max_gap=d.max_gap).fit(frame)


def model_task(path: str | Path) -> str:
    """The task a model folder was fitted for (``unsupervised-detection`` or
    ``supervised-fault-identification``)."""
    from faultgraph.io import load_model_dir

    return str(load_model_dir(path)[0].get("task"))


def load_model(path: str | Path, *, task: str | None = None) -> CausalDetector | FaultIdentifier:
    """Read a model folder written by ``fit`` (either kind; with ``task``, only that kind)."""
    from faultgraph.detect import CausalDetector, FaultIdentifier
    from faultgraph.detect.supervised import TASK as SUPERVISED

    found = model_task(path)
    if task is not None and found != task:
        from faultgraph.io import load_model_dir

        load_model_dir(path, task=task)  # raises the message for a model of another kind
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
    """The alarm periods of a detector's score table (the ``anomaly`` column of
    :meth:`~faultgraph.detect.CausalDetector.score_samples`), oldest first.

    Parameters
    ----------
    scores : the score table (``score``, ``anomaly`` and ``residual:<metric>`` columns).
    merge_gap : runs of alarms at most this many quiet steps apart are one incident.
    top : metrics to name per incident, by their largest absolute residual in it.
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

    @property
    def alarms(self) -> int:
        """Steps (unsupervised) or rows (supervised) flagged."""
        column = "anomaly" if "anomaly" in self.table.columns else "decision"
        return int(self.table[column].sum())


def detect(model: CausalDetector | FaultIdentifier, frame: pd.DataFrame, *, merge_gap: int = 0) -> Detection:
    """Score every row of ``frame`` with a fitted model.

    Unsupervised models give ``score``, ``anomaly`` (0/1), ``background``, one
    ``residual:<metric>`` column per metric and one ``constant:<metric>`` column per metric
    constant in training, and the alarm periods (:func:`find_incidents`); label models give
    ``probability`` and ``decision`` (and ``labels``, the label column, when ``frame``
    holds it).
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
    return Detection(table, TASK, float(model.threshold_), tuple(find_incidents(table, merge_gap=merge_gap)))


# --- explaining ---------------------------------------------------------------------------

@dataclass(frozen=True)
class RcaDocument:
    """rca.json: an explanation (:class:`~faultgraph.rca.Explanation`) with where it came
    from (``data``, ``normal``, ``resample``, ``reference_window``), so ``report`` can
    redo it."""

    explanation: Explanation
    data: str | None = None
    normal: str | None = None
    resample: str | None = None
    reference_window: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The rca.json fields (the explanation's, then the provenance given)."""
        payload = {**self.explanation.to_dict()}
        if self.data is not None:
            payload["data"] = self.data
        if self.normal is not None:
            payload["normal"] = self.normal
        if self.resample is not None:
            payload["resample"] = self.resample
        if self.reference_window is not None:
            payload["reference_window"] = self.reference_window
        return payload

    @staticmethod
    def request_from_dict(spec: Any, where: str = "rca.json") -> dict[str, Any]:
        """What an rca.json asks to be explained again: ``window``, ``target``, ``method``,
        ``data``, ``resample`` and ``reference_window``; an ``InvalidInputError`` naming
        ``where`` when it is no rca.json."""
        try:
            window, target, method = spec["window"], spec["target"], spec["method"]
            if not isinstance(window, list) or len(window) != 2:
                raise ValueError(f"window must be a [start, end] pair, got {window!r}")
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInputError(f"{where} is not an rca.json written by `faultgraph explain`: {exc}") from None
        return {"window": (window[0], window[1]), "target": target, "method": method, "data": spec.get("data"),
                "resample": spec.get("resample"), "reference_window": spec.get("reference_window")}


def explain_window(model: CausalDetector, frame: pd.DataFrame, window: tuple[Any, Any] | None = None,
                   config: ExplainConfig = ExplainConfig(), *, services: Any = None) -> Explanation:
    """Rank the root causes of the anomaly in ``window`` (:func:`faultgraph.rca.explain`).

    Parameters
    ----------
    model : a fitted causal detector.
    frame : metrics covering the window (and the rows before it that give its past).
    window : ``(start, end)`` in ``frame``'s index, inclusive; a bound that is ``None``
        is the first or last row.
    config : target, method, reference window, paths, fewest steps.
    services : metric → service (a mapping or a function); default: from the names.
    """
    from faultgraph.rca import explain

    first, last = window if window is not None else (None, None)
    bounds = (frame.index[0] if first is None else first, frame.index[-1] if last is None else last)
    return explain(model, frame, bounds, config.target,
                   method=str(config.method) if config.method is not None else None, services=services,
                   n_paths=config.n_paths, min_steps=config.min_steps, reference_window=config.reference_window)


def explain_case(normal: pd.DataFrame, anomalous: pd.DataFrame, window: tuple[Any, Any] | None = None,
                 config: ExplainConfig = ExplainConfig(), *, detector: DetectorConfig = DetectorConfig(),
                 prior: PriorKnowledge | None = None) -> tuple[CausalDetector, Explanation]:
    """Case mode: fit a causal detector on ``normal`` and explain ``window`` of
    ``anomalous`` (all of it by default). The two must hold the same metrics."""
    from faultgraph.datasets import check_same_metrics

    check_same_metrics(normal, anomalous)
    model = detector_from_config(detector, prior=prior).fit(normal)
    return model, explain_window(model, anomalous, window, config)


def render_report(model: CausalDetector, frame: pd.DataFrame, explanation: Explanation, *,
                  normal: pd.DataFrame | None = None) -> str:
    """The incident report, a self-contained HTML page."""
    from faultgraph.report import render_incident_report

    return render_incident_report(model, frame, explanation, normal=normal)
