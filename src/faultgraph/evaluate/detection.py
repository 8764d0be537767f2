"""Detection metrics for time series, measured the way the critics of this field ask.

Point-wise scores at a given threshold; the best F1 over all thresholds, both
unadjusted and with *point adjustment* (PA: a labelled segment counts as found when any
of its points is flagged, which inflates scores and is reported only beside the
unadjusted number); ROC-AUC and PR-AUC of the raw scores; event-wise recall (the
share of labelled segments hit) and the mean detection delay (steps from a segment's
start to its first flagged point).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from faultgraph.errors import InvalidInputError
from faultgraph.evaluate.classification import (
    _labels,
    _scores,
    best_f1_threshold,
    classification_scores,
    pr_auc,
    roc_auc,
)

__all__ = ["DetectionReport", "detection_report", "label_segments", "point_adjust"]


def label_segments(labels: np.ndarray) -> list[tuple[int, int]]:
    """The runs of 1s in a 0/1 (or boolean) vector, as ``(start, end)`` pairs.

    Parameters
    ----------
    labels : (n,) array-like of 0/1 or bool
        The labels, one per step; may be empty.

    Returns
    -------
    list of tuple of (int, int)
        One ``(start, end)`` per run, ``end`` inclusive, in order; empty when there are no 1s.

    Raises
    ------
    InvalidInputError
        When ``labels`` is not 1-D (or a single column) or holds values other than 0 and 1.
    """
    y = _labels(labels, "labels").astype(np.int8) if np.size(labels) else np.zeros(0, dtype=np.int8)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], y, [0]])))
    return [(int(s), int(e) - 1) for s, e in zip(edges[::2], edges[1::2])]


def _paired(labels: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``labels`` and ``score`` checked as one 0/1 label and one finite score per step."""
    y = _labels(labels, "labels")
    if np.size(score) != y.size:
        raise InvalidInputError(f"labels and score must have the same length, got {y.size} and {np.size(score)}")
    return y, _scores(score, y.size)


def point_adjust(labels: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Scores under point adjustment (PA, Xu et al. 2018).

    Inside each labelled segment every point takes the segment's maximum score, so that
    ``adjusted >= t`` flags the whole segment exactly when the raw score crosses ``t``
    anywhere in it. Points outside the segments keep their score. PA inflates detection
    scores and is reported only beside the unadjusted number.

    Parameters
    ----------
    labels : (n,) array-like of 0/1 or bool
        The labels, one per step; only 0 and 1.
    score : (n,) array-like of float
        The raw scores, one finite value per step. Not modified.

    Returns
    -------
    (n,) ndarray of float
        The adjusted scores (a new array).

    Raises
    ------
    InvalidInputError
        When ``labels`` is empty or holds values other than 0 and 1, when ``labels`` and
        ``score`` differ in length, or when ``score`` holds NaN or infinite values.
    """
    y, out = _paired(labels, score)
    out = out.copy()
    for s, e in label_segments(y):
        out[s : e + 1] = out[s : e + 1].max()
    return out


@dataclass(frozen=True)
class DetectionReport:
    """Every detection number for one series.

    ``precision``/``recall``/``f1`` are point-wise at ``threshold`` (label-free, chosen
    without the labels); ``best_f1`` is the best unadjusted F1 over all thresholds and
    ``best_f1_pa`` the same with point adjustment (labelled as such: it flatters).
    ``event_recall``: labelled segments with at least one flagged point, at
    ``threshold``; ``mean_delay``: mean steps from a segment's start to its first flag
    over the segments found (NaN if none). ``roc_auc`` is NaN when the labels hold one
    class only, ``pr_auc`` and ``event_recall`` when they hold no positives.
    """

    threshold: float
    precision: float
    recall: float
    f1: float
    best_f1: float
    best_f1_pa: float
    roc_auc: float
    pr_auc: float
    event_recall: float
    mean_delay: float
    n_events: int

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def detection_report(labels: np.ndarray, score: np.ndarray, threshold: float) -> DetectionReport:
    """Every number of :class:`DetectionReport` for ``score`` against the 0/1 ``labels``.

    Point-wise precision, recall and F1 of ``score >= threshold``; the best unadjusted F1
    over all thresholds and the best F1 after :func:`point_adjust`; ROC-AUC and PR-AUC of
    the raw scores; event recall (labelled segments with at least one flagged point) and
    the mean delay in steps from a segment's start to its first flagged point.

    Parameters
    ----------
    labels : (n,) array-like of 0/1 or bool
        The labels, one per step; only 0 and 1.
    score : (n,) array-like of float
        The anomaly scores, one finite value per step.
    threshold : float
        The alarm threshold, chosen without the labels; ``±inf`` is allowed (flag nothing
        or everything), NaN is not.

    Returns
    -------
    DetectionReport
        The scores; see :class:`DetectionReport` for which are NaN when undefined.

    Raises
    ------
    InvalidInputError
        When ``labels`` is empty or holds values other than 0 and 1, when ``labels`` and
        ``score`` differ in length, when ``score`` holds NaN or infinite values, or when
        ``threshold`` is not a number (or is NaN or a bool).
    """
    y, s = _paired(labels, score)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.integer, np.floating)) \
            or np.isnan(threshold):
        raise InvalidInputError(f"threshold must be a number (not NaN), got {threshold!r}")
    flagged = s >= threshold
    point = classification_scores(y, flagged.astype(float), s)
    _, best = best_f1_threshold(y, s)
    _, best_pa = best_f1_threshold(y, point_adjust(y, s))
    segments = label_segments(y)
    delays = []
    for start, end in segments:
        hits = np.flatnonzero(flagged[start : end + 1])
        if hits.size:
            delays.append(int(hits[0]))
    return DetectionReport(
        threshold=float(threshold), precision=point.precision, recall=point.recall, f1=point.f1,
        best_f1=best, best_f1_pa=best_pa, roc_auc=roc_auc(y, s), pr_auc=pr_auc(y, s),
        event_recall=len(delays) / len(segments) if segments else float("nan"),
        mean_delay=float(np.mean(delays)) if delays else float("nan"), n_events=len(segments),
    )
