"""The field's simple root-cause baselines, as published, on plain frames (issue 17).

Each is a function ``(normal, anomalous, ...) -> BaselineRanking``: ``normal`` holds the
metrics in normal operation (the training period, or the recent normal before an
incident), ``anomalous`` the same metrics during the incident; both are frames with the
same columns. They need no fitted model, so a benchmark can run them beside
:func:`faultgraph.rca.explain` on the same cases.

* :func:`z_shift`: each metric's mean shift in the anomalous period, in standard
  deviations of the normal period, ``|mean(anomalous) - mean(normal)| / sd(normal)``.
* :func:`ranked_correlation`: the PetShop paper's *ranked correlation* (Hardt et al.,
  "The PetShop Dataset — Finding Causes of Performance Issues across Microservices",
  2024): the metrics that are anomalous in the incident (a median-deviation score above
  ``threshold``), ranked by the p-value of their Pearson correlation with the target
  (the symptom) over the anomalous period, smallest first.
* :func:`traversal`: the PetShop paper's *traversal*: walk a causal graph (for a
  microservice system, the call graph reversed: a callee's trouble reaches its callers)
  and keep the anomalous nodes with no anomalous parent that reach the target through
  anomalous nodes only; each scored by the largest sum of anomaly scores along such a path.

The published methods return only their candidates; a benchmark needs a full ranking,
so every metric is ranked: the candidates first, in the published order, then the others
by their anomaly score (the order is stated in each function). The anomaly score of a
metric is its largest median-deviation score ``|x - median| / MAD`` over the anomalous
rows, with the median and the (unscaled) median absolute deviation of the normal period,
as the PetShop harness's default detector; a metric whose MAD is 0 falls back to its
standard deviation, and one constant in the normal period to its absolute change with a
threshold of 0 (any departure is anomalous), as the harness does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from faultgraph.errors import InvalidInputError

__all__ = ["ANOMALY_THRESHOLD", "BASELINES", "BaselineRanking", "anomaly_scores", "ranked_correlation", "traversal",
           "trigger_row", "z_shift"]

#: The median-deviation score above which a metric counts as anomalous (the PetShop
#: harness's default, ``MedianDeviationScorer`` at 5).
ANOMALY_THRESHOLD = 5.0


@dataclass(frozen=True)
class BaselineRanking:
    """Every metric ranked by one baseline, most likely cause first.

    Attributes:
        method: the baseline's name.
        metrics: the metrics, most likely cause first.
        scores: each metric's score (higher ranks first among the candidates; see the
            baseline's docstring for what it measures).
        target: the symptom the ranking is about (``None`` where the method has none).
        candidates: how many of the first ``metrics`` are the method's own candidates (the
            published output); the rest follow in the fallback order.
    """

    method: str
    metrics: tuple[str, ...]
    scores: tuple[float, ...] = field(repr=False)
    target: str | None = None
    candidates: int = 0

    def top(self, k: int = 1) -> list[str]:
        """The first ``k`` metrics.

        Parameters
        ----------
        k : int, default 1
            How many.

        Returns
        -------
        list of str
        """
        return list(self.metrics[:k])

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (non-finite scores become ``None``)."""
        return {"method": self.method, "target": self.target, "candidates": self.candidates,
                "ranking": [{"metric": m, "score": float(s) if np.isfinite(s) else None}
                            for m, s in zip(self.metrics, self.scores)]}

    def __str__(self) -> str:
        head = ", ".join(f"{m} ({s:.3g})" for m, s in zip(self.metrics[:5], self.scores[:5]))
        return f"{self.method}: {head}" + (" …" if len(self.metrics) > 5 else "")


def _frames(normal: Any, anomalous: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Check the two periods: frames with the same columns, numbers only; the anomalous
    one non-empty and the normal one with at least 2 rows."""
    for name, frame in (("normal", normal), ("anomalous", anomalous)):
        if not isinstance(frame, pd.DataFrame):
            raise InvalidInputError(f"{name} must be a DataFrame of metrics, got {type(frame).__name__}")
    if list(normal.columns) != list(anomalous.columns):
        missing = [c for c in normal.columns if c not in anomalous.columns]
        raise InvalidInputError("normal and anomalous must have the same columns in the same order; "
                                f"anomalous lacks {missing[:5]}" if missing else
                                "normal and anomalous must have the same columns in the same order")
    if normal.shape[1] == 0:
        raise InvalidInputError("normal has no columns: there is nothing to rank")
    if len(normal) < 2:
        raise InvalidInputError(f"normal must have at least 2 rows, got {len(normal)}")
    if len(anomalous) == 0:
        raise InvalidInputError("anomalous has no rows: give the incident's rows")
    try:
        return normal.astype(float), anomalous.astype(float)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"normal and anomalous must hold numbers ({exc})") from None


def _target(target: str | None, columns: pd.Index, scores: np.ndarray) -> int:
    """The target's column number; ``None``: the metric with the largest anomaly score."""
    if target is None:
        return int(np.argmax(np.nan_to_num(scores, nan=-np.inf)))
    if target not in columns:
        raise InvalidInputError(f"target {target!r} is not a column of the data; give one of its "
                                f"{len(columns)} metrics or None (the most anomalous)")
    return int(columns.get_loc(target))


def _ranking(method: str, columns: pd.Index, order: Sequence[int], scores: np.ndarray, target: int | None,
             candidates: int) -> BaselineRanking:
    return BaselineRanking(method, tuple(str(columns[i]) for i in order), tuple(float(scores[i]) for i in order),
                           None if target is None else str(columns[target]), candidates)


def _deviation_scores(normal: pd.DataFrame, anomalous: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each anomalous row's median-deviation score per metric (NaN where missing) and each
    metric's limit (:data:`ANOMALY_THRESHOLD`, or 0 for a metric constant in the normal period)."""
    N, A = normal.to_numpy(), anomalous.to_numpy()
    S, limits = np.full(A.shape, np.nan), np.full(A.shape[1], np.inf)
    for j in range(N.shape[1]):
        n = N[:, j][~np.isnan(N[:, j])]
        if n.size == 0:
            continue
        median = np.median(n)
        mad = np.median(np.abs(n - median))
        if mad > 0:
            S[:, j], limits[j] = np.abs(A[:, j] - median) / mad, ANOMALY_THRESHOLD
        elif n.std() > 0:
            S[:, j], limits[j] = np.abs(A[:, j] - n.mean()) / n.std(), ANOMALY_THRESHOLD
        else:  # constant in the normal period: any departure
            S[:, j], limits[j] = np.abs(A[:, j] - n.mean()), 0.0
    return S, limits


def trigger_row(normal: pd.DataFrame, anomalous: pd.DataFrame, target: str | None = None) -> int:
    """The row the PetShop harness analyses: the first row from the third on (position 2)
    where ``target`` is anomalous, else the third (the last if there are fewer).

    Parameters
    ----------
    normal : DataFrame
        The normal period, one column per metric.
    anomalous : DataFrame
        The anomalous period, the same metrics.
    target : str, optional
        The symptom; default the metric with the largest anomaly score.

    Returns
    -------
    int
        The row's position in ``anomalous``.

    Raises
    ------
    InvalidInputError
        When the two periods do not hold the same numeric metrics, or ``target`` is not
        one of them.
    """
    normal, anomalous = _frames(normal, anomalous)
    S, limits = _deviation_scores(normal, anomalous)
    t = _target(target, normal.columns, anomaly_scores(normal, anomalous)[0])
    first = min(2, len(anomalous) - 1)
    hits = np.flatnonzero(np.nan_to_num(S[first:, t], nan=-np.inf) > limits[t])
    return int(first + hits[0]) if hits.size else first


def anomaly_scores(normal: pd.DataFrame, anomalous: pd.DataFrame, row: int | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Each metric's largest median-deviation score over the anomalous rows (``row``: at
    that row only, as the PetShop harness does, see :func:`trigger_row`), and whether it is
    anomalous (above :data:`ANOMALY_THRESHOLD`; for a metric constant in the normal period,
    above 0). Missing values are left out; a metric with none in a period scores 0.

    Parameters
    ----------
    normal : DataFrame
        The normal period, one column per metric.
    anomalous : DataFrame
        The anomalous period, the same metrics.
    row : int, optional
        Score at this row of ``anomalous`` only; default the largest over its rows.

    Returns
    -------
    tuple of (ndarray, ndarray)
        ``(scores, anomalous)``: two arrays of length ``d``.

    Raises
    ------
    InvalidInputError
        When the two periods do not hold the same numeric metrics, or ``row`` is not a
        position in ``anomalous``.
    """
    normal, anomalous = _frames(normal, anomalous)
    if row is not None:
        if isinstance(row, bool) or not isinstance(row, (int, np.integer)) or not 0 <= row < len(anomalous):
            raise InvalidInputError(f"row must be a position in anomalous, 0 to {len(anomalous) - 1}, got {row!r}")
        S, limits = _deviation_scores(normal, anomalous)
        scores = np.nan_to_num(S[int(row)], nan=0.0)
        return scores, scores > limits
    N, A = normal.to_numpy(), anomalous.to_numpy()
    scores, flags = np.zeros(N.shape[1]), np.zeros(N.shape[1], dtype=bool)
    for j in range(N.shape[1]):
        n, a = N[:, j][~np.isnan(N[:, j])], A[:, j][~np.isnan(A[:, j])]
        if n.size == 0 or a.size == 0:
            continue
        median = np.median(n)
        mad = np.median(np.abs(n - median))
        if mad > 0:
            s, limit = np.abs(a - median) / mad, ANOMALY_THRESHOLD
        elif n.std() > 0:
            s, limit = np.abs(a - n.mean()) / n.std(), ANOMALY_THRESHOLD
        else:  # constant in the normal period: any departure
            s, limit = np.abs(a - n.mean()), 0.0
        scores[j], flags[j] = float(s.max()), bool(s.max() > limit)
    return scores, flags


def z_shift(normal: pd.DataFrame, anomalous: pd.DataFrame, target: str | None = None,
            graph: Any = None) -> BaselineRanking:
    """Rank metrics by their mean shift in normal-period standard deviations.

    ``score_j = |mean(anomalous_j) - mean(normal_j)| / sd(normal_j)`` (population sd;
    a metric constant in the normal period that moves scores ``inf``, one that does not
    move ``0``). Ties keep the column order.

    Parameters
    ----------
    normal : DataFrame
        The normal period, one column per metric.
    anomalous : DataFrame
        The anomalous period, the same metrics.
    target : str, optional
        Accepted for the baselines' common signature; not used.
    graph : optional
        Accepted for the baselines' common signature; not used.

    Returns
    -------
    BaselineRanking

    Raises
    ------
    InvalidInputError
        When the two periods do not hold the same numeric metrics.
    """
    normal, anomalous = _frames(normal, anomalous)
    shift = np.abs(anomalous.mean().to_numpy() - normal.mean().to_numpy())
    sd = normal.std(ddof=0).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(sd > 0, shift / np.where(sd > 0, sd, 1.0), np.where(shift > 0, np.inf, 0.0))
    score = np.nan_to_num(score, nan=0.0, posinf=np.inf)
    order = np.argsort(-score, kind="stable")
    return _ranking("z-shift", normal.columns, order, score, None, len(order))


def _pearson_pvalue(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Pearson's r and its two-sided p-value (t test, ``n - 2`` degrees of freedom) over the
    rows where both are present; ``(nan, nan)`` under 3 rows or for a constant series."""
    from scipy import stats

    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    if x.size < 3 or x.std() == 0 or y.std() == 0:
        return float("nan"), float("nan")
    r = float(np.clip(np.corrcoef(x, y)[0, 1], -1.0, 1.0))
    if abs(r) == 1.0:
        return r, 0.0
    t = r * np.sqrt((x.size - 2) / (1 - r * r))
    return r, float(2 * stats.t.sf(abs(t), x.size - 2))


def ranked_correlation(normal: pd.DataFrame, anomalous: pd.DataFrame, target: str | None = None,
                       graph: Any = None, row: int | None = None) -> BaselineRanking:
    """The PetShop paper's ranked correlation.

    Candidates: the metrics other than ``target`` that are anomalous (:func:`anomaly_scores`)
    and whose Pearson correlation with ``target`` over the anomalous rows is defined;
    ranked by its p-value, smallest first (ties: larger ``|r|`` first, then column order).
    Score: ``-log10(p)``. Then, as the fallback order: the target itself (the published
    method leaves it out), then every other metric by its anomaly score. ``target``
    ``None``: the metric with the largest anomaly score.

    Parameters
    ----------
    normal : DataFrame
        The normal period, one column per metric.
    anomalous : DataFrame
        The anomalous period, the same metrics.
    target : str, optional
        The symptom; default the metric with the largest anomaly score.
    graph : optional
        Not used (the common signature).
    row : int, optional
        Decide which metrics are anomalous at this row alone (:func:`anomaly_scores`).

    Returns
    -------
    BaselineRanking

    Raises
    ------
    InvalidInputError
        When the two periods do not hold the same numeric metrics, or ``target`` is not
        one of them.
    """
    normal, anomalous = _frames(normal, anomalous)
    score_a, flags = anomaly_scores(normal, anomalous, row)
    t = _target(target, normal.columns, score_a)
    A = anomalous.to_numpy()
    cand, rs, ps = [], [], []
    for j in np.flatnonzero(flags):
        if j == t:
            continue
        r, p = _pearson_pvalue(A[:, j], A[:, t])
        if np.isfinite(p):
            cand.append(int(j)), rs.append(abs(r)), ps.append(p)
    order = [cand[i] for i in sorted(range(len(cand)), key=lambda i: (ps[i], -rs[i], cand[i]))]
    shown = score_a.astype(float)  # the candidates show -log10(p), the others their anomaly score
    for j, p in zip(cand, ps):
        shown[j] = -np.log10(max(p, 1e-300))
    rest = [j for j in np.argsort(-score_a, kind="stable") if j != t and j not in set(order)]
    full = [*order, t, *rest]
    return _ranking("ranked correlation", normal.columns, full, shown, t, len(order))


def _adjacency(graph: Any, columns: pd.Index) -> np.ndarray:
    """A cause → effect 0/1 matrix over ``columns`` from a square frame (rows cause
    columns), a ``(d, d)`` array in column order, or pairs ``(cause, effect)``; nodes not
    among the columns are ignored."""
    d = len(columns)
    if isinstance(graph, pd.DataFrame):
        frame = graph.reindex(index=columns, columns=columns).fillna(0)
        return (frame.to_numpy(dtype=float) != 0).astype(float)
    if isinstance(graph, np.ndarray):
        if graph.shape != (d, d):
            raise InvalidInputError(f"graph must be a ({d}, {d}) array over the data's metrics, got {graph.shape}")
        return (graph != 0).astype(float)
    if isinstance(graph, (list, tuple, set)) or isinstance(graph, Mapping):
        pairs = graph.items() if isinstance(graph, Mapping) else graph
        A = np.zeros((d, d))
        position = {str(c): i for i, c in enumerate(columns)}
        for pair in pairs:
            if len(pair) != 2:
                raise InvalidInputError(f"graph edges must be (cause, effect) pairs, got {pair!r}")
            a, b = position.get(str(pair[0])), position.get(str(pair[1]))
            if a is not None and b is not None:
                A[a, b] = 1.0
        return A
    raise InvalidInputError("graph must be a square DataFrame (rows cause columns), a (d, d) array or a list of "
                            f"(cause, effect) pairs, got {type(graph).__name__}")


def _best_paths(A: np.ndarray, nodes: np.ndarray, weight: np.ndarray, t: int) -> np.ndarray:
    """For every node of ``nodes`` (the anomalous ones), the largest sum of ``weight`` over
    the nodes of a path to ``t`` inside ``nodes`` (``-inf`` where none); a cycle among them
    counts its strongly connected component once (the component's weights summed)."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    best = np.full(len(weight), -np.inf)
    if t not in set(nodes.tolist()):
        return best
    sub = A[np.ix_(nodes, nodes)]
    n, label = connected_components(csr_matrix(sub), directed=True, connection="strong")
    cw = np.bincount(label, weights=weight[nodes], minlength=n)
    C = np.zeros((n, n), dtype=bool)
    src, dst = np.nonzero(sub)
    C[label[src], label[dst]] = label[src] != label[dst]
    goal = label[list(nodes).index(t)]
    value = np.full(n, -np.inf)
    value[goal] = cw[goal]
    # the condensation is a DAG: relax in reverse topological order (Kahn's order from the goal backwards)
    outdeg = C.sum(axis=1)
    ready = [c for c in range(n) if outdeg[c] == 0]
    done = []
    while ready:
        c = ready.pop()
        done.append(c)
        for p in np.flatnonzero(C[:, c]):
            outdeg[p] -= 1
            if outdeg[p] == 0:
                ready.append(int(p))
    for c in done:
        if c != goal:
            reach = value[np.flatnonzero(C[c])]
            if reach.size and np.max(reach) > -np.inf:
                value[c] = cw[c] + np.max(reach)
    best[nodes] = value[label]
    return best


def traversal(normal: pd.DataFrame, anomalous: pd.DataFrame, target: str | None = None,
              graph: Any = None, row: int | None = None) -> BaselineRanking:
    """The PetShop paper's traversal.

    ``graph``: the causal graph over the metrics (cause → effect; see :func:`_adjacency`
    for the forms accepted; a microservice call graph must be reversed first). The
    anomalous metrics (:func:`anomaly_scores`) with no anomalous parent are the root
    candidates; those with a path to ``target`` through anomalous metrics only are the
    method's output, scored by the largest sum of anomaly scores over the metrics of such
    a path (the target counts as reaching itself), highest first. Then, as the fallback
    order: the other roots, then the other anomalous metrics, then the rest, each by
    anomaly score.

    Parameters
    ----------
    normal : DataFrame
        The normal period, one column per metric.
    anomalous : DataFrame
        The anomalous period, the same metrics.
    target : str, optional
        The symptom; default the metric with the largest anomaly score.
    graph : DataFrame, ndarray or list of pairs
        The causal graph over the metrics (cause → effect), required.
    row : int, optional
        Anomaly scores at this row alone (:func:`anomaly_scores`).

    Returns
    -------
    BaselineRanking

    Raises
    ------
    InvalidInputError
        When ``graph`` is missing or malformed, the two periods do not hold the same numeric metrics, or ``target`` is not
        one of them.
    """
    if graph is None:
        raise InvalidInputError("traversal needs graph: the causal graph over the metrics (cause -> effect)")
    normal, anomalous = _frames(normal, anomalous)
    A = _adjacency(graph, normal.columns)
    np.fill_diagonal(A, 0)
    score_a, flags = anomaly_scores(normal, anomalous, row)
    t = _target(target, normal.columns, score_a)
    nodes = np.flatnonzero(flags)
    roots = [int(j) for j in nodes if not np.any(A[nodes, j])]
    path = _best_paths(A, nodes, score_a, t)
    found = sorted((j for j in roots if path[j] > -np.inf), key=lambda j: (-path[j], j))
    by_score = list(np.argsort(-score_a, kind="stable"))
    seen = set(found)
    other_roots = [j for j in by_score if j in set(roots) and j not in seen]
    seen |= set(other_roots)
    other_anomalous = [j for j in by_score if flags[j] and j not in seen]
    seen |= set(other_anomalous)
    full = [*found, *other_roots, *other_anomalous, *(j for j in by_score if j not in seen)]
    shown = np.array([path[j] if j in set(found) else score_a[j] for j in range(len(score_a))])
    return _ranking("traversal", normal.columns, full, shown, t, len(found))


#: The baselines by name, as the benchmarks call them.
BASELINES = {"z-shift": z_shift, "ranked correlation": ranked_correlation, "traversal": traversal}
