"""Root causes of an incident: which metric's own noise broke first, and how it spread.

A root cause is a node whose *own noise* ``ε_i`` turned abnormal, not one that merely
follows an abnormal parent. With a fitted :class:`~faultgraph.detect.CausalDetector`,
each metric's standardised residual in the incident window measures exactly that:
``noise_z_i`` is its mean absolute residual z over the window, in standard deviations of
its training residuals (by default never below 1 % of the metric's own variation, nor
counted beyond the metric's own move: :func:`ranking_scales`). Methods:

* ``"causal+innovation+nsigma"`` (default): ``noise_z + innovation_z + deviation_z``
  (each :class:`Cause` carries the three). They read the same fault from three sides:
  the residual of the metric's learned equation (which leans on the same-step edges),
  its innovation (which needs none: see below) and how far the metric itself moved.
  The noise z is not weighted by the effect on the symptom here. How this default was
  chosen, and what each method measures, is in ``benchmarks/results/rca.md`` and
  ``CHANGELOG.md``;
* ``"causal+nsigma"``: the causal score plus the N-sigma score (the default before);
* ``"causal"``: rank by ``noise_z``, breaking near-ties by the effect on the symptom:
  score ``= noise_z · (1 + |effect_on_target|)``;
* ``"innovation"``: the innovation z of each metric, the mean of its :data:`BURST_STEPS`
  largest absolute values in the window (:func:`burst`): its value less what the past
  of every metric predicts (:meth:`CausalDetector.innovations
  <faultgraph.detect.CausalDetector.innovations>`, a vector autoregression). It needs no
  same-step edge, whose direction observational data often cannot tell: with ``traffic
  → cpu`` learned backwards, a CPU fault leaves the CPU's equation explained (by the
  latency it drives) and the traffic's residual large. It misses faults that a metric's
  own past soon predicts (a level shift in a very persistent metric);
* ``"noise"``: ``noise_z`` alone;
* ``"baro"``: BARO's robust z-score (median and IQR of the normal period, max |z| over
  the window), no graph;
* ``"nsigma"``: mean/std z-score of the normal period, max |z| over the window;
* ``"random"``: a random order (what chance gets);
* ``"mechanism"``: which metric's *mechanism* changed, CIRCA-like (Li et al., KDD 2022:
  regression-based hypothesis testing with descendant adjustment). Each metric's test
  statistic (:func:`mechanism_statistic`) is its window's mean |residual z| against the
  null of its training residuals (standard normal: |z| has mean √(2/π) and sd
  √(1 − 2/π)), in standard errors of that mean over the window's ``n`` steps; then
  :func:`descendant_adjustment` on the summary graph pushes every metric with an
  anomalous parent (statistic at least :data:`MECHANISM_THRESHOLD`) scoring above it
  below every metric without one: it moved because its cause did. Measured against the
  default in ``benchmarks/results/mechanism.md``;
* ``"context"``: the anomalous period as a context variable ``F`` (RCD's F-node, joint
  causal inference): ``F``'s coefficient in each metric's equation on its learned parents,
  the parents' coefficients held at their normal values, i.e. the window's mean residual z
  less the recent normal's (:mod:`faultgraph.rca.context`). A metric that moved only
  through its parents gets none. With ``ensemble=`` (:func:`faultgraph.rca.context.context_ensemble`)
  each metric's part is averaged over graphs relearned on bootstrap resamples;
* ``"context+innovation+nsigma"``: the default with its noise part replaced by the
  context part.

:func:`step_scores` gives the same parts step by step (a heat map of the incident, and the
per-step protocol of the published interpretation benchmarks).

Every score is measured from the window's *recent normal*: where the system has settled
at a new level since training (a deploy, a scale-up), the part of each deviation's
median over the steps before the window that lies beyond ±1 sd is taken off
(:func:`recent_normal`; ``reference_window`` steps, by default the model's drift window,
as the detector does; ``0`` compares with the training period alone, as does a window
with fewer than :data:`MIN_REFERENCE` steps before it).

Metrics that held one value throughout training are not in the model (no scale to learn);
any of them that leaves that value in the window, and its median over the up to
``reference_window`` rows read before the window (however few), is listed first, with ``constant_value`` and an infinite score (every method but
``"random"``).

Each top cause gets its strongest directed path to the symptom in the learned graph
(same-step and lagged edges together); the symptom is ``target`` if given, else the
metric whose value deviates most in the window. When a cause is the symptom itself, or
has no path to it, its path leads to its most deviant effect instead: where the fault
spread (a lone metric when it has no effects in the graph).
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from faultgraph._validation import as_generator, check_choice, check_window, describe_names
from faultgraph.config import DEFAULTS, RankingScales, RcaMethod, values
from faultgraph.detect.unsupervised import DRIFT_TOLERANCE, CausalDetector, beyond_tolerance, soft_cap
from faultgraph.effects import effects_into, strongest_path
from faultgraph.encode import constant_moves
from faultgraph.errors import InvalidInputError
from faultgraph.io.metrics import epoch_unit
from faultgraph.rca.context import ContextEnsemble, context_steps, equation_residuals, model_key

__all__ = ["BURST_STEPS", "CAVEAT_TOP", "DEFAULT_METHOD", "METHODS", "MIN_REFERENCE", "ONSET_LOOKBACK",
           "ONSET_TRACE_Z", "ONSET_Z", "Cause", "Explanation", "burst", "default_service", "explain", "recent_normal",
           "step_scores", "summary_graph", "window_reference", "MECHANISM_THRESHOLD", "descendant_adjustment",
           "mechanism_statistic", "DEFAULT_SCALES", "RANK_DETERMINISTIC", "RANK_OWN_MOVE", "RANK_RESOLUTION_ROWS",
           "RANK_SCALE_FLOOR", "SCALES", "check_target", "grid_step", "ranking_scales"]

Method = Literal["causal+innovation+nsigma", "causal+nsigma", "causal", "innovation", "noise", "baro", "nsigma",
                 "random", "mechanism", "context", "context+innovation+nsigma"]
METHODS: tuple[str, ...] = values(RcaMethod)  # Method's values
DEFAULT_METHOD = RcaMethod.CAUSAL_INNOVATION_NSIGMA.value
_SEPARATORS = re.compile(r"[_:./|]")


def default_service(metric: str) -> str:
    """The service a metric belongs to (:func:`faultgraph.services.service_of`): its
    Prometheus label ``service``, ``job``, ``app``, ``container``, ``pod`` or ``instance``
    (``latency_ms{service="db"}`` → ``db``); else the part before the first ``|``
    (``checkout|cpu``); else, unit suffixes removed, the part before the last ``_ : . /``
    (``db_latency_ms`` → ``db``, ``checkout_cpu`` → ``checkout``); else the metric itself.

    Parameters
    ----------
    metric : str
        The metric name, with Prometheus labels if it has them.

    Returns
    -------
    str
        The service's name.

    Raises
    ------
    InvalidInputError
        When ``metric`` is not text (from :func:`faultgraph.services.service_of`).
    """
    from faultgraph.services import service_of

    return service_of(metric)


@dataclass(frozen=True)
class Cause:
    """One ranked candidate root cause, with the parts of its score: ``noise_z`` (mean
    |residual z| of its learned equation over the window) and ``effect_on_target``,
    ``innovation_z`` (mean of its :data:`BURST_STEPS` largest |innovation z|; ``None`` in
    ``to_dict`` for a model saved without innovations) and ``deviation_z`` (max |z| of the
    metric itself, N-sigma). A metric that held one value throughout training and left it
    in the window has ``constant_value`` (that value) and ``largest_departure``, an
    infinite ``score`` (``None`` in ``to_dict``) and no z-scores: the model has no scale
    for it, and any move is news. ``onset`` is when the metric broke: its first step in the
    window with |z| or |innovation z| beyond :data:`ONSET_Z`, traced back while either
    stays beyond :data:`ONSET_TRACE_Z`, so it may precede the window (by up to
    :data:`ONSET_LOOKBACK` steps or more, see there); for a constant, the first step of its
    move off its value that reaches the window; ``None`` when the metric stayed within
    :data:`ONSET_Z` throughout the window. ``onset_censored``: the excursion reaches back
    to the first row read, so ``onset`` is that row and the metric broke then or before.
    Read along a path, the onsets say how the fault spread and when."""

    metric: str
    service: str
    score: float
    noise_z: float
    effect_on_target: float
    path: tuple[str, ...] = ()
    innovation_z: float = float("nan")
    deviation_z: float = float("nan")
    constant_value: float | None = None
    largest_departure: float | None = None
    onset: Any = None
    onset_censored: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "service": self.service, "score": _finite_or_none(self.score),
                "noise_z": _finite_or_none(self.noise_z), "innovation_z": _finite_or_none(self.innovation_z),
                "deviation_z": _finite_or_none(self.deviation_z), "effect_on_target": self.effect_on_target,
                "path": list(self.path), "constant_value": self.constant_value,
                "largest_departure": self.largest_departure,
                "onset": _bound(self.onset) if self.onset is not None else None,
                "onset_censored": self.onset_censored}

    @property
    def onset_label(self) -> str | None:
        """The onset as text: ``1534``, ``by 1170`` when censored (then or earlier), or
        ``None``."""
        if self.onset is None:
            return None
        return f"by {self.onset}" if self.onset_censored else str(self.onset)


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _bound(value: Any) -> int | float | str:
    """A step of the data's index for JSON: a number stays a number, a time is written as text."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    return str(value)


#: :attr:`Explanation.caveats`: the first this many causes are checked against the model's flags.
CAVEAT_TOP = 5


@dataclass(frozen=True)
class Explanation:
    """The ranked causes of the anomaly in ``window``; ``services`` ranks services by
    their best metric; ``reference`` is the first and last step of the recent normal the
    window was compared with (``None``: the training period alone), ``reference_window``
    the ``reference_window`` that chose it (for :func:`step_scores` on the same data);
    ``flagged``: ``(metric, reason)`` for each metric whose learned equation the ranking set
    aside (near-deterministic in training, :func:`ranking_scales`): it is ranked on its
    own deviation; ``caveats``: ``(metric, reason)`` for each of the first
    :data:`CAVEAT_TOP` causes that the model flagged at fit
    (:attr:`~faultgraph.detect.CausalDetector.flagged_`: a near-duplicate, a
    near-deterministic equation, a metric nearly always at one value), whose score can run
    large; ``scales``: the residual and innovation scales the causes were scored on
    (``"calibrated"`` or ``"model"``, :func:`ranking_scales`)."""

    causes: tuple[Cause, ...]
    target: str
    window: tuple[Any, Any]
    method: str
    services: tuple[tuple[str, float], ...] = ()
    elapsed_s: float = field(default=0.0, compare=False)
    reference: tuple[Any, Any] | None = None
    reference_window: int = field(default=0, compare=False, repr=False)
    flagged: tuple[tuple[str, str], ...] = ()
    caveats: tuple[tuple[str, str], ...] = ()
    scales: str = "model"

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "window": [_bound(v) for v in self.window], "method": self.method,
                "reference": [_bound(v) for v in self.reference] if self.reference is not None else None,
                "causes": [c.to_dict() for c in self.causes],
                "services": [{"service": s, "score": _finite_or_none(v)} for s, v in self.services],
                "flagged": dict(self.flagged), "caveats": dict(self.caveats), "scales": self.scales,
                "elapsed_s": self.elapsed_s}

    @property
    def first_modelled(self) -> Cause | None:
        """The best cause the model scores (a metric constant in training that moved is
        listed first but is no node of its graph), or None."""
        return next((c for c in self.causes if c.constant_value is None), None)

    def timed_path(self, cause: Cause, arrow: str = " -> ") -> str:
        """``cause``'s path with each metric's onset where it has one:
        ``s6_errors (1534) -> s5_errors (1537)``: how the fault spread, and when (``by T``:
        at ``T``, the first row read, or before).

        Parameters
        ----------
        cause : Cause
            The cause whose :attr:`Cause.path` is written; the onsets are looked up among
            this explanation's causes by metric name (a metric on the path that is not
            among them, or has no onset, is written bare).
        arrow : str, default " -> "
            What joins the steps of the path.

        Returns
        -------
        str
            The path as text; empty when ``cause`` has no path.
        """
        label = {c.metric: c.onset_label for c in self.causes}
        return arrow.join(f"{m} ({label[m]})" if label.get(m) is not None else m for m in cause.path)

    def top(self, k: int = 1, level: Literal["metric", "service"] = "metric") -> list[str]:
        """The ``k`` best metrics (or services).

        Parameters
        ----------
        k : int, default 1
            How many to return (fewer when there are fewer causes or services).
        level : {"metric", "service"}, default "metric"
            ``"service"``: names from :attr:`services` (services ranked by their best
            metric); anything else: metric names from :attr:`causes`.

        Returns
        -------
        list of str
            Best first.
        """
        if level == "service":
            return [s for s, _ in self.services[:k]]
        return [c.metric for c in self.causes[:k]]

    def __str__(self) -> str:
        lines = [f"root causes of the anomaly in {self.window[0]} .. {self.window[1]} "
                 f"(symptom {self.target}, method {self.method}):"]
        onsets = [("value in range" if c.onset is None else c.onset_label if c.onset_censored else f"from {c.onset}")
                  for c in self.causes[:5]]
        width = max(map(len, onsets), default=0)
        for k, (c, onset) in enumerate(zip(self.causes[:5], onsets), 1):
            if c.constant_value is not None:
                since = f"since {c.onset} or earlier," if c.onset_censored else f"from {c.onset}"
                lines.append(f"  {k}. {c.metric:<28} constant at {c.constant_value:g} in training, off it {since} "
                             f"by up to {c.largest_departure:g} here")
                continue
            path = " -> ".join(c.path)
            lines.append(f"  {k}. {c.metric:<28} score {c.score:8.3f}  noise z {c.noise_z:6.2f}  {onset:<{width}}  "
                         f"{path}")
        lines += [f"  note on {metric}: {why}" for metric, why in self.caveats]
        return "\n".join(lines)


def _as_time(bound: Any, index: pd.DatetimeIndex) -> pd.Timestamp:
    """A window bound on a time index: a bare number is seconds since 1970-01-01 UTC
    (milliseconds above 1e12), as the readers take a numeric time column; not pandas'
    nanoseconds."""
    if isinstance(bound, (int, float, np.integer, np.floating)) and not isinstance(bound, (bool, np.bool_)):
        if not np.isfinite(bound):
            return pd.NaT
        moment = pd.Timestamp(float(bound), unit=epoch_unit(abs(bound)), tz="UTC")
        return moment.tz_convert(index.tz) if index.tz is not None else moment.tz_localize(None)
    return pd.Timestamp(bound)


def _window_mask(index: pd.Index, window: tuple[Any, Any], min_steps: int) -> np.ndarray:
    if not isinstance(window, (tuple, list)) or len(window) != 2:
        raise InvalidInputError(f"window must be a (start, end) pair, got {window!r}")
    if len(index) == 0:
        raise InvalidInputError(f"window {window[0]!r} .. {window[1]!r}: the data holds no rows; give the metrics "
                                "that span the window")
    from faultgraph.io.metrics import EPOCH_ABOVE

    start, end = window
    numbers = [b for b in (start, end) if isinstance(b, (int, float, np.integer, np.floating))
               and not isinstance(b, (bool, np.bool_)) and np.isfinite(b)]
    if isinstance(index, pd.DatetimeIndex) and len(index) and numbers and all(abs(b) < EPOCH_ABOVE for b in numbers):
        rows = [int(b) for b in numbers if float(b).is_integer() and 0 <= b < len(index)]
        seen = (f"; rows {rows[0]} .. {rows[-1]} are {index[rows[0]]} .. {index[rows[-1]]}"
                if len(rows) == len(numbers) else "")
        raise InvalidInputError(
            f"window {start!r} .. {end!r} looks like row numbers, but the data's index holds times ({index[0]} .. "
            f"{index[-1]}); give the bounds as times (--start '{index[0]}') or Unix seconds (above "
            f"{EPOCH_ABOVE:.0e}){seen}")
    try:
        if isinstance(index, pd.DatetimeIndex):
            start, end = _as_time(start, index), _as_time(end, index)
            if index.tz is not None:
                start = start.tz_localize(index.tz) if start.tzinfo is None else start
                end = end.tz_localize(index.tz) if end.tzinfo is None else end
        missing = pd.isna(start) or pd.isna(end)
        if not missing:
            reversed_ = start > end
            mask = np.asarray((index >= start) & (index <= end))
            outside = start < index[0] or end > index[-1]
    except (TypeError, ValueError):
        if isinstance(index, pd.DatetimeIndex) and len(index):
            def is_time(bound: Any) -> bool:
                try:
                    pd.Timestamp(bound)
                except (TypeError, ValueError):
                    return False
                return True

            bad = next((b for b in window if not is_time(b)), window[0])
            raise InvalidInputError(f"window bound {bad!r} is not a time; the data's index holds times "
                                    f"({index[0]} .. {index[-1]}): give times such as '{index[0]}'") from None
        if pd.api.types.is_numeric_dtype(index):
            shown = f": give step numbers between {index[0]} and {index[-1]}" if len(index) else ""
            raise InvalidInputError(f"window {window!r} is not comparable with the data's index ({index.dtype}: "
                                    f"numbered steps, no times){shown}") from None
        raise InvalidInputError(f"window {window!r} is not comparable with the data's index ({index.dtype})"
                                + (f": it runs from {index[0]!r} to {index[-1]!r}" if len(index) else "")) from None
    if missing:
        raise InvalidInputError(f"window bounds must be times or numbers, got {window[0]!r} .. {window[1]!r}")
    if reversed_:
        raise InvalidInputError(f"window start {start} comes after its end {end}")
    if not mask.any():
        if len(index) and index[0] <= start and end <= index[-1]:  # between two rows
            after = index[index > end]
            raise InvalidInputError(f"window {start} .. {end} holds no row of the data: it falls between two of its "
                                    f"steps (the next is {after[0]}); widen it to hold at least one step")
        raise InvalidInputError(f"window {start} .. {end} lies outside the data ({index[0]} .. {index[-1]})")
    if outside:
        raise InvalidInputError(f"window {start} .. {end} reaches outside the data ({index[0]} .. {index[-1]}); "
                                "give bounds inside it")
    if mask.sum() < min_steps:
        raise InvalidInputError(f"window {start} .. {end} holds {int(mask.sum())} steps; at least {min_steps} needed")
    return mask


def summary_graph(model: CausalDetector) -> np.ndarray:
    """Same-step and lagged edges as one ``(d, d)`` weight matrix (largest |weight| per pair).

    Parameters
    ----------
    model : CausalDetector
        A fitted detector; its ``graph_.adjacency`` (same-step edges) and, where it has
        them, ``graph_.lagged`` (one ``(d, d)`` matrix per lag) are read.

    Returns
    -------
    numpy.ndarray
        ``(d, d)`` float weights, ``W[i, j]`` the edge ``i → j``: for each pair, the
        same-step weight or a lagged one, whichever is largest in absolute value (sign
        kept); 0 where there is no edge at any lag.
    """
    W = np.array(model.graph_.adjacency, dtype=float)
    if model.graph_.lagged is not None:
        for A in model.graph_.lagged:
            W = np.where(np.abs(A) > np.abs(W), A, W)
    return W


#: A metric has broken (see :attr:`Cause.onset`) at a step where its |z| (mean/std of
#: training, from the recent normal: the N-sigma z) or its |innovation z| exceeds this.
#: Four, not three: over a window of 100 steps and 50 metrics the three-sigma rule
#: expects 13 chance crossings, four sigma 0.3 (how it was chosen: ``CHANGELOG.md``).
ONSET_Z = 4.0
#: From its first step beyond :data:`ONSET_Z` in the window, a metric's onset is traced
#: back while it stays beyond this (hysteresis): the start of that excursion.
ONSET_TRACE_Z = 3.0
#: Rows read before the window for tracing onsets back: at least this many (more with
#: a longer recent normal; fewer where the data begin later, or where a gap too long to
#: fill lies among these rows and not in the recent normal). An excursion that reaches
#: back to the first row read has a censored onset (:attr:`Cause.onset_censored`).
ONSET_LOOKBACK = 360
#: Fewest steps before a window that may serve as its recent normal (fewer: the training
#: period alone is the reference). The median of a shorter span follows ordinary slow
#: swings of load (``CHANGELOG.md``).
MIN_REFERENCE = 60
#: The innovation score of a window is the mean of each metric's this many largest
#: |innovation z|: a fault surprises the autoregression at its onset, after which the
#: past predicts the new state, so a mean over the whole window dilutes the burst, while
#: a single maximum is one chance spike.
BURST_STEPS = 3


def window_reference(mask: np.ndarray, length: int) -> slice | None:
    """The up to ``length`` rows before the window ``mask`` that give its recent normal;
    ``None`` when fewer than :data:`MIN_REFERENCE` are there or ``length`` is 0.

    Parameters
    ----------
    mask : numpy.ndarray of bool
        ``(n_rows,)``: the window's rows among the data's (at least one True).
    length : int
        Most rows to take before the window's first row (the reference window).

    Returns
    -------
    slice or None
        The rows ``[max(0, first - length), first)`` before the window's first row
        ``first``, or ``None``.
    """
    first = int(np.flatnonzero(mask)[0])
    start = max(0, first - int(length))
    return slice(start, first) if length > 0 and first - start >= MIN_REFERENCE else None


def recent_normal(values: np.ndarray, mask: np.ndarray, reference: slice | None,
                  tolerance: float = DRIFT_TOLERANCE) -> np.ndarray:
    """The window's rows of ``values`` (deviations standardised on the training period)
    less the part of their median over ``reference`` (the steps just before the window)
    that lies beyond ``±tolerance``: the soft threshold of
    :func:`~faultgraph.detect.drift_adjust`, frozen at the window's start. A system that
    has settled at a new level since training (a deploy, a scale-up) is compared with
    where it was just before the incident, not with the training period; stationary data
    are left as they are. ``reference=None``: the window's rows unchanged.

    Parameters
    ----------
    values : numpy.ndarray
        ``(n_rows, d)`` deviations standardised on the training period (z-scores), one
        column per metric, every row of the data.
    mask : numpy.ndarray of bool
        ``(n_rows,)``: the window's rows.
    reference : slice or None
        The rows of the recent normal (:func:`window_reference`), or ``None``.
    tolerance : float, default ``DRIFT_TOLERANCE``
        Half-width in sd of the band around the training centre within which a median
        is noise, not drift (:func:`~faultgraph.detect.unsupervised.beyond_tolerance`).

    Returns
    -------
    numpy.ndarray
        ``(mask.sum(), d)``: the window's rows less each column's drift.
    """
    return values[mask] - _drift(values, reference, tolerance)


def _drift(values: np.ndarray, reference: slice | None, tolerance: float = DRIFT_TOLERANCE) -> np.ndarray | float:
    """What :func:`recent_normal` takes off: the median over ``reference`` beyond
    ``±tolerance`` (0 without a reference)."""
    if reference is None:
        return 0.0
    return beyond_tolerance(np.median(values[reference], axis=0), tolerance)


def burst(A: np.ndarray, steps: int = BURST_STEPS) -> np.ndarray:
    """Each column's mean of its ``steps`` largest values (all of them in a shorter window).

    Parameters
    ----------
    A : numpy.ndarray
        ``(n_steps, d)`` values, one column per metric (the innovation score passes
        absolute innovation z-scores).
    steps : int, default ``BURST_STEPS``
        How many of each column's largest values are averaged.

    Returns
    -------
    numpy.ndarray
        ``(d,)``: the mean of each column's ``min(steps, n_steps)`` largest values.
    """
    k = min(steps, len(A))
    return np.sort(A, axis=0)[len(A) - k:].mean(axis=0)


def _rows_needed(model: CausalDetector, data: pd.DataFrame, mask: np.ndarray, reference: slice | None,
                 lookback: int = ONSET_LOOKBACK) -> tuple[pd.DataFrame, np.ndarray, slice | None]:
    """Only the rows the ranking reads: the recent normal and ``lookback`` steps before
    the window (where onsets are traced back), whichever reach further, with the
    past its lagged equations and autoregression need, the window, and ``max_gap + 1`` rows either
    side so that gaps at the edges fill as in the whole data. ``mask`` and ``reference``
    are moved to match, so a long history costs nothing more."""
    rows = np.flatnonzero(mask)
    margin = int(model.encoder_.max_gap) + 1
    first = min(reference.start if reference is not None else int(rows[0]), int(rows[0]) - lookback)
    lo = max(0, first - max(int(model.lags_), 1) - margin)
    hi = min(len(data), int(rows[-1]) + 1 + margin)
    moved = slice(reference.start - lo, reference.stop - lo) if reference is not None else None
    return data.iloc[lo:hi], mask[lo:hi], moved


def _settled_rows(mask: np.ndarray, reference: slice | None, reference_window: int) -> slice | None:
    """The rows before the window that say where a training constant stands when the
    window opens: the recent normal, or where it is too short to be one
    (:data:`MIN_REFERENCE`) the up to ``reference_window`` rows read before it (a
    constant that settled elsewhere since training, as a memory gauge at a new level,
    moves in the window only if it leaves that level); ``None`` without any, or with
    ``reference_window`` 0 (the training period alone)."""
    if reference is not None or not reference_window:
        return reference
    first = int(np.flatnonzero(mask)[0])
    return slice(max(0, first - int(reference_window)), first) if first > 0 else None


def _constant_departures(model: CausalDetector, data: pd.DataFrame, settled: slice | None
                         ) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """The metrics that held one value throughout training: their names, training values,
    departures at every row of ``data`` and where they are off that value and, given the
    rows before the window (:func:`_settled_rows`), off its median there too: a constant
    that settled elsewhere since training (a memory gauge at a new level) did not break in
    the window unless it leaves that level. Missing values count as no move."""
    departures = model.encoder_.departures(data)
    names = [str(c) for c in departures.columns]
    A = departures.to_numpy()
    values = np.array([model.encoder_.constants_[c] for c in departures.columns], dtype=float)
    base = np.zeros(A.shape[1])
    if names and settled is not None and np.isfinite(A[settled]).any():
        with warnings.catch_warnings():  # a column missing throughout those rows: no median, base 0
            warnings.simplefilter("ignore", RuntimeWarning)
            base = np.nan_to_num(np.nanmedian(A[settled], axis=0))
    return names, values, A, constant_moves(A, values, base)


def _onsets(start: np.ndarray, trace: np.ndarray, mask: np.ndarray, index: pd.Index
            ) -> list[tuple[Any, bool]]:
    """For each column (rows of the data read), where the excursion began that holds its
    first ``start`` step in the window ``mask``, traced back from there while ``trace``
    holds, maybe to before the window; and whether it reaches the first row read (then
    it began there or earlier: censored). ``(None, False)`` for a column with no
    ``start`` step in the window."""
    rows = np.flatnonzero(mask)
    onsets: list[tuple[Any, bool]] = []
    for j in range(start.shape[1]):
        inside = start[rows, j]
        if not inside.any():
            onsets.append((None, False))
            continue
        k = int(rows[np.argmax(inside)])
        while k > 0 and trace[k - 1, j]:
            k -= 1
        onsets.append((index[k], k == 0))
    return onsets


def _moved_constants(model: CausalDetector, data: pd.DataFrame, mask: np.ndarray, settled: slice | None,
                     to_service: Callable[[str], str]) -> tuple[list[Cause], tuple[tuple[str, str], ...]]:
    """The metrics constant in training that leave their value in the window
    (:func:`_constant_departures`), most persistent first, and the
    :attr:`Explanation.caveats` of :func:`_unseen_state` for them."""
    names, values, A, off_all = _constant_departures(model, data, settled)
    window, off = A[mask], off_all[mask]
    largest = np.where(off, np.abs(np.nan_to_num(window)), 0.0).max(axis=0, initial=0.0)
    moved = sorted(np.flatnonzero(off.any(axis=0)), key=lambda j: (-off[:, j].mean(), -largest[j]))
    onsets = _onsets(off_all, off_all, mask, data.index)
    nan = float("nan")
    causes = [Cause(names[j], to_service(names[j]), float("inf"), nan, 0.0, (names[j],), nan, nan,
                    float(values[j]), float(largest[j]), *onsets[j]) for j in moved]
    before = A[:int(np.flatnonzero(mask)[0])][:, moved]
    return causes, _unseen_state(causes, constant_moves(before, values[moved]))


def check_target(model: CausalDetector, target: str | None) -> None:
    """Refuse a symptom the model cannot explain a move of, saying why: a metric constant in
    training (the model left it out: no scale, equation or place in the graph), one the
    model dropped at fit for another reason, or a name it does not know.

    Parameters
    ----------
    model : CausalDetector
        A fitted detector.
    target : str or None
        The symptom asked for; None (choose one) passes.

    Raises
    ------
    InvalidInputError
        As above; the message names the metric and what is allowed.
    """
    if target is None:
        return
    encoder, name = model.encoder_, str(target)
    if name in encoder.columns_:
        return
    if name in encoder.constants_:
        value = f"{encoder.constants_[name]:g}"
        raise InvalidInputError(
            f"target {name!r} was constant at {value} throughout the training data, so the model left it out (no "
            f"scale, equation or place in the graph to explain a move by): it cannot be the symptom; if it leaves "
            f"{value} in the window, the explanation lists it first among the causes. Give as target a metric that "
            "varied in training, or none")
    if name in encoder.dropped_:
        raise InvalidInputError(f"target {name!r} was left out of the model at fit ({encoder.dropped_[name]}), so "
                                "it cannot be the symptom; give a metric the model holds as the target, or none")
    raise InvalidInputError(f"target {name!r} is not a metric of the model; metrics: "
                            + describe_names(list(encoder.columns_)))


def _flat_symptom(data: pd.DataFrame, mask: np.ndarray, target: str, given: bool,
                  caveats: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """``caveats`` with one on the symptom, first, and a warning, when it held one value over
    the window and the step before it: its causes' effects on it and paths to it then explain
    no move. The symptom chosen automatically is never flat while another metric moved, so
    this is a ``target`` given, or data in which nothing moved."""
    column = next((c for c in data.columns if str(c) == target), None)  # metric names are text (column 1 is "1")
    if column is None:
        return caveats
    rows = np.flatnonzero(mask)
    values = np.asarray(data[column], dtype=float)[max(int(rows[0]) - 1, 0): int(rows[-1]) + 1]
    seen = values[np.isfinite(values)]
    if seen.size and seen.max() > seen.min():
        return caveats
    held = f"held one value ({seen[0]:g})" if seen.size else "had no value"
    why = (f"the symptom {held} throughout the window and the step before it: it did not move, so the causes' "
           "effects on it and paths to it explain no change here; "
           + ("give as target a metric that moved (without one, the metric that deviates most among those that "
              "moved is taken)" if given else "no metric moved in the window"))
    warnings.warn(f"target {target!r} {why.removeprefix('the symptom ')}", UserWarning, stacklevel=3)
    own = [note for metric, note in caveats if metric == target]  # the symptom's note first: it qualifies the rest
    return ((target, "; ".join([why, *own])), *((m, note) for m, note in caveats if m != target))


def _unseen_state(causes: Sequence[Cause], off_before: np.ndarray) -> tuple[tuple[str, str], ...]:
    """:attr:`Explanation.caveats` for the moved training constants ``causes`` that were off
    their training value at more than half of the rows read before the window (columns of
    ``off_before``, one per cause): a state the training period did not see, such as
    traffic on a service that was idle then, rather than what broke in the window. They
    stay listed (a constant that moves is news), but the reader is told: a model fitted on a
    period without this traffic ranks every such metric first (Nezha Train Ticket, fitted
    on its idle evening hours: 20 workloads), and demoting them instead lowered Nezha
    Online Boutique's AC@1 from 0.750 to 0.589."""
    if not len(off_before):
        return ()
    share = off_before.mean(axis=0)
    return tuple((c.metric, f"constant at {c.constant_value:g} in training and off it at {share[k]:.0%} of the "
                            f"{len(off_before)} steps read before the window: a state the training period did not "
                            "see (traffic, a deployment), not necessarily this incident; fit the model on a period "
                            "that covers it") for k, c in enumerate(causes) if share[k] > 0.5)


#: ``scales`` of :func:`explain` and :func:`step_scores`: ``"calibrated"``, the scales of
#: :func:`ranking_scales` (:data:`DEFAULT_SCALES`); ``"model"``, the model's own (its ``scale_floor``, 0 by
#: default: a residual's standard deviation as it was in training, however small).
SCALES: tuple[str, ...] = values(RankingScales)
#: The ``scales`` :func:`explain` and :func:`step_scores` use unless told: the calibrated
#: ones. Chosen on the tune sets (simulated, SMD tune, ASD, PetShop, Nezha Online Boutique),
#: default method, by the best mean headline: 0.798 vs the model's 0.796 (SMD tune 0.800 vs
#: 0.791, ASD 0.902 vs 0.903, the rest tied; SMD segments read with their ends inclusive,
#: ``faultgraph.datasets.smd.exclusive_ends``), nearly a tie, so the reason is also the
#: issue's: a residual scale that collapsed in training (a duplicate, P99 from P90 and P95)
#: cannot own a ranking. ``benchmarks/results/rca_scales.md``; the model's scales won while
#: explain did not yet watch the constants that settled elsewhere (CHANGELOG).
DEFAULT_SCALES = "calibrated"
#: ``scales="calibrated"``: no residual or innovation scale in the ranking falls below this
#: share of the metric's own robust variation (``min(1, sd)`` in the encoded units, where 1
#: is the metric's robust scale); an equation whose training residual's standard deviation
#: is below it is flagged (a duplicate, P99 from P90 and P95 of one histogram, a sum of its
#: parts). Chosen on the tune data: ``benchmarks/results/rca_scales.md``.
RANK_SCALE_FLOOR = 0.01
#: ``scales="calibrated"``: an equation whose training residual's standard deviation is
#: below this share of the metric's own is *near-deterministic*: set aside, the metric
#: ranked on its own deviation (N-sigma z). 0: none (the default; measured in
#: ``benchmarks/results/rca_scales.md``).
RANK_DETERMINISTIC = 0.0


#: ``scales="calibrated"``: with at least this many rows before the window, a metric whose
#: values there lie on a regular grid and repeat (a count, a gauge rounded to a step:
#: :func:`grid_step`) is never measured more finely than its step: each of its scales is at
#: least ``step / √6`` (as :func:`~faultgraph.detect.unsupervised.rounding_scale`), so one
#: tick of a count that is nearly constant is not a 6-sd event. 0: off (the default: on SMD
#: tune it ranked worse, ``benchmarks/results/rca_scales.md``).
RANK_RESOLUTION_ROWS = 0


#: ``scales="calibrated"``: a metric's residual is never counted beyond its own move: each
#: step's |residual z| is at most the metric's own deviation from its training mean on the
#: residual's scale. A residual far larger than that comes from the parents' side of the
#: equation (collinear parents whose coefficients cancel in training and not in the window),
#: one broken relation that says nothing about the metric itself. False: off.
RANK_OWN_MOVE = True


def grid_step(X: np.ndarray, min_rows: int = 60) -> np.ndarray:
    """Per column of ``X`` (rows in time order), the step of the regular grid its values lie
    on when they repeat (at most half as many distinct values as finite rows, at least two,
    every gap between neighbouring values a whole multiple of the smallest to one part in a
    million): a count, a gauge rounded to a step. 0 for other columns (continuous values,
    one value only) and for all of them with fewer than ``min_rows`` rows. Unit-free: the
    same data in other units give the same steps in those units.

    Parameters
    ----------
    X : (n, d) ndarray of float
        The values, one metric per column (NaN ignored).
    min_rows : int, default 60
        The fewest rows the steps are read from.

    Returns
    -------
    (d,) ndarray of float
        The grid step per column, or 0.
    """
    X = np.asarray(X, dtype=float)
    step = np.zeros(X.shape[1] if X.ndim == 2 else 0)
    if X.ndim != 2 or len(X) < max(int(min_rows), 1):
        return step
    for j in range(X.shape[1]):
        x = X[:, j][np.isfinite(X[:, j])]
        values = np.unique(x)
        if len(values) < 2 or len(values) > len(x) / 2:
            continue
        gaps = np.diff(values)
        q = float(gaps.min())
        ratio = gaps / q
        if q > 0 and np.all(np.abs(ratio - np.round(ratio)) <= 1e-6 * np.maximum(1.0, ratio)):
            step[j] = q
    return step


def ranking_scales(model: CausalDetector, scales: str = "calibrated", share: float = RANK_SCALE_FLOOR,
                   deterministic: float = RANK_DETERMINISTIC
                   ) -> tuple[np.ndarray, np.ndarray | None, dict[str, str], np.ndarray]:
    """The scales the ranking divides each metric's residual and innovation by, the metrics
    whose equation it flags, and those it sets aside as near-deterministic.

    ``"calibrated"``: a residual's scale (and an innovation's) is the larger of its
    training standard deviation and ``share`` of the metric's own robust variation
    ``min(1, sd)`` (in the encoded units, 1 is the metric's robust scale, which the encoder
    keeps no finer than a share of its standard deviation). So no scale collapses: a count
    that two equations reproduce exactly in training (standard deviation 1e-12) is measured
    on a scale of at least ``share`` of its own, not in units of 1e-12. Equations whose
    training residual's standard deviation is below ``share`` (or ``deterministic``) of the
    metric's are flagged (``{metric: reason}``); those below ``deterministic`` are set aside:
    the ranking scores their metrics by their own deviation (N-sigma z) instead of the
    residual. ``"model"``: the model's residual standard deviations floored at its
    ``scale_floor`` (0 by default: none), the innovations' unchanged (``None``), nothing
    flagged.

    Parameters
    ----------
    model : CausalDetector
        A fitted detector.
    scales : {"calibrated", "model"}, default "calibrated"
        Which scales (see above).
    share : float, default ``RANK_SCALE_FLOOR``
        The floor as a share of each metric's own robust variation, >= 0.
    deterministic : float, default ``RANK_DETERMINISTIC``
        Below this share of the metric's own variation, an equation is set aside, >= 0.

    Returns
    -------
    tuple of ((d,) ndarray, (d,) ndarray or None, dict, (d,) ndarray of bool)
        The residual scales, the innovation scales (``None``: the model's, unchanged, and
        for a model without innovations), the flagged metrics with the reason in words,
        and which metrics' equations are set aside.

    Raises
    ------
    InvalidInputError
        When ``scales`` is not one of :data:`SCALES`, or ``share`` or ``deterministic`` is
        not a number >= 0.
    """
    check_choice("scales", scales, SCALES)
    for name, value in (("share", share), ("deterministic", deterministic)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or \
                not np.isfinite(value) or value < 0:
            raise InvalidInputError(f"{name} must be a number >= 0, got {value!r}")
    d = len(model.resid_std_)
    if scales == "model":
        floor = float(getattr(model, "scale_floor", 0.0) or 0.0)
        resid = (np.maximum(model.resid_std_, floor * np.minimum(1.0, model.train_std_)) if floor > 0
                 else model.resid_std_)
        return resid, None, {}, np.zeros(d, dtype=bool)
    own = np.minimum(1.0, model.train_std_)
    floor = float(share) * own
    resid = np.maximum(model.resid_std_, floor)
    innov = (np.maximum(model.innov_resid_std_, floor) if getattr(model, "has_innovations", False) else None)
    names = [str(c) for c in model.encoder_.columns_]
    ratio = model.resid_std_ / own
    aside = ratio < float(deterministic)
    flagged = {}
    for j in np.flatnonzero((ratio < share) | aside):
        flagged[names[j]] = (f"near-deterministic: its equation's training residual sd is {ratio[j]:.2g} of the "
                             f"metric's own; " + (f"set aside (below {deterministic:g}), ranked on the metric's own "
                                                  "deviation (N-sigma z)" if aside[j] else
                                                  f"its scale floored at {share:g} of the metric's own"))
    return resid, innov, flagged, aside


@dataclass(frozen=True)
class _Terms:
    """The per-step parts of every score over a window (rows of the window, columns of
    the model's metrics, signed, measured from the recent normal), with the rows read;
    ``settled``: the rows that give a training constant its level before the window
    (:func:`_settled_rows`)."""

    data: pd.DataFrame
    mask: np.ndarray
    reference: slice | None
    names: list[str]
    parts: dict[str, np.ndarray]
    target: int
    broken: np.ndarray
    reference_window: int
    context: list[np.ndarray] = field(default_factory=list)
    flagged: dict[str, str] = field(default_factory=dict)
    settled: slice | None = None


def _window_terms(model: CausalDetector, data: pd.DataFrame, window: tuple[Any, Any], target: str | None,
                  method: str, min_steps: int, reference_window: int | None,
                  ensemble: ContextEnsemble | None = None, scales: str | None = None) -> _Terms:
    """Check the window and data ``explain`` and ``step_scores`` share and compute the parts of
    their scores: ``noise`` (residual z of each learned equation), ``innovation`` (when
    the method or the model has them), ``marginal`` (robust z) and ``nsigma`` (mean/std z)."""
    if reference_window is not None:
        check_window("reference_window", reference_window, MIN_REFERENCE, "the training period alone")
    scales = DEFAULT_SCALES if scales is None else check_choice("scales", scales, SCALES)
    if not isinstance(data, pd.DataFrame):
        raise InvalidInputError(f"data must be a DataFrame, got {type(data).__name__}")
    if not data.index.is_monotonic_increasing:
        raise InvalidInputError("data's index must be in time order (increasing); sort it (data.sort_index()) "
                                "or, for files joined end to end, give each a distinct time")
    mask = _window_mask(data.index, window, min_steps)
    if reference_window is None:  # the model's drift window, at least MIN_REFERENCE steps unless 0
        reference_window = max(int(model.drift_window), MIN_REFERENCE) if model.drift_window else 0
    reference = window_reference(mask, reference_window)
    try:
        rows = _rows_needed(model, data, mask, reference)
        X, D = model.residuals(rows[0])  # robust z of each metric, and its residual
    except InvalidInputError:  # e.g. a gap too long to fill among the rows read for onsets only
        base = _rows_needed(model, data, mask, reference, lookback=0)
        if len(base[0]) == len(rows[0]):
            raise
        rows = base
        X, D = model.residuals(rows[0])
    data, mask, reference = rows
    names = list(model.encoder_.columns_)
    target = None if target is None else str(target)  # metric names are text (column 0 is "0")
    check_target(model, target)
    # residuals in standard deviations of the training residuals (across metrics, a
    # median/IQR scale inflates those that are flat most of the time and spiky otherwise),
    # never finer than the floors of ranking_scales: an equation that held exactly in
    # training (a duplicate's) would otherwise score 1e12 when it bends
    resid_scale, innov_scale, flagged, aside = ranking_scales(model, scales, RANK_SCALE_FLOOR, RANK_DETERMINISTIC)
    train_std = model.train_std_
    if scales == "calibrated" and RANK_RESOLUTION_ROWS > 0:  # no scale finer than the metric's grid step
        resolution = grid_step(X[: int(np.flatnonzero(mask)[0])], RANK_RESOLUTION_ROWS) / np.sqrt(6.0)
        train_std, resid_scale = np.maximum(train_std, resolution), np.maximum(resid_scale, resolution)
        innov_scale = np.maximum(innov_scale, resolution) if innov_scale is not None else None
    nsigma = (X - model.train_mean_) / train_std
    noise = (D - model.resid_mean_) / resid_scale
    if scales == "calibrated" and RANK_OWN_MOVE:  # never beyond the metric's own move, on the residual's scale
        own_move = np.abs(X - model.train_mean_) / resid_scale
        noise = np.sign(noise) * np.minimum(np.abs(noise), own_move)
    if aside.any():  # near-deterministic equations: the metric's own deviation stands in for the residual's
        noise[:, aside] = nsigma[:, aside]
    parts = {"noise": noise, "marginal": X, "nsigma": nsigma}
    if model.has_innovations or "innovation" in method:
        parts["innovation"] = model.innovations_from_encoded(X)
        if innov_scale is not None:
            parts["innovation"] = parts["innovation"] * (model.innov_resid_std_ / innov_scale)
    # every row read less its drift (recent_normal), not only the window's: a metric's
    # excursion may begin before the window. broken: the larger of |z| and |innovation z|
    shifted = {k: v - _drift(v, reference) for k, v in parts.items()}
    broken = np.nan_to_num(np.abs(shifted["nsigma"]))
    if "innovation" in shifted:
        innovation = np.nan_to_num(np.abs(shifted["innovation"]))
        innovation[: max(int(model.lags_), 1)] = 0.0  # the first rows read have no past: copies of the first row
        broken = np.maximum(broken, innovation)
    # the model's soft cap bounds each metric's part, so one broken relation cannot own the ranking
    cap = float(getattr(model, "soft_cap", 0.0) or 0.0)
    context = []
    if "context" in SCORE_PARTS[method]:  # F's coefficient per step: residual z less the reference's mean
        graphs = [parts["noise"]] if ensemble is None else [equation_residuals(X, eq, ensemble.lags)
                                                             for eq in ensemble.equations]
        context = [context_steps(z, mask, reference, cap) for z in graphs]
    parts = {k: soft_cap(v[mask], cap) for k, v in shifted.items()}
    t = _moved_symptom(X, mask, parts["marginal"]) if target is None else names.index(target)
    return _Terms(data, mask, reference, names, parts, t, broken, reference_window, context, flagged,
                  _settled_rows(mask, reference, reference_window))


def _moved_symptom(X: np.ndarray, mask: np.ndarray, marginal: np.ndarray) -> int:
    """The symptom chosen for the user: the metric whose robust z deviates most in the
    window (``marginal``: window rows) among those that *moved*: whose encoded value ``X``
    (every row read) is not one value over the window and the step before it. A metric
    flat there is never chosen while another moved (with none moved, the largest |z|)."""
    rows = np.flatnonzero(mask)
    span = X[max(int(rows[0]) - 1, 0): int(rows[-1]) + 1]
    moved = np.nan_to_num(np.nanmax(span, axis=0) - np.nanmin(span, axis=0)) > 0
    deviation = np.nan_to_num(np.abs(marginal).max(axis=0), nan=-np.inf)
    if moved.any():
        deviation = np.where(moved, deviation, -np.inf)
    return int(np.argmax(deviation))


def _effect_weight(effect: np.ndarray, target: int) -> np.ndarray:
    """``1 + |effect on the symptom|``, 1 for the symptom itself (being the symptom is no
    evidence of being its cause)."""
    weight = 1.0 + np.abs(effect)
    weight[target] = 1.0
    return weight


#: The noise z weighted by each metric's effect on the symptom (:func:`_effect_weight`).
_WEIGHTED = "noise*effect"

#: Each method's score: the sum of these parts (``noise``: the residual's z, ``innovation``:
#: the innovation's z, ``marginal``: BARO's robust z, ``nsigma``: N-sigma's z against the
#: recent normal; :data:`_WEIGHTED`: the noise z times the effect weight); ``random``: none,
#: uniform draws. :func:`explain` sums the parts aggregated over the window,
#: :func:`step_scores` per step.
SCORE_PARTS: dict[str, tuple[str, ...]] = {
    "causal+innovation+nsigma": ("noise", "innovation", "nsigma"),
    "causal+nsigma": (_WEIGHTED, "nsigma"),
    "causal": (_WEIGHTED,),
    "innovation": ("innovation",),
    "noise": ("noise",),
    "baro": ("marginal",),
    "nsigma": ("nsigma",),
    "random": (),
    "mechanism": ("noise",),
    "context": ("context",),
    "context+innovation+nsigma": ("context", "innovation", "nsigma"),
}

#: A parent whose :func:`mechanism_statistic` reaches this is anomalous for
#: :func:`descendant_adjustment` (three standard errors).
MECHANISM_THRESHOLD = 3.0
_HALF_NORMAL_MEAN = float(np.sqrt(2.0 / np.pi))
_HALF_NORMAL_SD = float(np.sqrt(1.0 - 2.0 / np.pi))


def mechanism_statistic(mean_abs_z: np.ndarray, steps: int) -> np.ndarray:
    """The regression-based test statistic of each metric's mechanism change:
    ``T = √n · (mean|z| − √(2/π)) / √(1 − 2/π)``, with ``mean_abs_z`` the mean absolute
    residual z of each metric's learned equation over ``n = steps`` steps of the window.
    Under the null (the metric's equation given its parents holds, its residuals standard
    normal as in training) ``|z|`` is half-normal, so ``T`` is approximately a standard
    normal for any ``n``: a window of 3 steps and one of 300 are read on one scale (the
    small-sample correction: a single large |z| is weaker evidence than a long run).
    CIRCA (Li et al., KDD 2022) tests the same residual against the normal period.

    Parameters
    ----------
    mean_abs_z : numpy.ndarray
        ``(d,)`` or ``(n_rows, d)``: mean absolute residual z of each metric over the
        window.
    steps : int
        ``n``, the window's steps the means were taken over, >= 1.

    Returns
    -------
    numpy.ndarray
        ``T``, of the same shape as ``mean_abs_z``.

    Raises
    ------
    InvalidInputError
        When ``steps`` is not an integer >= 1 (a bool is refused).
    """
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise InvalidInputError(f"steps must be an integer >= 1, got {steps!r}")
    return np.sqrt(steps) * (np.asarray(mean_abs_z, dtype=float) - _HALF_NORMAL_MEAN) / _HALF_NORMAL_SD


def descendant_adjustment(score: np.ndarray, W: np.ndarray, threshold: float = MECHANISM_THRESHOLD) -> np.ndarray:
    """Push down each metric that an anomalous parent explains (CIRCA's descendant
    adjustment, in this form): with ``m_i`` the largest score among the parents ``j`` of
    ``i`` (``W[j, i] != 0``, ``j != i``) whose score is at least ``threshold``, a metric
    with ``m_i > s_i`` scores ``s_i − m_i`` (below zero, so below every metric with no
    such parent and a positive score); the others keep ``s_i``. In a chain ``a → b → c``
    with scores ``(1, 9, 5)``, ``c`` becomes ``5 − 9 = −4``; ``b`` keeps 9 (its parent ``a`` is
    not anomalous).

    Parameters
    ----------
    score : numpy.ndarray
        ``(d,)`` or ``(n_rows, d)`` scores (:func:`mechanism_statistic`), each row adjusted
        on its own.
    W : numpy.ndarray
        ``(d, d)`` weights, ``W[i, j]`` the edge ``i → j`` (:func:`summary_graph`); any
        nonzero entry off the diagonal is an edge, the diagonal is ignored.
    threshold : float, default ``MECHANISM_THRESHOLD``
        The least score of an anomalous parent.

    Returns
    -------
    numpy.ndarray
        The adjusted scores, of the same shape as ``score``.

    Raises
    ------
    InvalidInputError
        When ``W`` is not a square matrix with as many rows as ``score`` has metrics (its
        last axis), or ``threshold`` is not finite.
    """
    s = np.asarray(score, dtype=float)
    W = np.asarray(W)
    if W.ndim != 2 or W.shape[0] != W.shape[1] or W.shape[0] != s.shape[-1]:
        raise InvalidInputError(f"W must be a ({s.shape[-1]}, {s.shape[-1]}) matrix, got shape {W.shape}")
    if not np.isfinite(threshold):
        raise InvalidInputError(f"threshold must be a finite number, got {threshold!r}")
    parent = (W != 0) & ~np.eye(W.shape[0], dtype=bool)  # parent[j, i]: j -> i
    rows = np.atleast_2d(s)
    anomalous = np.where(rows >= threshold, rows, -np.inf)  # (r, d)
    # m[r, i] = max_j anomalous[r, j] over parents j of i
    m = np.max(np.where(parent[None, :, :], anomalous[:, :, None], -np.inf), axis=1, initial=-np.inf)
    out = np.where(m > rows, rows - m, rows)
    return out.reshape(s.shape)


def _method_score(method: str, parts: Mapping[str, np.ndarray], weight: np.ndarray | None,
                  random_state: int | np.random.Generator | None, graph: np.ndarray | None = None,
                  steps: int = 1) -> np.ndarray:
    """``method``'s score from its parts (:data:`SCORE_PARTS`); ``"mechanism"``: the
    |noise z| (a mean over ``steps`` steps) tested (:func:`mechanism_statistic`) and
    adjusted on ``graph`` (:func:`descendant_adjustment`)."""
    if method == RcaMethod.MECHANISM:
        return descendant_adjustment(mechanism_statistic(parts["noise"], steps), graph)
    names = SCORE_PARTS[method]
    if not names:
        return as_generator(random_state).random(np.shape(parts["noise"]))
    terms = [parts["noise"] * weight if name == _WEIGHTED else parts[name] for name in names]
    score = terms[0]
    for term in terms[1:]:
        score = score + term
    return score


def _check_ensemble(model: CausalDetector, method: str, ensemble: ContextEnsemble | None) -> None:
    """``ensemble`` is None, or a :class:`ContextEnsemble` over the model's metrics and lags
    given with a method that has a context part."""
    if ensemble is None:
        return
    if not isinstance(ensemble, ContextEnsemble):
        raise InvalidInputError(f"ensemble must be a ContextEnsemble (faultgraph.rca.context.context_ensemble), "
                                f"got {type(ensemble).__name__}")
    if "context" not in SCORE_PARTS[method]:
        with_context = [m for m, names in SCORE_PARTS.items() if "context" in names]
        raise InvalidInputError(f"ensemble is used by the methods {with_context} only, got method {method!r}")
    names = tuple(str(c) for c in model.encoder_.columns_)
    if ensemble.metrics != names or ensemble.lags != int(model.lags_):
        raise InvalidInputError(f"ensemble was built for {len(ensemble.metrics)} metrics and {ensemble.lags} lags, "
                                f"the model has {len(names)} metrics and {int(model.lags_)} lags: build it from "
                                "this model")
    if ensemble.model_key and ensemble.model_key != model_key(model):
        raise InvalidInputError("ensemble was built from another model of the same metrics (fitted on other rows or "
                                "with other options): build it from this model (context_ensemble(model, train))")


def _checked_method(model: CausalDetector, method: str | None) -> str:
    """``method``, or the default for ``model`` (checked to be a fitted detector)."""
    if not isinstance(model, CausalDetector):
        raise InvalidInputError(f"model must be a fitted CausalDetector, got {type(model).__name__}")
    model.check_fitted()
    if method is not None:
        check_choice("method", method, METHODS)
        return method
    if model.has_innovations:
        return DEFAULT_METHOD
    warnings.warn("this model was saved before faultgraph kept innovations: ranked with causal+nsigma; "
                  "fit it again for the default ranking", UserWarning, stacklevel=3)
    return "causal+nsigma"


def step_scores(
    model: CausalDetector,
    data: pd.DataFrame,
    window: tuple[Any, Any],
    target: str | None = None,
    *,
    method: Method | None = None,
    reference_window: int | None = None,
    random_state: int | np.random.Generator | None = None,
    ensemble: ContextEnsemble | None = None,
    scales: Literal["calibrated", "model"] | None = None,
) -> pd.DataFrame:
    """Each metric's score at each step of ``window``: which metric looks most like a
    cause *at that step*, where :func:`explain` ranks once for the whole window.

    The parts are :func:`explain`'s, per step instead of aggregated over the window:
    ``"causal+innovation+nsigma"`` is ``|noise z| + |innovation z| + |z|`` at the step;
    ``"causal"`` ``|noise z| · (1 + |effect on the symptom|)`` (the symptom chosen over
    the whole window, as :func:`explain` does), ``"causal+nsigma"`` that plus ``|z|``;
    ``"innovation"``, ``"noise"``, ``"baro"`` and ``"nsigma"`` the one |z|; ``"random"``
    uniform draws. :func:`explain`'s window scores are these rows aggregated: the mean
    for the noise z, the mean of the :data:`BURST_STEPS` largest for the innovation z,
    the maximum for BARO's and N-sigma's z. Ranking each labelled step by these is the
    per-step protocol of the interpretation benchmarks (HitRate@P % as the public
    evaluation code of TranAD and its successors computes it); the table is also a heat
    map of the incident.

    Metrics that held one value throughout training come last, as columns that are
    ``inf`` at the steps where they are off that value (and off their recent median) and
    0 elsewhere (every method but ``"random"``, as in :func:`explain`); only those that
    move somewhere in the window are listed.

    Parameters
    ----------
    model : CausalDetector
        A fitted :class:`~faultgraph.detect.CausalDetector`, as for :func:`explain`.
    data : pandas.DataFrame
        Metrics in time order, covering the window, as for :func:`explain`.
    window : tuple
        ``(start, end)`` in the data's index (inclusive), as for :func:`explain`; it may
        be a single step.
    target : str, optional
        The symptom, as for :func:`explain` (default: the metric that moved and deviates
        most in robust z over the window); it changes only the scores of ``"causal"`` and
        ``"causal+nsigma"``.
    method : str, optional
        One of :data:`METHODS`; default as for :func:`explain`.
    reference_window : int, optional
        Steps before the window that give its recent normal, as for :func:`explain`.
    random_state : int or numpy.random.Generator or None, default None
        Seed of the draws of ``"random"``.
    ensemble : ContextEnsemble, optional
        For the ``"context"`` methods: each step's ``|F|`` part averaged over these
        graphs' equations (:func:`faultgraph.rca.context.context_ensemble`), as for
        :func:`explain`.
    scales : {"calibrated", "model"}, optional
        The residual and innovation scales, as for :func:`explain`.

    Returns
    -------
    pandas.DataFrame
        Indexed by the window's steps, one column per metric of the model, then (but for
        ``"random"``) one per training-constant metric that moves in the window.

    Raises
    ------
    InvalidInputError
        As :func:`explain` (its checks of ``model``, ``method``, ``scales``, ``data``,
        ``window``, ``target`` and ``reference_window``).
    NotFittedError
        When ``model`` is not fitted.

    Warns
    -----
    UserWarning
        Without ``method``, for a model saved before faultgraph kept innovations (ranked
        with ``"causal+nsigma"``).
    """
    method = _checked_method(model, method)
    _check_ensemble(model, method, ensemble)
    terms = _window_terms(model, data, window, target, method, 1, reference_window, ensemble, scales)
    p = {k: np.abs(v) for k, v in terms.parts.items()}
    if terms.context:
        p["context"] = np.mean([np.abs(c) for c in terms.context], axis=0)
    weight = (_effect_weight(effects_into(summary_graph(model), terms.target), terms.target)
              if _WEIGHTED in SCORE_PARTS[method] else None)
    score = _method_score(method, p, weight, random_state,
                          summary_graph(model) if method == RcaMethod.MECHANISM else None)
    columns = list(terms.names)
    if method != "random":
        names, _, _, off_all = _constant_departures(model, terms.data, terms.settled)
        off = off_all[terms.mask]
        moved = np.flatnonzero(off.any(axis=0))
        score = np.hstack([score, np.where(off[:, moved], np.inf, 0.0)])
        columns += [names[j] for j in moved]
    return pd.DataFrame(score, index=terms.data.index[terms.mask], columns=columns)


def explain(
    model: CausalDetector,
    data: pd.DataFrame,
    window: tuple[Any, Any],
    target: str | None = None,
    *,
    method: Method | None = None,
    services: Mapping[str, str] | Callable[[str], str] | None = None,
    n_paths: int = DEFAULTS.n_paths,
    min_steps: int = DEFAULTS.min_steps,
    reference_window: int | None = None,
    random_state: int | np.random.Generator | None = None,
    ensemble: ContextEnsemble | None = None,
    scales: Literal["calibrated", "model"] | None = None,
) -> Explanation:
    """Rank the metrics (and services) that most likely caused the anomaly in ``window``.

    Parameters
    ----------
    model : CausalDetector
        A fitted :class:`~faultgraph.detect.CausalDetector` (normal behaviour).
    data : pandas.DataFrame
        Metrics in time order, covering the window; rows before the window give the
        lagged equations their past, the recent normal and the onsets' history. Only those
        rows (the recent normal, or :data:`ONSET_LOOKBACK` steps if more) and the window
        are read (a few more at each edge for filling gaps): a long history costs nothing
        more.
    window : tuple
        ``(start, end)`` in the data's index (inclusive). On a time index a bound may be a
        time or a number of Unix seconds (milliseconds above 1e12).
    target : str, optional
        The symptom (an SLO metric, say); default: the metric that deviates most in robust
        z (median/IQR of training) in the window among those that moved there (a metric
        flat over the window and the step before it is never chosen while another moved).
    method : str, optional
        One of :data:`METHODS` (see the module docstring); default :data:`DEFAULT_METHOD`,
        or ``"causal+nsigma"`` with a warning for a model saved before faultgraph kept
        innovations.
    services : Mapping of str to str or callable, optional
        Metric → service, as a mapping (metrics it lacks fall back to
        :func:`default_service`) or a function; default :func:`default_service`.
    n_paths : int, default 5
        How many top causes get a propagation path, >= 0.
    min_steps : int, default 3
        The fewest steps a window may hold.
    reference_window : int, optional
        How many steps before the window give its recent normal (:func:`recent_normal`;
        at least :data:`MIN_REFERENCE`); default the model's ``drift_window`` (360 steps
        unless set at fit; :data:`MIN_REFERENCE` if that is shorter), ``0`` to compare with
        the training period alone, as does a model fitted with ``drift_window=0``. Fewer
        than :data:`MIN_REFERENCE` steps before the window: the training period alone
        (those steps still give a metric constant in training the level it moves from).
    random_state : int or numpy.random.Generator or None, default None
        Seed of the order of ``"random"``.
    ensemble : ContextEnsemble, optional
        For ``"context"`` and ``"context+innovation+nsigma"``: the graphs whose equations
        give the context part, each metric's ``|F|`` averaged over them
        (:func:`faultgraph.rca.context.context_ensemble`); default the model's one graph.
    scales : {"calibrated", "model"}, optional
        Default :data:`DEFAULT_SCALES`. ``"calibrated"``: no residual or innovation scale below :data:`RANK_SCALE_FLOOR` of
        the metric's own robust variation, and near-deterministic equations set aside, their
        metrics ranked on their own deviation (listed in :attr:`Explanation.flagged`);
        ``"model"``: the model's scales as fitted (:func:`ranking_scales`).

    Returns
    -------
    Explanation
        The causes best first (training-constant metrics that moved lead, except for
        ``"random"``), the services ranked by their best cause, the symptom, the window's
        first and last step, the recent normal it was compared with, and the scales used.

    Raises
    ------
    InvalidInputError
        When ``model`` is not a :class:`~faultgraph.detect.CausalDetector`, ``method`` is
        not one of :data:`METHODS` (or ``scales`` of :data:`SCALES`), ``services`` is neither a mapping nor callable,
        ``n_paths`` is not an integer >= 0, ``reference_window`` is neither 0 nor a whole
        number >= :data:`MIN_REFERENCE`, ``data`` is not a DataFrame or its index is not
        increasing, ``window`` is not a ``(start, end)`` pair, start not after end, inside
        the data with at least ``min_steps`` steps (or its bounds do not fit the index:
        row numbers on a time index, say), ``target`` is not a metric of the model, or
        the rows read cannot be encoded (a gap too long to fill, say).
    NotFittedError
        When ``model`` is not fitted.

    Warns
    -----
    UserWarning
        Without ``method``, for a model saved before faultgraph kept innovations (ranked
        with ``"causal+nsigma"``).
    """
    method = _checked_method(model, method)
    if services is not None and not (callable(services) or isinstance(services, Mapping)):
        raise InvalidInputError(f"services must be a mapping metric -> service or a function, "
                                f"got {type(services).__name__}")
    if isinstance(n_paths, bool) or not isinstance(n_paths, (int, np.integer)) or n_paths < 0:
        raise InvalidInputError(f"n_paths must be an integer >= 0, got {n_paths!r}")
    _check_ensemble(model, method, ensemble)
    scales = DEFAULT_SCALES if scales is None else check_choice("scales", scales, SCALES)
    start = time.perf_counter()
    terms = _window_terms(model, data, window, target, method, min_steps, reference_window, ensemble, scales)
    data, mask, reference, names, parts, t = (terms.data, terms.mask, terms.reference, terms.names, terms.parts,
                                              terms.target)
    noise_z = np.abs(parts["noise"]).mean(axis=0)
    innovation = (burst(np.abs(parts["innovation"])) if "innovation" in parts else np.full(len(names), np.nan))
    marginal = np.abs(parts["marginal"]).max(axis=0)
    nsigma = np.abs(parts["nsigma"]).max(axis=0)
    onsets = _onsets(terms.broken > ONSET_Z, terms.broken > ONSET_TRACE_Z, mask, data.index)
    W = summary_graph(model)
    effect = effects_into(W, t)
    context = (np.mean([np.abs(c.mean(axis=0)) for c in terms.context], axis=0) if terms.context
               else np.zeros(len(names)))
    score = _method_score(method, {"noise": noise_z, "innovation": innovation, "marginal": marginal,
                                   "nsigma": nsigma, "context": context}, _effect_weight(effect, t), random_state, W,
                          int(mask.sum()))
    order = np.argsort(-score, kind="stable")
    to_service = services if callable(services) else (
        (lambda m: services.get(m, default_service(m))) if services is not None else default_service)
    causes, unseen = [], ()
    for rank, i in enumerate(order):
        path: list[str] = []
        if rank < n_paths:
            if i != t:
                path = [names[v] for v in strongest_path(W, int(i), t)]
            if not path:  # the symptom itself, or no path to it: show where it spread
                reach = np.flatnonzero(effects_into(W.T, int(i)))
                reach = reach[reach != i]
                if reach.size:
                    j = int(reach[np.argmax(marginal[reach])])
                    path = [names[v] for v in strongest_path(W, int(i), j)]
                path = path or [names[i]]
        causes.append(Cause(names[i], to_service(names[i]), float(score[i]), float(noise_z[i]), float(effect[i]),
                            tuple(path), float(innovation[i]), float(nsigma[i]), onset=onsets[i][0],
                            onset_censored=onsets[i][1]))
    if method != "random":  # chance stays chance
        moved, unseen = _moved_constants(model, data, mask, terms.settled, to_service)
        causes = moved + causes
    best: dict[str, float] = {}
    for c in causes:
        best.setdefault(c.service, c.score)
    span = (data.index[reference.start], data.index[reference.stop - 1]) if reference is not None else None
    index = data.index[mask]
    model_flags = getattr(model, "flagged_", {}) or {}
    caveats = tuple((c.metric, str(model_flags[c.metric])) for c in causes[:CAVEAT_TOP] if c.metric in model_flags)
    caveats += tuple((m, why) for m, why in unseen if m in {c.metric for c in causes[:CAVEAT_TOP]})
    caveats = _flat_symptom(data, mask, names[t], target is not None, caveats)
    return Explanation(tuple(causes), names[t], (index[0], index[-1]), method,
                       tuple(sorted(best.items(), key=lambda kv: -kv[1])), time.perf_counter() - start, span,
                       terms.reference_window, tuple(terms.flagged.items()), caveats, scales)
