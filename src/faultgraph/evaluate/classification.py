"""Detection metrics on 0/1 labels: precision, recall, F1, ROC-AUC and PR-AUC."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.stats import rankdata

from faultgraph._validation import describe_names
from faultgraph.errors import InvalidInputError

__all__ = ["ClassificationScores", "best_f1_threshold", "classification_scores", "pr_auc", "roc_auc",
           "table1"]


def _values(values: Any) -> str:
    """Up to five distinct values of ``values``, for a message."""
    try:
        distinct = list(dict.fromkeys(map(repr, np.asarray(values, dtype=object).ravel().tolist())))
    except (TypeError, ValueError):  # ragged
        return repr(values)[:80]
    return describe_names(distinct, 5, show=str)


def _vector(values: Any, name: str, what: str) -> np.ndarray:
    """``values`` as a float vector: 1-D, or one column (or row); more columns are refused,
    not flattened (one label or score per row of the data)."""
    try:
        v = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{name} must hold {what}, got {_values(values)}") from None
    if v.ndim > 1 and sorted(v.shape)[-2] > 1:
        raise InvalidInputError(f"{name} must be one value per row (1-D, or a single column), got shape {v.shape}")
    return v.ravel()


def _labels(y_true: np.ndarray | Sequence[float], name: str = "y_true") -> np.ndarray:
    y = _vector(y_true, name, "only 0 and 1 (or booleans)")
    if y.size == 0:
        raise InvalidInputError(f"{name} is empty")
    bad = ~np.isin(y, (0.0, 1.0))
    if bad.any():
        raise InvalidInputError(f"{name} must hold only 0 and 1 (or booleans), got {_values(y[bad])}")
    return y


def _scores(score: np.ndarray | Sequence[float], n: int, name: str = "score") -> np.ndarray:
    s = _vector(score, name, "numbers")
    if s.shape != (n,):
        raise InvalidInputError(f"{name} must have one value per label ({n}), got {s.size}")
    if not np.isfinite(s).all():
        raise InvalidInputError(f"{name} has NaN or infinite values")
    return s


def roc_auc(y_true: np.ndarray | Sequence[float], score: np.ndarray | Sequence[float]) -> float:
    """Area under the ROC curve of ``score`` against the 0/1 labels ``y_true``.

    The probability that a random positive outranks a random negative (ties count half),
    computed by the Mann–Whitney rank formula
    ``(Σ ranks of positives − n₊(n₊+1)/2) / (n₊ n₋)``.

    Parameters
    ----------
    y_true : (n,) array-like of 0/1 or bool
        The labels, one per row (a single column or row is accepted); only 0 and 1.
    score : (n,) array-like of float
        The continuous score, one finite value per label; higher means more anomalous.

    Returns
    -------
    float
        The area in ``[0, 1]``, or NaN (not an error) when ``y_true`` holds one class only:
        the area is then undefined.

    Raises
    ------
    InvalidInputError
        When ``y_true`` is empty, is not 1-D or holds values other than 0 and 1; when
        ``score`` has not one value per label or holds NaN or infinite values.
    """
    y = _labels(y_true)
    s = _scores(score, y.size)
    n_pos, n_neg = y.sum(), y.size - y.sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(s)
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def pr_auc(y_true: np.ndarray | Sequence[float], score: np.ndarray | Sequence[float]) -> float:
    """Area under the precision–recall curve, as average precision.

    ``AP = Σ_k (R_k − R_{k−1}) P_k`` over the distinct thresholds (tied scores form one
    threshold), with ``P_k`` and ``R_k`` the precision and recall of ``score >= s_k``.

    Parameters
    ----------
    y_true : (n,) array-like of 0/1 or bool
        The labels, one per row; only 0 and 1.
    score : (n,) array-like of float
        The continuous score, one finite value per label; higher means more anomalous.

    Returns
    -------
    float
        The average precision in ``[0, 1]``, or NaN (not an error) when ``y_true`` has no
        positives: the area is then undefined.

    Raises
    ------
    InvalidInputError
        When ``y_true`` is empty, is not 1-D or holds values other than 0 and 1; when
        ``score`` has not one value per label or holds NaN or infinite values.
    """
    y = _labels(y_true)
    s = _scores(score, y.size)
    if y.sum() == 0:
        return float("nan")
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    tp = np.cumsum(y_sorted)
    last = np.r_[np.flatnonzero(np.diff(s_sorted)), y.size - 1]  # end of each tie group
    tp, k = tp[last], last + 1
    precision, recall = tp / k, tp / y.sum()
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def best_f1_threshold(y_true: np.ndarray | Sequence[float], score: np.ndarray | Sequence[float]) -> tuple[float, float]:
    """The threshold ``t`` maximising the F1 of ``score >= t``, and that F1.

    Every distinct value of ``score`` is tried as a threshold (unadjusted, point-wise F1;
    see :func:`faultgraph.evaluate.point_adjust` for the adjusted variant).

    Parameters
    ----------
    y_true : (n,) array-like of 0/1 or bool
        The labels, one per row; only 0 and 1.
    score : (n,) array-like of float
        The continuous score, one finite value per label.

    Returns
    -------
    tuple of (float, float)
        ``(threshold, f1)``; ``(inf, 0.0)`` when ``y_true`` has no positives.

    Raises
    ------
    InvalidInputError
        When ``y_true`` is empty, is not 1-D or holds values other than 0 and 1; when
        ``score`` has not one value per label or holds NaN or infinite values.
    """
    y = _labels(y_true)
    s = _scores(score, y.size)
    if y.sum() == 0:
        return float(np.inf), 0.0
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    tp = np.cumsum(y_sorted)
    last = np.r_[np.flatnonzero(np.diff(s_sorted)), y.size - 1]
    tp, k = tp[last], last + 1
    f1 = 2 * tp / (k + y.sum())
    best = int(np.argmax(f1))
    return float(s_sorted[last[best]]), float(f1[best])


@dataclass(frozen=True)
class ClassificationScores:
    """Point-wise detection scores; ``roc_auc`` and ``pr_auc`` are NaN when not given a score, ``roc_auc``
    also when the labels hold one class only and ``pr_auc`` when they hold no positives."""

    precision: float
    recall: float
    f1: float
    roc_auc: float
    pr_auc: float
    n: int
    n_positive: int

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def classification_scores(
    y_true: np.ndarray | Sequence[float],
    y_pred: np.ndarray | Sequence[float],
    score: np.ndarray | Sequence[float] | None = None,
) -> ClassificationScores:
    """Precision, recall and F1 of 0/1 decisions, and ROC-AUC and PR-AUC of a score.

    Precision, recall and F1 are 0 where undefined (no predicted or no true positives).
    ROC-AUC and PR-AUC are those of :func:`roc_auc` and :func:`pr_auc` on ``score``, NaN
    when ``score`` is not given.

    Parameters
    ----------
    y_true : (n,) array-like of 0/1 or bool
        The labels, one per row; only 0 and 1.
    y_pred : (n,) array-like of 0/1 or bool
        The decisions (1 = anomalous), one per label; only 0 and 1.
    score : (n,) array-like of float, optional
        The continuous score behind the decisions, one finite value per label.

    Returns
    -------
    ClassificationScores
        Precision, recall, F1, ROC-AUC, PR-AUC, the number of labels and of positives.

    Raises
    ------
    InvalidInputError
        When ``y_true`` or ``y_pred`` is empty, not 1-D or holds values other than 0 and 1,
        when their lengths differ, or when ``score`` has not one finite value per label.
    """
    y = _labels(y_true)
    p = _labels(y_pred, "y_pred")
    if p.shape != y.shape:
        raise InvalidInputError(f"y_pred must have one value per label ({y.size}), got {p.size}")
    if score is not None:
        score = _scores(score, y.size)
    tp = float(np.sum((y == 1) & (p == 1)))
    precision = tp / p.sum() if p.sum() else 0.0
    recall = tp / y.sum() if y.sum() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    auc = roc_auc(y, score) if score is not None else float("nan")
    ap = pr_auc(y, score) if score is not None else float("nan")
    return ClassificationScores(precision, recall, f1, auc, ap, int(y.size), int(y.sum()))


def _auc_cell(s: ClassificationScores) -> str:
    if not np.isnan(s.roc_auc):
        return f"{s.roc_auc:.2f}"
    return "n/a (one class)" if s.n_positive in (0, s.n) else "n/a"


def table1(rows: dict[str, ClassificationScores]) -> str:
    """A Markdown table in the layout of the paper's Table 1.

    Columns: Method | F1-score | AUC | Recall | Precision, one row per entry of ``rows`` in
    its order, values to two decimals. AUC reads ``n/a (one class)`` where the labels hold
    one class only, ``n/a`` where no score was given.

    Parameters
    ----------
    rows : dict of str to ClassificationScores
        Method name → its scores (from :func:`classification_scores`).

    Returns
    -------
    str
        The table, lines joined by newlines (no trailing newline).

    Raises
    ------
    InvalidInputError
        When ``rows`` is not a dict or one of its values is not a ``ClassificationScores``.
    """
    if not isinstance(rows, dict):
        raise InvalidInputError(f"rows must be a dict of method name -> ClassificationScores, "
                                f"got {type(rows).__name__}")
    for name, s in rows.items():
        if not isinstance(s, ClassificationScores):
            raise InvalidInputError(f"rows[{name!r}] must be a ClassificationScores (from classification_scores), "
                                    f"got {type(s).__name__} {s!r}")
    lines = ["| Method | F1-score | AUC | Recall | Precision |", "|---|---|---|---|---|"]
    for name, s in rows.items():
        lines.append(f"| {name} | {s.f1:.2f} | {_auc_cell(s)} | {s.recall:.2f} | {s.precision:.2f} |")
    return "\n".join(lines)
